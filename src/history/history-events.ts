/**
 * What the history core reports as it works, for metrics: each event once, from the thread that
 * serves requests (an ingest worker's counts are relayed to it).
 */

/** How an upstream call ended. */
export type UpstreamOutcome =
  /** The response arrived whole and its rows were committed. */
  | 'ok'
  /** ResultCode OUT_OF_LIMIT: the login's hourly quota was spent elsewhere. */
  | 'out_of_limit'
  /** Another ResultCode, a SOAP Fault or refused credentials. */
  | 'refused'
  /** A complete response that could not be decoded (a bad value, a missing column, a charset). */
  | 'undecodable'
  /** Unreachable, an HTTP error status, a timeout, or a body cut short. */
  | 'unavailable'
  /** Aborted by shutdown. */
  | 'aborted';

/** How a history question (one serviceCalls field) was answered. */
export type AnswerSource =
  /** From held days alone: 0 upstream calls. */
  | 'held'
  /** After upstream calls it made or waited for. */
  | 'fetched'
  /** Not answered: quota, upstream or decode error. */
  | 'failed';

export interface HistoryEvents {
  /** An upstream call ended after `seconds` (wall time from its start). */
  upstreamCall(outcome: UpstreamOutcome, seconds: number): void;
  /** Rows decoded from upstream responses (whether or not their call then completed). */
  rowsDecoded(count: number): void;
  /** `count` questions answered in one way. */
  answered(source: AnswerSource, count: number): void;
}

export const ignoredHistoryEvents: HistoryEvents = { upstreamCall() {}, rowsDecoded() {}, answered() {} };
