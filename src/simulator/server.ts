/**
 * The simulated 1C-Connect endpoint: GetHistoryOfServiceCalls over SOAP 1.2 and 1.1 on node:http,
 * with Basic auth, the upstream's quota and period rules on an injected clock, the operation's
 * filters over a generated history, streamed answers, and injectable faults.
 *
 * Simulator's choices where the real service is unknown:
 * - PeriodFrom absent: from the start of the history (`firstDay`), or 30 days before now when the
 *   history has no start. PeriodTo absent: now. The daytime 7-day rule (and the night cap, when
 *   set) applies to that period.
 * - A parameter name the operation does not have: ResultCode PARAM_NOT_EXIST (counted).
 * - An unreadable request, or an operation other than GetHistoryOfServiceCalls: a Client/Sender
 *   SOAP Fault with HTTP 500, not counted.
 * - Content-Type must be application/soap+xml (1.2) or text/xml (1.1), else HTTP 415; an envelope
 *   of the other version than its Content-Type gets a VersionMismatch fault. The action (1.2
 *   Content-Type parameter or SOAPAction header) is recorded, not enforced.
 * - `charset` applies to every SOAP answer (tables, ResultCode refusals, Faults); plain-text HTTP
 *   errors (401, 404, 405, 413, 415, injected statuses) stay UTF-8, as a web server in front sends them.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type Clock } from '../time/clock.js';
import type { DayHours } from '../time/day-night.js';
import { DAY_MS, type LocalDay } from '../time/zone.js';
import { matchesFilter, type ServiceCall } from '../domain/service-call.js';
import type { HistoryRequest } from '../upstream/history-request.js';
import { SimulatedHistory, type AnswerTimes } from './dataset.js';
import { encodeText, isResponseCharset, xmlDeclaration, type ResponseCharset } from './charset.js';
import {
  FaultSchedule,
  replacesAnswer,
  styledTable,
  withBrokenTable,
  type Fault,
  type FaultKind,
  type ReplacingFault,
  type ResponseStyle,
} from './faults.js';
import { BodyTooLargeError, readBody, sendPieces, type BodyCut } from './http-body.js';
import { readRequest, RequestReadError } from './request-reader.js';
import { UpstreamRules } from './upstream-rules.js';
import {
  soapContentType,
  writeHistoryResponse,
  writeResultCodeResponse,
  writeSoapFault,
  type SoapVersion,
} from './value-table-writer.js';

export const ENDPOINT_PATH = '/cus/ws/PartnerWebAPI2';
export const HISTORY_OPERATION = 'GetHistoryOfServiceCalls';
export const PARAM_NOT_EXIST = 'PARAM_NOT_EXIST';
/** How far back an absent PeriodFrom reaches when the history has no first day. */
export const MISSING_FROM_LOOKBACK_MS = 30 * DAY_MS;
const MAX_REQUEST_BYTES = 1024 * 1024;

export interface SimulatorOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  login?: string;
  password?: string;
  clock?: Clock;
  seed?: number;
  callsPerDay?: number;
  zone?: string;
  dayHours?: DayHours;
  dayLimit?: number;
  nightLimit?: number;
  dayMaxDays?: number;
  /** Longest period accepted at night, in days (default: no limit at night). */
  nightMaxDays?: number;
  firstDay?: LocalDay;
  style?: ResponseStyle;
  /**
   * `'at-start'` (default): CallTime is when the call started, as the simulator always wrote it.
   * `'realistic'`: CallTime is when it was answered, a few seconds after the start, or 1C's empty
   * date for some calls never answered; periods still select by start (see SimulatedHistory).
   */
  answerTimes?: AnswerTimes;
  /** Charset of SOAP answers, declared in the XML declaration and Content-Type (default `'utf-8'`). */
  charset?: ResponseCharset;
}

export const SIMULATOR_DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  login: 'demo',
  password: 'demo-password',
  seed: 1,
  callsPerDay: 200,
  zone: 'Europe/Moscow',
  answerTimes: 'at-start',
  charset: 'utf-8',
} as const;

export type RequestOutcome =
  | 'success'
  | 'out-of-limit'
  | 'period-too-long'
  | 'param-not-exist'
  | 'fault-injected'
  | 'unauthorized'
  | 'method-not-allowed'
  | 'not-found'
  | 'unsupported-media-type'
  | 'body-too-large'
  | 'bad-request'
  | 'unknown-operation'
  | 'internal-error';

/** One request as the simulator saw and answered it. */
export interface ReceivedRequest {
  /** Clock time of arrival (epoch ms). */
  at: number;
  method: string;
  path: string;
  authorized: boolean;
  soapVersion?: SoapVersion;
  /** The SOAP action the client named, if any. */
  action?: string;
  operation?: string;
  params?: HistoryRequest;
  /** 'fault-injected' whenever an injected fault applied (then `fault` names it), else the real answer. */
  outcome: RequestOutcome;
  httpStatus: number;
  /** The injected fault applied to this request. */
  fault?: FaultKind;
  /** Rows written in a success answer (up to where a stall or truncate fault cut it). */
  rows?: number;
  /** Why a request was refused as unreadable. */
  error?: string;
}

export interface Simulator {
  /** `http://127.0.0.1:PORT/cus/ws/PartnerWebAPI2` */
  readonly url: string;
  readonly login: string;
  readonly password: string;
  readonly history: SimulatedHistory;
  readonly rules: UpstreamRules;
  /** Every request received, in arrival order. */
  readonly received: ReceivedRequest[];
  /** Authenticated GetHistoryOfServiceCalls calls received, whatever their answer. */
  callCount(): number;
  /** Applies `fault` to the next `times` calls, or to every call until clearFaults() when omitted. */
  inject(fault: Fault, times?: number): void;
  clearFaults(): void;
  /** Replaces the style of successful answers. */
  setStyle(style: ResponseStyle): void;
  /** Replaces the charset of the SOAP answers that follow. */
  setCharset(charset: ResponseCharset): void;
  /** Stops listening and destroys every open connection, stalled ones included. */
  close(): Promise<void>;
}

/** An answer before any wrapping fault spoils it. */
interface Answer {
  status: number;
  contentType: string;
  /** The document as text; encoded in `charset` when sent. */
  pieces: Iterable<string>;
  charset: ResponseCharset;
}

function credentialsOf(header: string | undefined): { login: string; password: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':'); // passwords may contain ':'; logins may not
  return colon < 0 ? null : { login: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function soapVersionOfContentType(contentType: string | undefined): SoapVersion | null {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/soap+xml') return '1.2';
  if (mediaType === 'text/xml') return '1.1';
  return null;
}

function actionOf(req: IncomingMessage): string | undefined {
  const fromContentType = /;\s*action\s*=\s*("([^"]*)"|[^;\s]+)/i.exec(req.headers['content-type'] ?? '');
  if (fromContentType) return fromContentType[2] ?? fromContentType[1];
  const header = req.headers['soapaction'];
  return typeof header === 'string' ? header.replace(/^"(.*)"$/, '$1') : undefined;
}

function* declared(charset: ResponseCharset, pieces: Iterable<string>): Generator<string> {
  const declaration = xmlDeclaration(charset);
  if (declaration) yield declaration;
  yield* pieces;
}

/** A SOAP document in `charset`: its declaration says so, and so does its Content-Type. */
function soapAnswer(status: number, version: SoapVersion, charset: ResponseCharset, pieces: Iterable<string>): Answer {
  return { status, contentType: soapContentType(version, charset), pieces: declared(charset, pieces), charset };
}

function faultAnswer(code: string, reason: string, version: SoapVersion, charset: ResponseCharset, status = 500): Answer {
  return soapAnswer(status, version, charset, [writeSoapFault(code, reason, version)]);
}

function resultCodeAnswer(code: string, text: string, version: SoapVersion, charset: ResponseCharset): Answer {
  return soapAnswer(200, version, charset, [writeResultCodeResponse(code, text, version)]);
}

function checkedCharset(charset: ResponseCharset): ResponseCharset {
  if (!isResponseCharset(charset)) throw new RangeError(`charset must be 'utf-8' or 'windows-1251', got ${String(charset)}`);
  return charset;
}

function* counting<T>(items: Iterable<T>, onEach: () => void): Generator<T> {
  for (const item of items) {
    onEach();
    yield item;
  }
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const clock = options.clock ?? systemClock;
  const zone = options.zone ?? SIMULATOR_DEFAULTS.zone;
  const login = options.login ?? SIMULATOR_DEFAULTS.login;
  const password = options.password ?? SIMULATOR_DEFAULTS.password;
  if (login.includes(':')) throw new RangeError('a Basic auth login cannot contain ":"');
  const history = new SimulatedHistory({
    seed: options.seed ?? SIMULATOR_DEFAULTS.seed,
    callsPerDay: options.callsPerDay ?? SIMULATOR_DEFAULTS.callsPerDay,
    zone,
    clock,
    firstDay: options.firstDay,
    answerTimes: options.answerTimes ?? SIMULATOR_DEFAULTS.answerTimes,
  });
  const rules = new UpstreamRules(clock, {
    zone,
    dayHours: options.dayHours,
    dayLimit: options.dayLimit,
    nightLimit: options.nightLimit,
    dayMaxDays: options.dayMaxDays,
    nightMaxDays: options.nightMaxDays,
  });
  const faults = new FaultSchedule();
  const received: ReceivedRequest[] = [];
  let style: ResponseStyle = options.style ?? {};
  let charset = checkedCharset(options.charset ?? SIMULATOR_DEFAULTS.charset);
  let calls = 0;
  let answersWritten = 0;
  const closing = new AbortController();

  /** The service proper: rules, filters, the table. Called for authenticated history calls. */
  function answerHistory(entry: ReceivedRequest, version: SoapVersion, params: HistoryRequest, unknownParams: string[]): Answer {
    const quota = rules.takeQuota();
    if (quota) {
      entry.outcome = quota.outcome;
      return resultCodeAnswer(quota.code, quota.text, version, charset);
    }
    if (unknownParams.length > 0) {
      entry.outcome = 'param-not-exist';
      return resultCodeAnswer(PARAM_NOT_EXIST, `Параметр не существует: ${unknownParams.join(', ')}`, version, charset);
    }
    const now = clock.now();
    const from = params.periodFrom ?? history.historyStart() ?? now - MISSING_FROM_LOOKBACK_MS;
    const to = params.periodTo ?? now;
    const tooLong = rules.checkPeriod({ from, to });
    if (tooLong) {
      entry.outcome = tooLong.outcome;
      return resultCodeAnswer(tooLong.code, tooLong.text, version, charset);
    }
    entry.outcome = 'success';
    entry.rows = 0;
    const table = styledTable(style, `${history.seed}:${answersWritten++}`);
    const matching = counting(
      (function* (): Generator<ServiceCall> {
        for (const call of history.iterateCallsBetween(from, to)) if (matchesFilter(call, params)) yield call;
      })(),
      () => (entry.rows = (entry.rows ?? 0) + 1),
    );
    const rows = (function* () {
      for (const call of matching) yield table.rowOf(call);
    })();
    return soapAnswer(200, version, charset, writeHistoryResponse({ soapVersion: version, columns: table.columns, rows, zone, style }));
  }

  function replacingAnswer(fault: ReplacingFault, version: SoapVersion): Answer {
    switch (fault.kind) {
      case 'http-status':
        return {
          status: fault.status,
          contentType: 'text/plain; charset=utf-8',
          pieces: [fault.body ?? `${fault.status} ${STATUS_CODES[fault.status] ?? 'Error'}`],
          charset: 'utf-8',
        };
      case 'soap-fault': {
        const faultVersion = fault.version ?? version;
        const reason = fault.reason ?? 'Ошибка при выполнении операции на сервере (injected fault)';
        return faultAnswer(fault.code ?? 'Server', reason, faultVersion, charset, fault.httpStatus ?? 500);
      }
      case 'result-code':
        return resultCodeAnswer(fault.code, fault.text, version, charset);
    }
  }

  async function send(res: ServerResponse, answer: Answer, fault?: Fault): Promise<void> {
    let pieces = answer.pieces;
    let cut: BodyCut | undefined;
    if (fault?.kind === 'delay') await sleep(fault.ms, undefined, { signal: closing.signal });
    if (fault?.kind === 'malformed') pieces = withBrokenTable(pieces);
    if (fault?.kind === 'truncate') cut = { afterBytes: fault.afterBytes, then: 'end' };
    if (fault?.kind === 'stall') cut = { afterBytes: fault.afterBytes, then: 'hang' };
    res.writeHead(answer.status, { 'Content-Type': answer.contentType });
    await sendPieces(res, pieces, cut, (piece) => encodeText(piece, answer.charset));
  }

  function plain(res: ServerResponse, entry: ReceivedRequest, status: number, text: string, headers: Record<string, string> = {}): void {
    entry.httpStatus = status;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, entry: ReceivedRequest): Promise<void> {
    const path = entry.path;

    if (path !== ENDPOINT_PATH) {
      entry.outcome = 'not-found';
      return plain(res, entry, 404, 'Not Found');
    }
    if (req.method !== 'POST') {
      entry.outcome = 'method-not-allowed';
      return plain(res, entry, 405, 'Method Not Allowed', { Allow: 'POST' });
    }
    const credentials = credentialsOf(req.headers.authorization);
    if (!credentials || credentials.login !== login || credentials.password !== password) {
      entry.outcome = 'unauthorized';
      req.resume();
      return plain(res, entry, 401, 'Unauthorized', { 'WWW-Authenticate': 'Basic realm="1C-Connect PartnerWebAPI2", charset="UTF-8"' });
    }
    entry.authorized = true;
    const declaredVersion = soapVersionOfContentType(req.headers['content-type']);
    if (!declaredVersion) {
      entry.outcome = 'unsupported-media-type';
      req.resume();
      return plain(res, entry, 415, 'Content-Type must be application/soap+xml (SOAP 1.2) or text/xml (SOAP 1.1)');
    }
    entry.soapVersion = declaredVersion;
    entry.action = actionOf(req);

    let body: string;
    try {
      body = await readBody(req, MAX_REQUEST_BYTES);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      entry.outcome = 'body-too-large';
      return plain(res, entry, 413, error.message);
    }

    let answer: Answer;
    let fault: Fault | undefined;
    try {
      const request = readRequest(body, zone);
      entry.soapVersion = request.soapVersion;
      entry.operation = request.operation;
      entry.params = request.params;
      if (request.soapVersion !== declaredVersion) {
        entry.error = `SOAP ${request.soapVersion} envelope sent as SOAP ${declaredVersion}`;
        answer = faultAnswer('VersionMismatch', entry.error, request.soapVersion, charset);
      } else if (request.operation !== HISTORY_OPERATION) {
        entry.outcome = 'unknown-operation';
        answer = faultAnswer('Client', `Операция ${request.operation} не поддерживается (not simulated)`, request.soapVersion, charset);
      } else {
        calls += 1;
        fault = faults.take();
        if (fault) entry.fault = fault.kind;
        if (fault && replacesAnswer(fault)) {
          entry.outcome = 'fault-injected';
          answer = replacingAnswer(fault, request.soapVersion);
        } else {
          answer = answerHistory(entry, request.soapVersion, request.params, request.unknownParams);
          if (fault) entry.outcome = 'fault-injected';
        }
      }
    } catch (error) {
      if (!(error instanceof RequestReadError)) throw error;
      entry.error = error.message;
      answer = faultAnswer('Client', error.message, error.soapVersion ?? declaredVersion, charset);
    }
    entry.httpStatus = answer.status;
    await send(res, answer, fault);
  }

  const server = createServer((req, res) => {
    const entry: ReceivedRequest = {
      at: clock.now(),
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://simulator').pathname,
      authorized: false,
      outcome: 'bad-request',
      httpStatus: 0,
    };
    received.push(entry);
    handle(req, res, entry).catch((error: unknown) => {
      if (closing.signal.aborted) return res.destroy(); // a delayed answer interrupted by close()
      entry.outcome = 'internal-error';
      if (res.headersSent) return res.destroy();
      entry.httpStatus = 500;
      const reason = `simulator error: ${error instanceof Error ? error.message : String(error)}`;
      res.writeHead(500, { 'Content-Type': soapContentType('1.2', charset) });
      res.end(encodeText(xmlDeclaration(charset) + writeSoapFault('Server', reason, '1.2'), charset));
    });
  });

  const host = options.host ?? SIMULATOR_DEFAULTS.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? SIMULATOR_DEFAULTS.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}${ENDPOINT_PATH}`,
    login,
    password,
    history,
    rules,
    received,
    callCount: () => calls,
    inject: (fault, times) => faults.inject(fault, times),
    clearFaults: () => faults.clear(),
    setStyle: (next) => {
      style = { ...next };
    },
    setCharset: (next) => {
      charset = checkedCharset(next);
    },
    close: () =>
      new Promise<void>((resolve) => {
        closing.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
