import type { ServiceCall } from '../domain/service-call.js';
import type { LocalDay } from '../time/zone.js';
import type { DayCoverage } from './fetch-planner.js';

/**
 * The days of history held, how fresh they are, and their calls. Asynchronous and narrow so that a
 * durable (SQLite) or shared (Redis) store can stand in for the in-memory one.
 */
export interface HistoryStore {
  coverage(days: readonly LocalDay[]): Promise<Map<LocalDay, DayCoverage>>;
  /** The held calls that started in [from, to), in history order (callTime, then callId). */
  callsBetween(from: number, to: number): Promise<ServiceCall[]>;
  /** Starts taking in the rows of one upstream response; nothing of it is visible until commit. */
  stage(): Promise<StagedFetch>;
}

export interface StagedFetch {
  add(calls: readonly ServiceCall[]): Promise<void>;
  /**
   * The response completed: its days now hold exactly the staged calls (replacing any older copy),
   * with this coverage. Calls outside these days are dropped.
   */
  commit(coverage: readonly DayCoverage[]): Promise<void>;
  /** The response failed or was cut: leaves no trace. */
  discard(): Promise<void>;
}
