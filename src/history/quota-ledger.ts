import type { Clock } from '../time/clock.js';
import { type DayHours, type PeriodKind, periodKindAt } from '../time/day-night.js';
import type { UpstreamOutcome } from './history-events.js';
import { type LedgerOutcome, MemoryQuotaJournal, type QuotaJournal, QuotaJournalError } from './quota-journal.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface QuotaRules {
  zone: string;
  dayHours: DayHours;
  dayLimit: number;
  nightLimit: number;
}

export interface QuotaState {
  periodKind: PeriodKind;
  limitPerHour: number;
  usedLastHour: number;
  remaining: number;
  /** When the next upstream call may be made (now when one may be made now). */
  nextCallAt: number;
  /** Set while an OUT_OF_LIMIT from the upstream holds calls back. */
  blockedUntil: number | null;
}

export interface QuotaLedgerOptions {
  /**
   * Where calls and the block are recorded so that a restart remembers them (a new ledger on the same
   * journal loads the last hour's calls and the block in force). Default: a journal in memory.
   */
  journal?: QuotaJournal;
  /**
   * Told when the journal fails to store an outcome or a block. Neither changes what the ledger
   * counts now (the call is already on record; the block holds in memory), so they do not throw.
   * Default: a process warning.
   */
  onJournalError?: (error: QuotaJournalError) => void;
}

/** One allowed upstream call, on record before the ledger returned it. */
export interface LedgerTicket {
  /** The journal's id of the call. */
  readonly id: number;
  /** When the call was allowed (epoch ms). */
  readonly at: number;
  /** 'pending' until settled. */
  readonly outcome: LedgerOutcome;
  /**
   * Records how the call ended. Exactly once: a second settle throws (whatever the outcome). The
   * call counts against the quota whatever its outcome; an 'out_of_limit' outcome does not block by
   * itself (call blockAfterOutOfLimit).
   */
  settle(outcome: UpstreamOutcome): void;
}

/**
 * Where an upstream call is allowed or refused. Records every call with its time; a call is allowed
 * while the calls of the last sliding hour are fewer than the limit in force now (day or night in the
 * upstream's zone) and no OUT_OF_LIMIT block holds. A sliding hour is never looser than the upstream's
 * own counting, whatever window it uses.
 *
 * Every allowed call is written to the journal (synchronously) before tryAcquire/acquire return, and
 * a new ledger loads the last hour's calls and the block from it: no sequence of restarts exceeds the
 * limit in any sliding hour. Fails closed: when the journal cannot record a call, acquire and
 * tryAcquire throw a QuotaJournalError and the call must not be made (it is not counted in memory).
 *
 * Clock skew: a call dated in the future (the clock went back since it was recorded) counts until it
 * is an hour old by its own date, i.e. until the clock reads `at + 1 h`. That may hold calls back
 * longer than needed, never shorter. (A clock that ran far ahead and was then corrected holds back as
 * many calls as were made meanwhile until it catches up: move the journal file away to forget them.)
 */
export class QuotaLedger {
  /** When the calls of the window were made; unordered (skewed entries), pruned as they leave it. */
  private calls: number[] = [];
  private blockedUntil = 0;
  private readonly journal: QuotaJournal;
  private readonly onJournalError: (error: QuotaJournalError) => void;

  /** Throws a QuotaJournalError when the journal cannot be read. */
  constructor(
    private readonly rules: QuotaRules,
    private readonly clock: Clock,
    options: QuotaLedgerOptions = {},
  ) {
    this.journal = options.journal ?? new MemoryQuotaJournal();
    this.onJournalError = options.onJournalError ?? ((error) => process.emitWarning(error));
    const now = clock.now();
    let loaded: ReturnType<QuotaJournal['load']>;
    try {
      loaded = this.journal.load(now - HOUR);
    } catch (cause) {
      throw new QuotaJournalError(`the quota journal could not be read: ${message(cause)}`, { cause });
    }
    this.calls = loaded.calls.map((c) => c.at);
    this.blockedUntil = loaded.blockedUntil;
  }

  /** The hourly limits of both period kinds. */
  get limits(): { day: number; night: number } {
    return { day: this.rules.dayLimit, night: this.rules.nightLimit };
  }

  limitAt(instant: number): number {
    return this.kindAt(instant) === 'DAY' ? this.rules.dayLimit : this.rules.nightLimit;
  }

  kindAt(instant: number): PeriodKind {
    return periodKindAt(instant, this.rules.zone, this.rules.dayHours);
  }

  /** Calls counting at `instant` (not before it): those less than an hour old, future-dated ones included. */
  private usedAt(instant: number): number {
    let used = 0;
    for (const at of this.calls) if (at > instant - HOUR) used++;
    return used;
  }

  private prune(now: number): void {
    if (this.calls.some((at) => at <= now - HOUR)) this.calls = this.calls.filter((at) => at > now - HOUR);
  }

  private allows(now: number, count: number): boolean {
    this.prune(now);
    return now >= this.blockedUntil && this.usedAt(now) + count <= this.limitAt(now);
  }

  /** Puts one call made at `now` on record, then counts it; throws a QuotaJournalError when it cannot. */
  private record(now: number): number {
    let id: number;
    try {
      id = this.journal.record(now);
    } catch (cause) {
      throw new QuotaJournalError(`the quota journal could not record an upstream call, so none is made: ${message(cause)}`, { cause });
    }
    this.calls.push(now);
    return id;
  }

  /**
   * Records `count` calls made now if they are all allowed; returns false, recording nothing, otherwise.
   * Their outcomes stay 'pending' in the journal (use acquire to settle them). Throws a
   * QuotaJournalError, and no call may be made, when the journal cannot record them (those recorded
   * before the failure still count).
   */
  tryAcquire(count = 1): boolean {
    const now = this.clock.now();
    if (!this.allows(now, count)) return false;
    for (let i = 0; i < count; i++) this.record(now);
    return true;
  }

  /**
   * Records one call made now and returns its ticket if it is allowed; null, recording nothing, when
   * the limit or a block holds. Throws a QuotaJournalError, and the call must not be made, when the
   * journal cannot record it (fail closed).
   */
  acquire(): LedgerTicket | null {
    const now = this.clock.now();
    if (!this.allows(now, 1)) return null;
    return new Ticket(this.record(now), now, this.journal, this.onJournalError);
  }

  /**
   * The upstream said OUT_OF_LIMIT: someone else spends the same login's quota. Calls wait until the
   * oldest call in our window is an hour old (an hour from now when the window is empty). The block is
   * written to the journal so that a restart keeps it.
   */
  blockAfterOutOfLimit(): void {
    const now = this.clock.now();
    this.prune(now);
    const oldest = Math.min(now, ...this.calls);
    this.blockedUntil = Math.max(this.blockedUntil, oldest + HOUR);
    try {
      this.journal.block(this.blockedUntil);
    } catch (cause) {
      this.onJournalError(new QuotaJournalError(`the quota journal could not record the OUT_OF_LIMIT block: ${message(cause)}`, { cause }));
    }
  }

  /** Closes the journal. */
  close(): void {
    this.journal.close();
  }

  /**
   * The earliest instant (epoch ms) at which `count` calls would be allowed together, if no other
   * call is made meanwhile; +Infinity when no hour's limit allows that many. `count` may depend on
   * the period kind (night calls may be longer, so fewer are needed).
   */
  availableAt(count: number | ((kind: PeriodKind) => number) = 1): number {
    const now = this.clock.now();
    this.prune(now);
    const start = Math.max(now, this.blockedUntil);
    const needed = typeof count === 'number' ? () => count : count;
    // Only these moments can change the answer: now, a recorded call leaving the window, or a
    // day/night switch. Two days of switches cover both kinds whatever the day hours.
    const candidates = [start, ...this.calls.map((at) => at + HOUR), ...this.switchesWithin(start, start + 2 * DAY)]
      .filter((t) => t >= start)
      .sort((a, b) => a - b);
    for (const t of candidates) {
      if (this.usedAt(t) + needed(this.kindAt(t)) <= this.limitAt(t)) return t;
    }
    return Number.POSITIVE_INFINITY;
  }

  private switchesWithin(from: number, to: number): number[] {
    const switches: number[] = [];
    let kind = this.kindAt(from);
    // Day/night switches happen on the hour (or half hour in a few zones).
    for (let t = Math.ceil(from / (HOUR / 4)) * (HOUR / 4); t <= to; t += HOUR / 4) {
      const next = this.kindAt(t);
      if (next !== kind) switches.push(t);
      kind = next;
    }
    return switches;
  }

  state(): QuotaState {
    const now = this.clock.now();
    this.prune(now);
    const limit = this.limitAt(now);
    const used = this.usedAt(now);
    const blocked = now < this.blockedUntil;
    return {
      periodKind: this.kindAt(now),
      limitPerHour: limit,
      usedLastHour: used,
      remaining: blocked ? 0 : Math.max(0, limit - used),
      nextCallAt: this.availableAt(1),
      blockedUntil: blocked ? this.blockedUntil : null,
    };
  }
}

class Ticket implements LedgerTicket {
  private current: LedgerOutcome = 'pending';

  constructor(
    readonly id: number,
    readonly at: number,
    private readonly journal: QuotaJournal,
    private readonly onJournalError: (error: QuotaJournalError) => void,
  ) {}

  get outcome(): LedgerOutcome {
    return this.current;
  }

  settle(outcome: UpstreamOutcome): void {
    if (this.current !== 'pending') throw new Error(`quota ticket ${this.id} is already settled (${this.current}); cannot settle it again as ${outcome}`);
    this.current = outcome;
    try {
      this.journal.settle(this.id, outcome);
    } catch (cause) {
      this.onJournalError(new QuotaJournalError(`the quota journal could not store the outcome of call ${this.id}: ${message(cause)}`, { cause }));
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
