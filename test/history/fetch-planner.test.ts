import { describe, expect, it } from 'vitest';
import { type DayCoverage, daysOfPeriod, gridBlockOf, planFetches } from '../../src/history/fetch-planner.js';
import { addDays, type LocalDay, localDayOf, startOfDay } from '../../src/time/zone.js';

const ZONE = 'Europe/Moscow';
const NOW = Date.parse('2024-03-20T12:00:00+03:00');
const MIN = 60_000;

function needs(first: LocalDay, count: number, maxAge = 15 * MIN): Map<LocalDay, number> {
  return new Map(Array.from({ length: count }, (_, i) => [addDays(first, i), maxAge]));
}

function daysFrom(first: LocalDay, count: number): LocalDay[] {
  return Array.from({ length: count }, (_, i) => addDays(first, i));
}

function held(day: LocalDay, fetchedAt: number, sealed = false): [LocalDay, DayCoverage] {
  return [day, { day, fetchedAt, sealed }];
}

describe('gridBlockOf', () => {
  it('puts every day of an ISO week in one 7-day block starting on its Monday', () => {
    // 2024-03-18 is a Monday.
    for (let i = 0; i < 7; i++) expect(gridBlockOf(addDays('2024-03-18', i), 7)).toEqual({ first: '2024-03-18', days: 7 });
    expect(gridBlockOf('2024-03-25', 7)).toEqual({ first: '2024-03-25', days: 7 });
    expect(gridBlockOf('1970-01-01', 7)).toEqual({ first: '1969-12-29', days: 7 });
  });

  it('at night, cuts the calendar into runs of whole ISO weeks that every day agrees on', () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 120; i++) {
      const day = addDays('2024-01-01', i);
      const block = gridBlockOf(day, 31);
      expect(block.days).toBe(28);
      expect(new Date(`${block.first}T00:00:00Z`).getUTCDay()).toBe(1);
      expect(day >= block.first && day < addDays(block.first, 28)).toBe(true);
      seen.set(block.first, (seen.get(block.first) ?? 0) + 1);
    }
    // Blocks never overlap: each full block was reached by its 28 days exactly.
    expect([...seen.values()].filter((n) => n === 28).length).toBeGreaterThanOrEqual(3);
    // A night block is made of whole day blocks.
    expect(gridBlockOf('2024-03-20', 14).days).toBe(14);
    expect(gridBlockOf(gridBlockOf('2024-03-20', 31).first, 7).first).toBe(gridBlockOf('2024-03-20', 31).first);
  });

  it('cuts the ISO week from its Monday when a call may be shorter than a week', () => {
    expect(gridBlockOf('2024-03-18', 3)).toEqual({ first: '2024-03-18', days: 3 });
    expect(gridBlockOf('2024-03-22', 3)).toEqual({ first: '2024-03-21', days: 3 });
    expect(gridBlockOf('2024-03-24', 3)).toEqual({ first: '2024-03-24', days: 1 });
  });
});

describe('planFetches', () => {
  const plan = (needed: Map<LocalDay, number>, coverage = new Map<LocalDay, DayCoverage>(), maxDaysPerCall = 7, exclude?: Set<LocalDay>) =>
    planFetches({ needs: needed, coverage, now: NOW, zone: ZONE, maxDaysPerCall, exclude });

  it('brings the whole grid week for one day of it: two questions of a day each in one week cost one call', () => {
    const calls = plan(new Map([...needs('2024-03-05', 1), ...needs('2024-03-08', 1)]));
    expect(calls).toEqual([
      { days: daysFrom('2024-03-04', 7), from: Date.parse('2024-03-04T00:00:00+03:00'), to: Date.parse('2024-03-11T00:00:00+03:00'), required: true },
    ]);
  });

  it('a question spanning two grid weeks costs two calls, each the whole week', () => {
    const calls = plan(needs('2024-03-09', 3));
    expect(calls.map((c) => c.days)).toEqual([daysFrom('2024-03-04', 7), daysFrom('2024-03-11', 7)]);
  });

  it('cuts 30 days by day into the grid weeks they touch, and at night into 4-week blocks', () => {
    // 2024-02-01 is a Thursday: its week began on 2024-01-29.
    expect(plan(needs('2024-02-01', 30)).map((c) => [c.days[0], c.days.length])).toEqual([
      ['2024-01-29', 7],
      ['2024-02-05', 7],
      ['2024-02-12', 7],
      ['2024-02-19', 7],
      ['2024-02-26', 7],
    ]);
    const night = plan(needs('2024-02-01', 30), new Map(), 31);
    expect(night.length).toBeLessThanOrEqual(2);
    expect(night.flatMap((c) => c.days)).toEqual(expect.arrayContaining([...needs('2024-02-01', 30).keys()]));
    for (const call of night) expect(call.days.length).toBeLessThanOrEqual(28);
  });

  it('never puts a held day nobody asked to refresh, or a future day, in a call; runs split around held days', () => {
    const coverage = new Map([held('2024-03-03', NOW - 100 * 24 * 60 * MIN, true), held('2024-03-06', NOW - 5 * MIN)]);
    const calls = plan(needs('2024-03-01', 2), coverage);
    // The week of 2024-02-26: needed 03-01 and 03-02; filled with 02-26..02-29 (never held); 03-03 is sealed.
    expect(calls.map((c) => c.days)).toEqual([['2024-02-26', '2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02']]);
    const current = plan(needs('2024-03-18', 2), new Map([held('2024-03-19', NOW - 5 * MIN)]));
    // NOW is Wednesday 2024-03-20 12:00: the 18th is needed, the 19th is fresh; today (the 20th) is
    // never held but cut off by the 19th, so no call brings it alone; the 21st is future.
    expect(current.map((c) => c.days)).toEqual([['2024-03-18']]);
    const all = plan(needs('2024-03-04', 21), coverage).flatMap((c) => c.days);
    expect(all).not.toContain('2024-03-03');
    expect(all).not.toContain('2024-03-06');
    expect(all.filter((d) => d > '2024-03-20')).toEqual([]);
  });

  it('a run with only filled days is no call', () => {
    const coverage = new Map([held('2024-03-12', NOW - 5 * MIN)]);
    // Needed the 13th; the 11th is never held but cut off from it by the held 12th.
    expect(plan(needs('2024-03-13', 1), coverage).map((c) => c.days)).toEqual([['2024-03-13', '2024-03-14', '2024-03-15', '2024-03-16', '2024-03-17']]);
  });

  it('refetches an unsealed day older than its maxAge, as a refresh rather than a required call', () => {
    const coverage = new Map([held('2024-03-20', NOW - 20 * MIN), held('2024-03-18', NOW - 5 * MIN), held('2024-03-19', NOW - 5 * MIN)]);
    expect(plan(needs('2024-03-20', 1, 15 * MIN), coverage)).toEqual([expect.objectContaining({ days: ['2024-03-20'], required: false })]);
    expect(plan(needs('2024-03-20', 1, 30 * MIN), coverage)).toEqual([]);
  });

  it('leaves out excluded days (in flight elsewhere), needed or filled', () => {
    const calls = plan(needs('2024-03-13', 1), new Map(), 7, new Set(['2024-03-12', '2024-03-14']));
    expect(calls.map((c) => c.days)).toEqual([['2024-03-13']]);
    expect(plan(needs('2024-03-13', 1), new Map(), 7, new Set(['2024-03-13']))).toEqual([]);
  });

  it('does not fetch days that have not begun', () => {
    expect(plan(needs('2024-03-21', 5))).toEqual([]);
  });

  it('lists the local days of a half-open period', () => {
    const dayOf = (t: number): LocalDay => localDayOf(t, ZONE);
    const from = startOfDay('2024-03-01', ZONE);
    expect(daysOfPeriod(from, startOfDay('2024-03-03', ZONE), dayOf)).toEqual(['2024-03-01', '2024-03-02']);
    expect(daysOfPeriod(from + 1, startOfDay('2024-03-03', ZONE) + 1, dayOf)).toEqual(['2024-03-01', '2024-03-02', '2024-03-03']);
  });
});
