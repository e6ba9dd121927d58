import type { Clock } from '../time/clock.js';
import { type DayHours, type PeriodKind, periodKindAt } from '../time/day-night.js';

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

/**
 * Where an upstream call is allowed or refused. Records every call with its time; a call is allowed
 * while the calls of the last sliding hour are fewer than the limit in force now (day or night in the
 * upstream's zone) and no OUT_OF_LIMIT block holds. A sliding hour is never looser than the upstream's
 * own counting, whatever window it uses.
 */
export class QuotaLedger {
  private calls: number[] = [];
  private blockedUntil = 0;

  constructor(
    private readonly rules: QuotaRules,
    private readonly clock: Clock,
  ) {}

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

  private usedAt(instant: number): number {
    let used = 0;
    for (const at of this.calls) if (at > instant - HOUR && at <= instant) used++;
    return used;
  }

  private prune(now: number): void {
    if (this.calls.length && (this.calls[0] as number) <= now - HOUR) this.calls = this.calls.filter((at) => at > now - HOUR);
  }

  /** Records `count` calls made now if they are all allowed; returns false, recording nothing, otherwise. */
  tryAcquire(count = 1): boolean {
    const now = this.clock.now();
    this.prune(now);
    if (now < this.blockedUntil) return false;
    if (this.usedAt(now) + count > this.limitAt(now)) return false;
    for (let i = 0; i < count; i++) this.calls.push(now);
    return true;
  }

  /**
   * The upstream said OUT_OF_LIMIT: someone else spends the same login's quota. Calls wait until the
   * oldest call in our window is an hour old (an hour from now when the window is empty).
   */
  blockAfterOutOfLimit(): void {
    const now = this.clock.now();
    this.prune(now);
    const oldest = this.calls[0];
    this.blockedUntil = Math.max(this.blockedUntil, (oldest ?? now) + HOUR);
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
