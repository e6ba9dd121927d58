import type { UpstreamOutcome } from './history-events.js';

/** How a recorded upstream call ended; 'pending' until its caller settles it (or forever, if the process died). */
export type LedgerOutcome = 'pending' | UpstreamOutcome;

export interface JournalCall {
  id: number;
  /** When the call was recorded (epoch ms, by the clock of the process that made it). */
  at: number;
  outcome: LedgerOutcome;
}

/**
 * Where the quota ledger writes what it must not forget across a restart: every upstream call it
 * allowed, the OUT_OF_LIMIT block in force, and a night period cap the upstream turned out to
 * have. Every method is synchronous: the ledger's check-and-record is one step, so a call is on
 * record before the ledger lets it be made.
 * One process uses a journal at a time (the ledger reads it only when it starts).
 */
export interface QuotaJournal {
  /** The calls recorded after `since` (epoch ms), entries dated in the future included, oldest first; and the block in force (0: none). */
  load(since: number): { calls: JournalCall[]; blockedUntil: number };
  /** Records one call made at `at` with outcome 'pending'; returns its id. Throws when it cannot be recorded. */
  record(at: number): number;
  /** Sets the outcome of a pending call; false (nothing changed) when the call is unknown or already settled. */
  settle(id: number, outcome: UpstreamOutcome): boolean;
  /** Calls are held back until `until` (epoch ms); a later block already recorded is kept. */
  block(until: number): void;
  /** Deletes calls recorded before `before` (epoch ms). */
  prune(before: number): void;
  /** The longest night-time period (days) the upstream accepted after refusing a longer one; null when never lowered. */
  nightMaxDays(): number | null;
  /**
   * Remembers that the upstream refuses night periods longer than `days` (kept across restarts).
   * The last value remembered wins, higher or lower. Throws a RangeError when `days` is not a
   * positive integer, and throws when it cannot be written.
   */
  rememberNightMaxDays(days: number): void;
  close(): void;
}

/** `days` as a night period cap, or a RangeError: journals store only positive whole days. */
export function checkedNightMaxDays(days: number): number {
  if (!Number.isSafeInteger(days) || days < 1) throw new RangeError(`night max days must be a positive integer, got ${days}`);
  return days;
}

/** The journal failed to read or write: the ledger allows no call it could not record (it fails closed). */
export class QuotaJournalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QuotaJournalError';
  }
}

const HOUR = 3_600_000;
/** Calls are kept a day, for operators, though the ledger only needs the last hour. */
export const JOURNAL_KEEP_MS = 24 * HOUR;

/**
 * A journal in memory: for tests and STORE=memory, and the ledger's default. A restart forgets it;
 * it prunes itself as calls are recorded (calls older than a day, checked at most once an hour).
 */
export class MemoryQuotaJournal implements QuotaJournal {
  private calls: JournalCall[] = [];
  private blockedUntil = 0;
  private nightCap: number | null = null;
  private nextId = 1;
  private lastPrune = Number.NEGATIVE_INFINITY;

  load(since: number): { calls: JournalCall[]; blockedUntil: number } {
    const calls = this.calls.filter((c) => c.at > since).sort((a, b) => a.at - b.at || a.id - b.id);
    return { calls: calls.map((c) => ({ ...c })), blockedUntil: this.blockedUntil };
  }

  record(at: number): number {
    if (at - this.lastPrune >= HOUR) {
      this.prune(at - JOURNAL_KEEP_MS);
      this.lastPrune = at;
    }
    const id = this.nextId++;
    this.calls.push({ id, at, outcome: 'pending' });
    return id;
  }

  settle(id: number, outcome: UpstreamOutcome): boolean {
    const call = this.calls.find((c) => c.id === id);
    if (!call || call.outcome !== 'pending') return false;
    call.outcome = outcome;
    return true;
  }

  block(until: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, until);
  }

  prune(before: number): void {
    this.calls = this.calls.filter((c) => c.at >= before);
  }

  nightMaxDays(): number | null {
    return this.nightCap;
  }

  rememberNightMaxDays(days: number): void {
    this.nightCap = checkedNightMaxDays(days);
  }

  close(): void {}
}
