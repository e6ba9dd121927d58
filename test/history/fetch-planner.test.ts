import { describe, expect, it } from 'vitest';
import { type DayCoverage, daysOfPeriod, planFetches } from '../../src/history/fetch-planner.js';
import { addDays, type LocalDay, localDayOf, startOfDay } from '../../src/time/zone.js';

const ZONE = 'Europe/Moscow';
const NOW = Date.parse('2024-03-20T12:00:00+03:00');
const MIN = 60_000;

function needs(first: LocalDay, count: number, maxAge = 15 * MIN): Map<LocalDay, number> {
  return new Map(Array.from({ length: count }, (_, i) => [addDays(first, i), maxAge]));
}

function held(day: LocalDay, fetchedAt: number, sealed = false): [LocalDay, DayCoverage] {
  return [day, { day, fetchedAt, sealed }];
}

describe('planFetches', () => {
  it('cuts a 30-day run into calls of at most 7 days: 7+7+7+7+2', () => {
    const plan = planFetches({ needs: needs('2024-02-01', 30), coverage: new Map(), now: NOW, zone: ZONE, maxDaysPerCall: 7 });
    expect(plan.map((c) => c.days.length)).toEqual([7, 7, 7, 7, 2]);
    expect(plan[0]?.from).toBe(Date.parse('2024-02-01T00:00:00+03:00'));
    expect(plan[0]?.to).toBe(Date.parse('2024-02-08T00:00:00+03:00'));
    expect(plan.every((c) => c.required)).toBe(true);
  });

  it('makes one call of 30 days when a call may be 31 days long', () => {
    const plan = planFetches({ needs: needs('2024-02-01', 30), coverage: new Map(), now: NOW, zone: ZONE, maxDaysPerCall: 31 });
    expect(plan).toHaveLength(1);
    expect(plan[0]?.days).toHaveLength(30);
  });

  it('never fetches sealed or fresh days, and splits runs around them', () => {
    const coverage = new Map([
      held('2024-03-03', NOW - 100 * 24 * 60 * MIN, true),
      held('2024-03-05', NOW - 5 * MIN),
    ]);
    const plan = planFetches({ needs: needs('2024-03-01', 7), coverage, now: NOW, zone: ZONE, maxDaysPerCall: 7 });
    expect(plan.map((c) => c.days)).toEqual([['2024-03-01', '2024-03-02'], ['2024-03-04'], ['2024-03-06', '2024-03-07']]);
  });

  it('refetches an unsealed day older than its maxAge, as a refresh rather than a required call', () => {
    const coverage = new Map([held('2024-03-20', NOW - 20 * MIN)]);
    const stale = planFetches({ needs: needs('2024-03-20', 1, 15 * MIN), coverage, now: NOW, zone: ZONE, maxDaysPerCall: 7 });
    expect(stale).toEqual([expect.objectContaining({ days: ['2024-03-20'], required: false })]);
    const fresh = planFetches({ needs: needs('2024-03-20', 1, 30 * MIN), coverage, now: NOW, zone: ZONE, maxDaysPerCall: 7 });
    expect(fresh).toEqual([]);
  });

  it('does not fetch days that have not begun', () => {
    const plan = planFetches({ needs: needs('2024-03-19', 5), coverage: new Map(), now: NOW, zone: ZONE, maxDaysPerCall: 7 });
    expect(plan.map((c) => c.days)).toEqual([['2024-03-19', '2024-03-20']]);
  });

  it('lists the local days of a half-open period', () => {
    const dayOf = (t: number): LocalDay => localDayOf(t, ZONE);
    const from = startOfDay('2024-03-01', ZONE);
    expect(daysOfPeriod(from, startOfDay('2024-03-03', ZONE), dayOf)).toEqual(['2024-03-01', '2024-03-02']);
    expect(daysOfPeriod(from + 1, startOfDay('2024-03-03', ZONE) + 1, dayOf)).toEqual(['2024-03-01', '2024-03-02', '2024-03-03']);
  });
});
