import type { PeriodKind } from '../time/day-night.js';
import type { DayFailure } from './history-store.js';

/**
 * Which rule refused upstream calls: the hourly limit (this server's count), the upstream's own
 * OUT_OF_LIMIT, the share of the hour one HTTP request may spend, or the fair share of one API key.
 */
export type QuotaRule = 'HOURLY_LIMIT' | 'OUT_OF_LIMIT' | 'MAX_CALLS_PER_REQUEST' | 'API_KEY_SHARE';

export interface QuotaExhaustedDetails {
  rule: QuotaRule;
  /** Seconds until the calls this request still needs fit the limit in force then. */
  retryAfterSeconds: number;
  /** Set when the upstream itself refused (OUT_OF_LIMIT): someone else spends the same login's quota. */
  upstreamCode?: string;
  /** Upstream calls this request still needs. */
  callsNeeded: number;
  /**
   * The hourly limit those calls fit in together: the one in force at the retry time, or null when
   * they fit in no hour (more than even the night limit): each retry then brings what the quota allows.
   */
  fitsIn: PeriodKind | null;
}

/** No upstream call may be made now, and history the request needs was never fetched. */
export class QuotaExhaustedError extends Error {
  readonly rule: QuotaRule;
  readonly retryAfterSeconds: number;
  readonly upstreamCode: string | undefined;
  readonly callsNeeded: number;
  readonly fitsIn: PeriodKind | null;

  constructor(details: QuotaExhaustedDetails, message: string) {
    super(message);
    this.name = 'QuotaExhaustedError';
    this.rule = details.rule;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.upstreamCode = details.upstreamCode;
    this.callsNeeded = details.callsNeeded;
    this.fitsIn = details.fitsIn;
  }
}

/**
 * Days whose complete upstream response could not be decoded (a value we cannot represent, a missing
 * column): they are not asked for again until `until`, so one bad response never burns the quota.
 */
export class UndecodableHistoryError extends Error {
  constructor(
    readonly failure: DayFailure,
    /** Seconds until the days may be asked for again. */
    readonly retryAfterSeconds: number,
  ) {
    super(`1C-Connect sent a response that cannot be read: ${failure.message}; not asked again for ${retryAfterSeconds} s`);
    this.name = 'UndecodableHistoryError';
  }
}

/**
 * True for an error of the store itself: the disk under DATA_DIR (better-sqlite3's SqliteError, here or
 * from the ingest worker) or the shared Redis store (SharedStoreError).
 */
export function isStoreError(error: unknown): error is Error & { code?: string } {
  return error instanceof Error && (error.name === 'SqliteError' || error.name === 'SharedStoreError');
}

/**
 * The history store failed (disk full, I/O error, a damaged file): what an upstream call brings
 * cannot be kept, so none is made until `retryAfterSeconds` pass; the quota is not spent on answers
 * that would be thrown away.
 */
export class StoreUnavailableError extends Error {
  constructor(
    /** The SQLite error code (SQLITE_FULL, SQLITE_CORRUPT, …) when known. */
    readonly storeCode: string | undefined,
    /** Seconds until upstream calls are tried again. */
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}
