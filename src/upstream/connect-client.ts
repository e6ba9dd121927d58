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

/** sax is fastest on large pieces: small network chunks are joined up to this before decoding. */
const DECODE_CHUNK_CHARS = 64 * 1024;

/**
 * The transport of GetHistoryOfServiceCalls: one POST, the body streamed through the decoder.
 * Rows come out in batches as they are decoded; the generator ends normally only when the
 * response was a complete SUCCESS table, and throws a ConnectError otherwise, so a consumer can
 * always tell a complete table from a cut one.
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
    try {
      const response = await this.post(request, deadline);
      yield* this.decode(response, deadline);
    } catch (error) {
      throw this.classify(error, deadline);
    } finally {
      deadline.clear();
    }
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
    const reader = response.body?.getReader();
    const text = new TextDecoder('utf-8', { fatal: true });
    let pending: string[] = [];
    let pendingChars = 0;
    const flush = (final: boolean): void => {
      const tail = final ? text.decode() : '';
      if (tail) pending.push(tail);
      if (pendingChars === 0 && !tail) return;
      decoder.write(pending.length === 1 ? (pending[0] as string) : pending.join(''));
      pending = [];
      pendingChars = 0;
    };
    try {
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        deadline.touch();
        const piece = text.decode(value, { stream: true });
        pending.push(piece);
        pendingChars += piece.length;
        if (pendingChars < DECODE_CHUNK_CHARS) continue;
        flush(false);
        if (batch.length) {
          const ready = batch;
          batch = [];
          yield ready;
        }
      }
      flush(true);
      decoder.end();
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
      if (error instanceof TypeError && (error as NodeJS.ErrnoException).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
        throw new UpstreamProtocolError('the response is not valid UTF-8', decoder.rowsDecoded);
      }
      throw error;
    } finally {
      // Stops the download when the consumer gave up early or decoding failed.
      await reader?.cancel().catch(() => undefined);
    }
  }

  private classify(error: unknown, deadline: IdleDeadline): ConnectError | Error {
    if (error instanceof ConnectError) return error;
    if (deadline.timedOut) {
      return new UpstreamUnavailableError(
        'timeout',
        `1C-Connect (${this.endpoint}) sent nothing for ${this.options.timeoutMs} ms`,
      );
    }
    if (deadline.callerAborted) return error instanceof Error ? error : new Error(String(error));
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return new UpstreamUnavailableError('network', `1C-Connect (${this.endpoint}) could not be reached${cause}`);
  }
}

/** Aborts when nothing has arrived for `ms`: a slow but steady body is fine, a stalled one is not. */
class IdleDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;
  callerAborted = false;

  constructor(
    private readonly ms: number,
    outer?: AbortSignal,
  ) {
    outer?.addEventListener('abort', () => {
      this.callerAborted = true;
      this.controller.abort(outer.reason);
    });
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
  }
}
