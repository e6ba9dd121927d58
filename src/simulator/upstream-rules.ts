/**
 * The upstream's limits for GetHistoryOfServiceCalls, on the injected clock.
 *
 * - Quota: a sliding 60-minute window per API login. The limit in force is the one of the moment
 *   of the call: `dayLimit` (10) by day, `nightLimit` (50) at night; past it, `OUT_OF_LIMIT`.
 * - Period: by day, a period longer than `dayMaxDays` (7) days is refused. At night any period is
 *   accepted unless `nightMaxDays` is set; then a period longer than that many days is refused
 *   too (the day of the call decides which cap applies, as for the quota). The real ResultCode for
 *   either is unknown; `PERIOD_TOO_LONG` is the simulator's choice, the same for both.
 * - What counts towards the window (the simulator's choice): every authenticated call of the
 *   operation that the quota let through, whatever its answer (success, PERIOD_TOO_LONG,
 *   PARAM_NOT_EXIST). OUT_OF_LIMIT refusals do not count, so waiting out the hour always helps.
 */
import type { Clock } from '../time/clock.js';
import { DEFAULT_DAY_HOURS, periodKindAt, type DayHours, type PeriodKind } from '../time/day-night.js';
import { DAY_MS } from '../time/zone.js';

export const QUOTA_WINDOW_MS = 60 * 60 * 1000;
export const OUT_OF_LIMIT = 'OUT_OF_LIMIT';
/** The simulator's code for a too-long period, by day or night (the real one is not documented). */
export const PERIOD_TOO_LONG = 'PERIOD_TOO_LONG';

export interface UpstreamLimits {
  /** The upstream's zone: day and night are its wall-clock hours. */
  zone: string;
  dayHours?: DayHours;
  dayLimit?: number;
  nightLimit?: number;
  dayMaxDays?: number;
  /** Longest period accepted at night, in days; unset (default): no limit at night. */
  nightMaxDays?: number;
}

export interface Refusal {
  outcome: 'out-of-limit' | 'period-too-long';
  code: string;
  text: string;
}

export class UpstreamRules {
  readonly zone: string;
  readonly dayHours: DayHours;
  readonly dayLimit: number;
  readonly nightLimit: number;
  readonly dayMaxDays: number;
  /** null: any period is accepted at night. */
  readonly nightMaxDays: number | null;
  /** Clock times of the calls counted in the window, oldest first. */
  private counted: number[] = [];

  constructor(
    private readonly clock: Clock,
    limits: UpstreamLimits,
  ) {
    this.zone = limits.zone;
    this.dayHours = limits.dayHours ?? DEFAULT_DAY_HOURS;
    this.dayLimit = positiveInteger('dayLimit', limits.dayLimit ?? 10);
    this.nightLimit = positiveInteger('nightLimit', limits.nightLimit ?? 50);
    this.dayMaxDays = positiveInteger('dayMaxDays', limits.dayMaxDays ?? 7);
    this.nightMaxDays = limits.nightMaxDays === undefined ? null : positiveInteger('nightMaxDays', limits.nightMaxDays);
  }

  periodKind(): PeriodKind {
    return periodKindAt(this.clock.now(), this.zone, this.dayHours);
  }

  limitInForce(): number {
    return this.periodKind() === 'DAY' ? this.dayLimit : this.nightLimit;
  }

  /** Calls counted within the last 60 minutes. */
  callsInWindow(): number {
    const now = this.clock.now();
    this.counted = this.counted.filter((at) => at > now - QUOTA_WINDOW_MS);
    return this.counted.length;
  }

  /** Takes one call from the quota: null when it is let through (and counted), else the refusal. */
  takeQuota(): Refusal | null {
    const limit = this.limitInForce();
    if (this.callsInWindow() >= limit) {
      return {
        outcome: 'out-of-limit',
        code: OUT_OF_LIMIT,
        text: `Превышен лимит вызовов операции GetHistoryOfServiceCalls: ${limit} в час (limit reached)`,
      };
    }
    this.counted.push(this.clock.now());
    return null;
  }

  /**
   * By day, refuses periods longer than `dayMaxDays` days; at night, those longer than
   * `nightMaxDays` days when it is set, else none.
   */
  checkPeriod(period: { from: number; to: number }): Refusal | null {
    const night = this.periodKind() === 'NIGHT';
    const maxDays = night ? this.nightMaxDays : this.dayMaxDays;
    if (maxDays === null || period.to - period.from <= maxDays * DAY_MS) return null;
    return {
      outcome: 'period-too-long',
      code: PERIOD_TOO_LONG,
      text: night
        ? `Ночью период не может превышать ${maxDays} календарных дней (period too long)`
        : `В дневное время период не может превышать ${maxDays} календарных дней (period too long)`,
    };
  }

  /** Both checks in the server's order: quota first, then the period. */
  admit(period: { from: number; to: number }): Refusal | null {
    return this.takeQuota() ?? this.checkPeriod(period);
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
