import { addDays, DAY_MS, type LocalDay, localDayToWall, startOfDay } from '../time/zone.js';

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
  /** Each day a question needs, with the oldest copy it accepts (ms). */
  needs: ReadonlyMap<LocalDay, number>;
  coverage: ReadonlyMap<LocalDay, DayCoverage>;
  now: number;
  zone: string;
  /** The longest period of one call in force now (day or night): it sets the grid's blocks. */
  maxDaysPerCall: number;
  /** Days no call may bring now (in flight elsewhere, or a recent undecodable response). */
  exclude?: ReadonlySet<LocalDay>;
}

export function dayState(day: LocalDay, coverage: DayCoverage | undefined, maxAgeMs: number, now: number, zone: string): DayState {
  if (startOfDay(day, zone) > now) return 'future';
  if (!coverage) return 'missing';
  if (coverage.sealed) return 'sealed';
  return now - coverage.fetchedAt > maxAgeMs ? 'stale' : 'fresh';
}

/** Days since 1970-01-01 of a local day (the calendar date, whatever the zone). */
const epochDay = (day: LocalDay): number => Math.round(localDayToWall(day) / DAY_MS);
/** 1970-01-01 was a Thursday: ISO weeks start 3 days before it. */
const MONDAY_SHIFT = 3;

/**
 * The block of the fixed calendar grid a day belongs to, for calls of at most `maxDaysPerCall` days:
 * ISO weeks (Monday 00:00 local) when a call may be 7 days; runs of floor(max / 7) whole ISO weeks,
 * counted from the ISO week of 1970-01-01, when it may be longer (night calls); pieces of the ISO
 * week from its Monday when it may be shorter. Every question, process and replica cuts the calendar
 * the same way, so their calls never overlap.
 */
export function gridBlockOf(day: LocalDay, maxDaysPerCall: number): { first: LocalDay; days: number } {
  const sinceMonday = epochDay(day) + MONDAY_SHIFT;
  const weekday = ((sinceMonday % 7) + 7) % 7;
  const monday = addDays(day, -weekday);
  if (maxDaysPerCall < 7) {
    const piece = Math.floor(weekday / maxDaysPerCall);
    return { first: addDays(monday, piece * maxDaysPerCall), days: Math.min(maxDaysPerCall, 7 - piece * maxDaysPerCall) };
  }
  const weeks = Math.floor(maxDaysPerCall / 7);
  const week = Math.floor(sinceMonday / 7);
  const blockWeek = Math.floor(week / weeks) * weeks;
  return { first: addDays(monday, (blockWeek - week) * 7), days: weeks * 7 };
}

/**
 * The calls that bring every needed day that is missing or older than its question accepts, on the
 * fixed grid of `gridBlockOf`: one call per run of consecutive days within a block, filled with the
 * never-held past days beside the needed ones (a call costs the same for one day or seven). Future
 * days are never in a call, nor is a held day nobody asked to refresh (sealed days never again).
 */
export function planFetches(input: PlanInput): PlannedCall[] {
  const { needs, coverage, now, zone, maxDaysPerCall } = input;
  const exclude = input.exclude ?? new Set<LocalDay>();
  const wanted = new Map<LocalDay, DayState>();
  for (const [day, maxAge] of needs) {
    if (exclude.has(day)) continue;
    const state = dayState(day, coverage.get(day), maxAge, now, zone);
    if (state === 'missing' || state === 'stale') wanted.set(day, state);
  }
  // Every block touched by a wanted day, with its days that a call may bring.
  const blocks = new Map<LocalDay, LocalDay[]>();
  for (const day of wanted.keys()) {
    const block = gridBlockOf(day, maxDaysPerCall);
    if (blocks.has(block.first)) continue;
    const days: LocalDay[] = [];
    for (let i = 0; i < block.days; i++) {
      const candidate = addDays(block.first, i);
      const fill = !coverage.has(candidate) && !exclude.has(candidate) && startOfDay(candidate, zone) <= now;
      if (wanted.has(candidate) || fill) days.push(candidate);
    }
    blocks.set(block.first, days);
  }
  const calls: PlannedCall[] = [];
  const close = (run: LocalDay[]): void => {
    if (!run.some((day) => wanted.has(day))) return;
    const first = run[0] as LocalDay;
    const last = run[run.length - 1] as LocalDay;
    calls.push({
      days: run,
      from: startOfDay(first, zone),
      to: startOfDay(addDays(last, 1), zone),
      required: run.some((day) => wanted.get(day) === 'missing'),
    });
  };
  for (const first of [...blocks.keys()].sort()) {
    let run: LocalDay[] = [];
    for (const day of blocks.get(first) as LocalDay[]) {
      const previous = run[run.length - 1];
      if (previous !== undefined && addDays(previous, 1) !== day) {
        close(run);
        run = [];
      }
      run.push(day);
    }
    close(run);
  }
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
