import type { PeriodKind } from '../time/day-night.js';
import type { CallPriority, LedgerTicket, QuotaLedger, QuotaState } from './quota-ledger.js';

/**
 * A call promised to a plan before it can be made (it waits for an upstream slot): it counts against
 * the limit from now on, and is dated when it starts.
 */
export interface QuotaReservation {
  readonly priority: CallPriority;
  /**
   * The call starts now: records it and returns its ticket; null, recording nothing, when the limit
   * in force now no longer allows it. Rejects (QuotaJournalError) when it cannot be recorded: the call
   * must not be made (fail closed).
   */
  start(): Promise<LedgerTicket | null>;
  /** The call will not be made: its place is given back. */
  release(): Promise<void>;
}

/**
 * Where the history service asks whether an upstream call may be made: the process's own ledger
 * (`LocalQuota` over `QuotaLedger`, its journal in DATA_DIR or in memory) or one shared by every
 * replica (Redis). The rules (limits, day and night, the reserve) are the same for all and answered
 * at once; what was spent is asked for, and may need a round trip.
 */
export interface QuotaAuthority {
  /** The hourly limits of both period kinds. */
  readonly limits: { day: number; night: number };
  limitAt(instant: number): number;
  kindAt(instant: number): PeriodKind;
  /** Calls per hour kept for interactive questions at `instant`. */
  reserveAt(instant: number): number;
  /** The night period cap the upstream was found to enforce, as last known; null when never lowered. */
  readonly nightMaxDays: number | null;
  /** Remembers a lower night cap; true when this lowered it. */
  lowerNightMaxDays(days: number): Promise<boolean>;
  /** Calls that may still be promised now to work of this priority (0 while an OUT_OF_LIMIT block holds). */
  free(priority: CallPriority): Promise<number>;
  /** Calls made in the last hour for this API key. */
  usedByKey(key: string): Promise<number>;
  /** When the key may spend `count` more calls (epoch ms). */
  keyFreesAt(key: string, count: number): Promise<number>;
  /** The earliest instant `count` calls would be allowed together (+Infinity: no hour allows them). */
  availableAt(count?: number | ((kind: PeriodKind) => number)): Promise<number>;
  /** Promises one call if `free(priority)` allows it; null otherwise. */
  reserve(priority: CallPriority, key?: string): Promise<QuotaReservation | null>;
  /** The upstream said OUT_OF_LIMIT: calls wait (shared by every user of this authority). */
  blockAfterOutOfLimit(): Promise<void>;
  state(): Promise<QuotaState>;
  close(): Promise<void>;
}

/** The process's own ledger as a QuotaAuthority: every answer is at hand. */
export class LocalQuota implements QuotaAuthority {
  constructor(readonly ledger: QuotaLedger) {}

  get limits(): { day: number; night: number } {
    return this.ledger.limits;
  }

  limitAt(instant: number): number {
    return this.ledger.limitAt(instant);
  }

  kindAt(instant: number): PeriodKind {
    return this.ledger.kindAt(instant);
  }

  reserveAt(instant: number): number {
    return this.ledger.reserveAt(instant);
  }

  get nightMaxDays(): number | null {
    return this.ledger.nightMaxDays;
  }

  async lowerNightMaxDays(days: number): Promise<boolean> {
    return this.ledger.lowerNightMaxDays(days);
  }

  async free(priority: CallPriority): Promise<number> {
    return this.ledger.free(priority);
  }

  async usedByKey(key: string): Promise<number> {
    return this.ledger.usedByKey(key);
  }

  async keyFreesAt(key: string, count: number): Promise<number> {
    return this.ledger.keyFreesAt(key, count);
  }

  async availableAt(count?: number | ((kind: PeriodKind) => number)): Promise<number> {
    return this.ledger.availableAt(count);
  }

  async reserve(priority: CallPriority, key?: string): Promise<QuotaReservation | null> {
    const reservation = this.ledger.reserve(priority, key);
    if (!reservation) return null;
    return {
      priority,
      start: async () => reservation.start(),
      release: async () => reservation.release(),
    };
  }

  async blockAfterOutOfLimit(): Promise<void> {
    this.ledger.blockAfterOutOfLimit();
  }

  async state(): Promise<QuotaState> {
    return this.ledger.state();
  }

  async close(): Promise<void> {
    this.ledger.close();
  }
}
