import { addDays, DAY_MS, type LocalDay, startOfDay } from '../time/zone.js';

/** What the store knows of one day of history. */
export interface DayCoverage {
  day: LocalDay;
  /** When the upstream call that brought this copy was made (epoch ms). */
  fetchedAt: number;
  /** Fetched long enough after the day ended that it can no longer change: never fetched again. */
  sealed: boolean;
}

export type DayState = 'future' | 'sealed' | 'fresh' | 'stale' | 'missing';

/** One upstream call: whole consecutive days, unfiltered. */
export interface PlannedCall {
  days: LocalDay[];
  /** Start of the first day (inclusive) and of the day after the last (exclusive), epoch ms. */
  from: number;
  to: number;
  /** True when it brings a day never held: without it the query cannot be answered at all. */
  required: boolean;
}

export interface PlanInput {
  /** Each day a query needs, with the oldest copy it accepts (ms). */
  needs: ReadonlyMap<LocalDay, number>;
  coverage: ReadonlyMap<LocalDay, DayCoverage>;
  now: number;
  zone: string;
  /** The longest period of one call in force now (day or night). */
  maxDaysPerCall: number;
}

export function dayState(day: LocalDay, coverage: DayCoverage | undefined, maxAgeMs: number, now: number, zone: string): DayState {
  if (startOfDay(day, zone) > now) return 'future';
  if (!coverage) return 'missing';
  if (coverage.sealed) return 'sealed';
  return now - coverage.fetchedAt > maxAgeMs ? 'stale' : 'fresh';
}

/**
 * The days that are missing or older than their query accepts become runs of consecutive days,
 * each cut into calls of at most `maxDaysPerCall` days. Future days hold no calls yet and are
 * never fetched; sealed days are never fetched again.
 */
export function planFetches(input: PlanInput): PlannedCall[] {
  const wanted = [...input.needs.entries()]
    .map(([day, maxAge]) => ({ day, state: dayState(day, input.coverage.get(day), maxAge, input.now, input.zone) }))
    .filter((d) => d.state === 'missing' || d.state === 'stale')
    .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));

  const calls: PlannedCall[] = [];
  let current: { days: LocalDay[]; required: boolean } | null = null;
  const close = (): void => {
    if (!current) return;
    const first = current.days[0] as LocalDay;
    const last = current.days[current.days.length - 1] as LocalDay;
    calls.push({
      days: current.days,
      from: startOfDay(first, input.zone),
      to: startOfDay(addDays(last, 1), input.zone),
      required: current.required,
    });
    current = null;
  };
  for (const { day, state } of wanted) {
    const previous = current?.days[current.days.length - 1];
    if (!current || previous === undefined || addDays(previous, 1) !== day || current.days.length >= input.maxDaysPerCall) {
      close();
      current = { days: [], required: false };
    }
    current.days.push(day);
    current.required ||= state === 'missing';
  }
  close();
  return calls;
}

/**
 * The local days a half-open period [from, to) touches. The loop is counted before it runs, so it
 * never runs longer than the days asked for, whatever the calendar strings look like.
 */
export function daysOfPeriod(from: number, to: number, dayOf: (instant: number) => LocalDay): LocalDay[] {
  if (!(to > from)) return [];
  const first = dayOf(from);
  const count = Math.round((Date.parse(`${dayOf(to - 1)}T00:00:00Z`) - Date.parse(`${first}T00:00:00Z`)) / DAY_MS) + 1;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`no days between ${from} and ${to}`);
  const days: LocalDay[] = [first];
  for (let i = 1; i < count; i++) days.push(addDays(first, i));
  return days;
}
