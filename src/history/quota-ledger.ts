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
  /** Calls per hour kept for interactive questions: background work spends only above them. Default none. */
  reserve?: { day: number; night: number };
}

/** Who an upstream call is for: a question waiting for it, or background work nobody waits for. */
export type CallPriority = 'interactive' | 'background';

export interface QuotaState {
  periodKind: PeriodKind;
  limitPerHour: number;
  usedLastHour: number;
  remaining: number;
  /** When the next upstream call may be made (now when one may be made now). */
  nextCallAt: number;
  /** Set while an OUT_OF_LIMIT from the upstream holds calls back. */
  blockedUntil: number | null;
  /** Calls per hour kept for interactive questions now (background work spends only above them). */
  reserve: number;
  /** Of usedLastHour, the calls made by background work (by this process since it started). */
  backgroundLastHour: number;
  /** Calls planned and waiting for an upstream slot: counted against the limit as if made. */
  waiting: number;
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

/**
 * A call promised to a plan before it can be made (it waits for an upstream slot): it counts
 * against the limit from now on, and is put on record (dated) only when it starts.
 */
export interface LedgerReservation {
  readonly priority: CallPriority;
  /**
   * The call starts now: records it and returns its ticket; null, recording nothing, when the limit
   * in force now no longer allows it (an OUT_OF_LIMIT block came, or the night limit gave way to the
   * smaller day one meanwhile). Throws a QuotaJournalError when it cannot be recorded (fail closed).
   */
  start(): LedgerTicket | null;
  /** The call will not be made: its place is given back. */
  release(): void;
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
/** The quota's rules in time: the limit, the reserve and the period kind in force at an instant. */
export class QuotaCalendar {
  constructor(protected readonly rules: QuotaRules) {}

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

  /** Calls per hour kept for interactive questions at `instant`. */
  reserveAt(instant: number): number {
    const reserve = this.rules.reserve ?? { day: 0, night: 0 };
    return this.kindAt(instant) === 'DAY' ? reserve.day : reserve.night;
  }
}

export class QuotaLedger extends QuotaCalendar {
  /** When the calls of the window were made; unordered (skewed entries), pruned as they leave it. */
  private calls: number[] = [];
  private blockedUntil = 0;
  /** Reservations not yet started or released. */
  private waiting = 0;
  /** When this process's background calls of the window were made. */
  private backgroundCalls: number[] = [];
  /** When the calls of the window were made, by API key (this process's; a restart forgets it). */
  private readonly keyCalls = new Map<string, number[]>();
  /** The longest night period the upstream accepted after refusing a longer one (journal); null: never lowered. */
  private nightCap: number | null;
  private readonly journal: QuotaJournal;
  private readonly onJournalError: (error: QuotaJournalError) => void;

  /** Throws a QuotaJournalError when the journal cannot be read. */
  constructor(
    rules: QuotaRules,
    private readonly clock: Clock,
    options: QuotaLedgerOptions = {},
  ) {
    super(rules);
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
    try {
      this.nightCap = this.journal.nightMaxDays();
    } catch (cause) {
      throw new QuotaJournalError(`the quota journal could not be read: ${message(cause)}`, { cause });
    }
  }

  /** The night-time period cap the upstream was found to enforce (remembered across restarts); null when never lowered. */
  get nightMaxDays(): number | null {
    return this.nightCap;
  }

  /**
   * The upstream refused a night period longer than `days`: remembers it (in the journal, so a restart
   * keeps it). Returns true when this lowered the cap (false when it was already as low). A journal
   * that cannot write it is reported and the cap holds in memory.
   */
  lowerNightMaxDays(days: number): boolean {
    if (this.nightCap !== null && this.nightCap <= days) return false;
    this.nightCap = days;
    try {
      this.journal.rememberNightMaxDays(days);
    } catch (cause) {
      this.onJournalError(new QuotaJournalError(`the quota journal could not remember the night period cap: ${message(cause)}`, { cause }));
    }
    return true;
  }

  /**
   * Calls that may still be promised now to work of this priority: the limit in force (less the
   * reserve, for background work) minus the calls of the last hour and those waiting for a slot; 0
   * while an OUT_OF_LIMIT block holds.
   */
  free(priority: CallPriority): number {
    const now = this.clock.now();
    this.prune(now);
    if (now < this.blockedUntil) return 0;
    const limit = this.limitAt(now) - (priority === 'background' ? this.reserveAt(now) : 0);
    return Math.max(0, limit - this.usedAt(now) - this.waiting);
  }

  /** Calls made in the last hour for this API key (by this process). */
  usedByKey(key: string): number {
    const now = this.clock.now();
    const calls = (this.keyCalls.get(key) ?? []).filter((at) => at > now - HOUR);
    if (calls.length) this.keyCalls.set(key, calls);
    else this.keyCalls.delete(key);
    return calls.length;
  }

  /** When the key's `count` oldest calls of the window have left it (epoch ms): when it may spend `count` more. */
  keyFreesAt(key: string, count: number): number {
    const now = this.clock.now();
    const calls = (this.keyCalls.get(key) ?? []).filter((at) => at > now - HOUR).sort((a, b) => a - b);
    const at = calls[count - 1];
    return at === undefined ? now : at + HOUR;
  }

  /**
   * Promises one call to work of this priority if `free(priority)` allows it; null otherwise. The
   * call is recorded when it starts (LedgerReservation.start), so the hour is counted from the moment
   * it is really made. `key`: the API key it is made for, counted for that key's share.
   */
  reserve(priority: CallPriority, key?: string): LedgerReservation | null {
    if (this.free(priority) < 1) return null;
    this.waiting++;
    // Counted for its key from the moment it is promised: concurrent requests of one key see each other.
    const keyed = key === undefined ? undefined : this.clock.now();
    if (key !== undefined) this.keyCalls.set(key, [...(this.keyCalls.get(key) ?? []), keyed as number]);
    let open = true;
    const unkey = (): void => {
      if (key === undefined) return;
      const calls = this.keyCalls.get(key) ?? [];
      const i = calls.indexOf(keyed as number);
      if (i >= 0) calls.splice(i, 1);
    };
    const close = (): boolean => {
      if (!open) return false;
      open = false;
      this.waiting--;
      return true;
    };
    return {
      priority,
      start: () => {
        if (!close()) throw new Error('this quota reservation was already started or released');
        const now = this.clock.now();
        this.prune(now);
        if (!(now >= this.blockedUntil && this.usedAt(now) + this.waiting + 1 <= this.limitAt(now))) {
          unkey();
          return null;
        }
        const ticket = this.ticket(this.record(now), now);
        if (priority === 'background') this.backgroundCalls.push(now);
        return ticket;
      },
      release: () => {
        if (close()) unkey();
      },
    };
  }

  /** Calls counting at `instant` (not before it): those less than an hour old, future-dated ones included. */
  private usedAt(instant: number): number {
    let used = 0;
    for (const at of this.calls) if (at > instant - HOUR) used++;
    return used;
  }

  private prune(now: number): void {
    if (this.calls.some((at) => at <= now - HOUR)) this.calls = this.calls.filter((at) => at > now - HOUR);
    if (this.backgroundCalls.some((at) => at <= now - HOUR)) this.backgroundCalls = this.backgroundCalls.filter((at) => at > now - HOUR);
  }

  private allows(now: number, count: number): boolean {
    this.prune(now);
    return now >= this.blockedUntil && this.usedAt(now) + this.waiting + count <= this.limitAt(now);
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
    return this.ticket(this.record(now), now);
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

  /** A ticket whose outcome goes to the journal; a journal that cannot store it is reported, never thrown. */
  private ticket(id: number, at: number): LedgerTicket {
    return new SettleOnceTicket(id, at, (outcome) => {
      try {
        this.journal.settle(id, outcome);
      } catch (cause) {
        this.onJournalError(new QuotaJournalError(`the quota journal could not store the outcome of call ${id}: ${message(cause)}`, { cause }));
      }
    });
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
    return earliestFit({
      now,
      calls: this.calls,
      waiting: this.waiting,
      blockedUntil: this.blockedUntil,
      needed: count,
      limitAt: (instant) => this.limitAt(instant),
      kindAt: (instant) => this.kindAt(instant),
    });
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
      remaining: blocked ? 0 : Math.max(0, limit - used - this.waiting),
      nextCallAt: this.availableAt(1),
      blockedUntil: blocked ? this.blockedUntil : null,
      reserve: this.reserveAt(now),
      backgroundLastHour: this.backgroundCalls.length,
      waiting: this.waiting,
    };
  }
}

/** What earliestFit needs to know: a window of calls, the rules as functions of time, and what is asked. */
export interface FitQuestion {
  /** The instant asked from (epoch ms). */
  now: number;
  /** When the calls of the window were made (any order; calls an hour old or more at `now` are ignored). */
  calls: readonly number[];
  /** Calls promised but not made yet: taken as made now (they count until an hour from now). */
  waiting: number;
  /** Until when an OUT_OF_LIMIT block holds (0, or any instant not after `now`: none). */
  blockedUntil: number;
  /** Calls wanted together; may depend on the period kind (night calls may be longer, so fewer are needed). */
  needed: number | ((kind: PeriodKind) => number);
  limitAt(instant: number): number;
  kindAt(instant: number): PeriodKind;
}

/**
 * The earliest instant (epoch ms), not before `now` nor before the block ends, at which `needed` calls
 * would be allowed together if no other call is made meanwhile; +Infinity when no hour's limit allows
 * that many. Pure: the process's ledger and a ledger shared by replicas give the same answer for the
 * same calls.
 */
export function earliestFit(question: FitQuestion): number {
  const { now, calls, waiting, limitAt, kindAt } = question;
  const start = Math.max(now, question.blockedUntil);
  const count = question.needed;
  const needed = typeof count === 'number' ? () => count : count;
  // Calls counting at `instant` (not before it): those less than an hour old, future-dated ones included.
  const usedAt = (instant: number): number => {
    let used = 0;
    for (const at of calls) if (at > instant - HOUR) used++;
    return used;
  };
  // Only these moments can change the answer: now, a recorded call leaving the window, or a
  // day/night switch. Two days of switches cover both kinds whatever the day hours.
  // Calls waiting for a slot are taken as made now: they count until an hour from now.
  const waitingAt = (t: number): number => (t < now + HOUR ? waiting : 0);
  const candidates = [start, now + HOUR, ...calls.map((at) => at + HOUR), ...periodSwitchesWithin(start, start + 2 * DAY, kindAt)]
    .filter((t) => t >= start)
    .sort((a, b) => a - b);
  for (const t of candidates) {
    if (usedAt(t) + waitingAt(t) + needed(kindAt(t)) <= limitAt(t)) return t;
  }
  return Number.POSITIVE_INFINITY;
}

/** The instants in [from, to] at which the period kind changes (checked every quarter hour). */
export function periodSwitchesWithin(from: number, to: number, kindAt: (instant: number) => PeriodKind): number[] {
  const switches: number[] = [];
  let kind = kindAt(from);
  // Day/night switches happen on the hour (or half hour in a few zones).
  for (let t = Math.ceil(from / (HOUR / 4)) * (HOUR / 4); t <= to; t += HOUR / 4) {
    const next = kindAt(t);
    if (next !== kind) switches.push(t);
    kind = next;
  }
  return switches;
}

/** A ticket settled exactly once (a second settle throws); `store` writes the outcome where the ledger keeps it. */
export class SettleOnceTicket implements LedgerTicket {
  private current: LedgerOutcome = 'pending';

  constructor(
    readonly id: number,
    readonly at: number,
    private readonly store: (outcome: UpstreamOutcome) => void,
  ) {}

  get outcome(): LedgerOutcome {
    return this.current;
  }

  settle(outcome: UpstreamOutcome): void {
    if (this.current !== 'pending') throw new Error(`quota ticket ${this.id} is already settled (${this.current}); cannot settle it again as ${outcome}`);
    this.current = outcome;
    this.store(outcome);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
