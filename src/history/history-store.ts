import type { HeldCall, ServiceCall, ServiceCallFilter } from '../domain/service-call.js';
import type { LocalDay } from '../time/zone.js';
import type { CallPosition, CallStats } from './call-selection.js';
import type { DayCoverage } from './fetch-planner.js';

/** The period one upstream call asked for: whole consecutive local days. */
export interface FetchedPeriod {
  /** The local days, first to last. */
  days: readonly LocalDay[];
  /** Start of the first day (inclusive) and of the day after the last (exclusive), epoch ms. */
  from: number;
  to: number;
}

/**
 * Why days are not asked for again for a while: a complete upstream response for them could not be
 * decoded, and asking again would bring the same response and spend quota for nothing.
 */
export interface DayFailure {
  /** Epoch ms: the days may be asked for again from then on. */
  until: number;
  /** The decode error, naming the row and column when it is about a value. */
  message: string;
  /** Row of the response (from 1) and column, when the error is about one value. */
  row: number | null;
  column: string | null;
}

/** Which held calls: placed in [from, to) (epoch ms) and passing the filter. */
export interface CallQuery {
  from: number;
  to: number;
  filter: ServiceCallFilter;
}

/** A page of a CallQuery's calls in history order (placedAt, then callId). */
export interface CallPage {
  /** At most `first` calls, strictly after the cursor when one was given. */
  calls: HeldCall[];
  /** More calls of the query follow the page. */
  hasNextPage: boolean;
  /** Calls of the query lie at or before the cursor (false without a cursor). */
  hasPreviousPage: boolean;
}

/** What the store holds, for metrics and operators. */
export interface HeldSummary {
  /** Days with a copy held, of which sealed (never fetched again). */
  daysHeld: number;
  daysSealed: number;
  /** Days whose failure is still in force at the instant asked about. */
  daysFailed: number;
  /** Calls held (each CallID once). */
  calls: number;
}

/**
 * The history held: the calls each upstream period brought, which days are covered and how fresh,
 * and which days recently failed to decode. Asynchronous and narrow so that a durable (SQLite) or
 * shared (Redis) store can stand in for the in-memory one. Answers (pages, totals) are computed by
 * the store, so a store on disk never loads a period's calls into memory to answer.
 *
 * Rows are held by the period that returned them, because the upstream selects calls by the moment
 * they started while CallTime is when they were answered: a call that rang at 23:59:50 and was
 * answered at 00:00:20 comes back in the previous day's answer. A refetch of a day replaces what
 * the earlier copy of that day brought; a call is counted once by its CallID (the newest copy wins).
 */
export interface HistoryStore {
  /** The newest copy of each of these days that is held. */
  coverage(days: readonly LocalDay[]): Promise<Map<LocalDay, DayCoverage>>;
  /** The failures recorded for these days (expired ones may be returned too: compare `until`). */
  failures(days: readonly LocalDay[]): Promise<Map<LocalDay, DayFailure>>;
  /**
   * Up to `first` held calls of the query strictly after `after` (from the start without one), in
   * history order (placedAt: callTime, or the start of the period's first day when 1C sent no
   * CallTime; then callId), each CallID once.
   */
  page(query: CallQuery, after: CallPosition | null, first: number): Promise<CallPage>;
  /** Totals over every held call of the query. */
  stats(query: CallQuery): Promise<CallStats>;
  /** Starts taking in the rows of one upstream response for a period; nothing is visible until commit. */
  stage(period: FetchedPeriod): Promise<StagedFetch>;
  /** Records that a complete response for these days could not be decoded. */
  markFailed(days: readonly LocalDay[], failure: DayFailure): Promise<void>;
  /**
   * Retention: forgets every day before `day` (coverage and failures), every period whose days all
   * lie before it, and the calls those periods brought.
   */
  dropBefore(day: LocalDay): Promise<{ days: number; calls: number }>;
  /** Counts of what is held; `now` (epoch ms) decides which failures are in force. */
  summary(now: number): Promise<HeldSummary>;
  /** Releases files and connections; the store is not used afterwards. */
  close(): Promise<void>;
  /**
   * Only a store shared by several replicas has it: calls `listener` after another replica changed
   * the history (committed a fetch, ran retention), or when such changes may have been missed (a lost
   * connection), so that answers kept outside the store (the history service's caches) are dropped.
   * Not called for this instance's own changes. Returns a function that stops the calls.
   */
  onChange?(listener: () => void): () => void;
}

export interface StagedFetch {
  add(calls: readonly ServiceCall[]): Promise<void>;
  /**
   * The response completed: its period's days are now covered by it (with this coverage, one entry
   * per day of the period), their failures are cleared, and its calls are held whatever their
   * CallTime. Earlier copies whose every day is covered anew are dropped. A CallID listed twice in
   * the response is one call (its first row is kept); the result says how many rows that merged.
   */
  commit(coverage: readonly DayCoverage[]): Promise<{ duplicateRows: number }>;
  /** The response failed or was cut: leaves no trace. */
  discard(): Promise<void>;
}
