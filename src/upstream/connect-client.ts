import type { ServiceCall } from '../domain/service-call.js';
import { buildHistoryEnvelope } from './envelope.js';
import {
  ConnectError,
  SoapFaultError,
  UpstreamAuthError,
  UpstreamProtocolError,
  UpstreamUnavailableError,
} from './errors.js';
import { HISTORY_ACTION, type HistoryRequest } from './history-request.js';
import { charsetOfContentType, ResponseBody } from './response-text.js';
import { serviceCallDecoder } from './service-call-row.js';

export interface ConnectClientOptions {
  /** The PartnerWebAPI2 endpoint, without credentials in it. */
  url: string;
  login: string;
  password: string;
  /** The upstream's local zone (CONNECT_TIMEZONE). */
  zone: string;
  /** Longest wait for the response headers, and for each next piece of the body. */
  timeoutMs: number;
  /** The HTTP client; tests pass one that cuts bodies where they like. */
  fetch?: typeof fetch;
}

/**
 * The transport of GetHistoryOfServiceCalls: one POST, the body streamed through the decoder.
 * Rows come out in batches as they are decoded; the generator ends normally only when the
 * response was a complete SUCCESS table, and throws a ConnectError otherwise, so a consumer can
 * always tell a complete table from a cut one (and, by `UpstreamProtocolError.complete`, a whole
 * response that cannot be decoded from one that was cut).
 */
export class ConnectClient {
  private readonly authorization: string;
  private readonly endpoint: string;

  constructor(private readonly options: ConnectClientOptions) {
    this.authorization = `Basic ${Buffer.from(`${options.login}:${options.password}`, 'utf8').toString('base64')}`;
    // Only the origin and path ever reach a message.
    const url = new URL(options.url);
    this.endpoint = `${url.origin}${url.pathname}`;
  }

  async *history(request: HistoryRequest, signal?: AbortSignal): AsyncGenerator<ServiceCall[], void, undefined> {
    const deadline = new IdleDeadline(this.options.timeoutMs, signal);
    let responded = false;
    try {
      const response = await this.post(request, deadline);
      responded = true;
      yield* this.decode(response, deadline);
    } catch (error) {
      throw this.withoutSecrets(this.classify(error, deadline, responded));
    } finally {
      deadline.clear();
    }
  }

  /**
   * The error with the API password and the Authorization value taken out of every text in it: the
   * upstream may echo them (a SOAP Fault quoting the request), and its texts reach logs and clients.
   */
  private withoutSecrets<E extends Error>(error: E): E {
    const secrets = [this.authorization.slice('Basic '.length), this.options.password].filter((s) => s.length >= 3);
    const scrub = (text: string): string => secrets.reduce((t, secret) => t.split(secret).join('[redacted]'), text);
    const fields = error as unknown as Record<string, unknown>;
    for (const key of [...Object.keys(fields), 'message']) {
      const value = fields[key];
      if (typeof value === 'string' && secrets.some((secret) => value.includes(secret))) fields[key] = scrub(value);
    }
    return error;
  }

  private async post(request: HistoryRequest, deadline: IdleDeadline): Promise<Response> {
    const response = await (this.options.fetch ?? fetch)(this.options.url, {
      method: 'POST',
      headers: {
        authorization: this.authorization,
        'content-type': `application/soap+xml; charset=utf-8; action="${HISTORY_ACTION}"`,
        accept: 'application/soap+xml, text/xml',
      },
      body: buildHistoryEnvelope(request, this.options.zone),
      signal: deadline.signal,
      // A redirected POST may come back a GET; the endpoint should be configured as it is.
      redirect: 'manual',
    });
    deadline.touch();
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new UpstreamAuthError(response.status);
    }
    return response;
  }

  private async *decode(response: Response, deadline: IdleDeadline): AsyncGenerator<ServiceCall[], void, undefined> {
    const failed = !response.ok;
    const contentType = response.headers.get('content-type') ?? '';
    const isXml = /xml/i.test(contentType);
    if (failed && !isXml) {
      await response.body?.cancel();
      throw new UpstreamUnavailableError('http-status', `1C-Connect answered HTTP ${response.status}`, response.status);
    }
    if (!isXml) {
      // A proxy's or a login page's HTML is not a SOAP answer, whatever its status.
      await response.body?.cancel();
      throw new UpstreamProtocolError(`1C-Connect answered with ${JSON.stringify(contentType || 'no content type')}, not XML`);
    }
    let batch: ServiceCall[] = [];
    const decoder = serviceCallDecoder(this.options.zone, (call) => batch.push(call));
    const body = new ResponseBody(decoder, charsetOfContentType(contentType));
    const reader = response.body?.getReader();
    try {
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        deadline.touch();
        body.write(value);
        if (batch.length) {
          const ready = batch;
          batch = [];
          yield ready;
        }
      }
      body.end();
      if (failed) {
        // An HTTP error whose XML body was neither a Fault nor broken.
        throw new UpstreamUnavailableError('http-status', `1C-Connect answered HTTP ${response.status}`, response.status);
      }
      if (batch.length) yield batch;
    } catch (error) {
      if (error instanceof SoapFaultError) throw new SoapFaultError(error.faultCode, error.faultReason, response.status);
      if (failed && error instanceof UpstreamProtocolError) {
        throw new UpstreamUnavailableError('http-status', `1C-Connect answered HTTP ${response.status}`, response.status);
      }
      if (error instanceof UpstreamProtocolError && !error.complete && !error.truncated && reader) {
        // Broken XML: if the body still arrives whole, the same request would bring the same bytes.
        if (await this.arrivesWhole(reader, deadline)) throw error.asComplete();
      }
      throw error;
    } finally {
      // Stops the download when the consumer gave up early or decoding failed.
      await reader?.cancel().catch(() => undefined);
    }
  }

  /** Reads the rest of a body without decoding it: true when it ends normally. */
  private async arrivesWhole(reader: ReadableStreamDefaultReader<Uint8Array>, deadline: IdleDeadline): Promise<boolean> {
    try {
      for (;;) {
        const { done } = await reader.read();
        if (done) return true;
        deadline.touch();
      }
    } catch {
      return false;
    }
  }

  private classify(error: unknown, deadline: IdleDeadline, responded: boolean): ConnectError | Error {
    if (error instanceof ConnectError) return error;
    if (deadline.timedOut) {
      return new UpstreamUnavailableError(
        'timeout',
        `1C-Connect (${this.endpoint}) sent nothing for ${this.options.timeoutMs} ms`,
      );
    }
    if (deadline.callerAborted) return error instanceof Error ? error : new Error(String(error));
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return new UpstreamUnavailableError(
      'network',
      responded
        ? `1C-Connect (${this.endpoint}) broke off its response${cause}`
        : `1C-Connect (${this.endpoint}) could not be reached${cause}`,
    );
  }
}

/** Aborts when nothing has arrived for `ms`: a slow but steady body is fine, a stalled one is not. */
class IdleDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;
  callerAborted = false;
  private readonly onOuterAbort: () => void;

  constructor(
    private readonly ms: number,
    private readonly outer?: AbortSignal,
  ) {
    this.onOuterAbort = () => {
      this.callerAborted = true;
      this.controller.abort(outer?.reason);
    };
    // The caller's signal lives longer than one call (the server's shutdown signal): the listener
    // is removed when the call ends, or every call would leave one behind.
    if (outer?.aborted) this.onOuterAbort();
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error('idle timeout'));
    }, this.ms);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}
