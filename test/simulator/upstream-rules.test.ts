import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { DAY_MS } from '../../src/time/zone.js';
import { OUT_OF_LIMIT, PERIOD_TOO_LONG, UpstreamRules } from '../../src/simulator/upstream-rules.js';

const ZONE = 'Europe/Moscow';
const DAY_NOON = Date.parse('2024-03-04T09:00:00Z'); // 12:00 Moscow
const NIGHT = Date.parse('2024-03-04T20:30:00Z'); // 23:30 Moscow
const MINUTE = 60_000;

const week = (from: number, extraMs = 0) => ({ from, to: from + 7 * DAY_MS + extraMs });

describe('UpstreamRules quota', () => {
  it('lets 10 calls through by day, refuses the 11th, and frees up as the window slides', () => {
    const clock = new ManualClock(DAY_NOON);
    const rules = new UpstreamRules(clock, { zone: ZONE });
    for (let i = 0; i < 10; i++) {
      expect(rules.takeQuota()).toBeNull();
      clock.advance(MINUTE);
    }
    const refusal = rules.takeQuota();
    expect(refusal).toMatchObject({ outcome: 'out-of-limit', code: OUT_OF_LIMIT });
    expect(refusal?.text).toContain('Превышен лимит вызовов операции');
    expect(refusal?.text).toContain('limit reached');
    // Refusals do not count: the first call leaves the window exactly 60 minutes after it was made.
    clock.set(DAY_NOON + 60 * MINUTE - 1);
    expect(rules.takeQuota()?.code).toBe(OUT_OF_LIMIT);
    clock.set(DAY_NOON + 60 * MINUTE);
    expect(rules.callsInWindow()).toBe(9);
    expect(rules.takeQuota()).toBeNull();
    expect(rules.takeQuota()?.code).toBe(OUT_OF_LIMIT);
  });

  it('allows 50 an hour at night, and the day limit applies to calls made at night within the hour', () => {
    const clock = new ManualClock(NIGHT);
    const rules = new UpstreamRules(clock, { zone: ZONE });
    expect(rules.periodKind()).toBe('NIGHT');
    expect(rules.limitInForce()).toBe(50);
    for (let i = 0; i < 50; i++) expect(rules.takeQuota()).toBeNull();
    expect(rules.takeQuota()?.code).toBe(OUT_OF_LIMIT);

    // 07:50 → 08:10 Moscow: 20 calls at night, then the day limit counts them too.
    const dawn = Date.parse('2024-03-05T04:50:00Z');
    clock.set(dawn);
    for (let i = 0; i < 20; i++) expect(rules.takeQuota()).toBeNull();
    clock.set(dawn + 20 * MINUTE);
    expect(rules.periodKind()).toBe('DAY');
    expect(rules.takeQuota()?.code).toBe(OUT_OF_LIMIT);
  });

  it('uses the configured limits and day hours', () => {
    const clock = new ManualClock(DAY_NOON);
    const rules = new UpstreamRules(clock, { zone: ZONE, dayHours: { from: 13, to: 14 }, dayLimit: 1, nightLimit: 2 });
    expect(rules.periodKind()).toBe('NIGHT'); // 12:00 is outside 13-14
    expect(rules.takeQuota()).toBeNull();
    expect(rules.takeQuota()).toBeNull();
    expect(rules.takeQuota()?.code).toBe(OUT_OF_LIMIT);
    expect(() => new UpstreamRules(clock, { zone: ZONE, dayLimit: 0 })).toThrow(RangeError);
  });
});

describe('UpstreamRules period', () => {
  it('refuses more than 7 days by day, and accepts exactly 7', () => {
    const rules = new UpstreamRules(new ManualClock(DAY_NOON), { zone: ZONE });
    expect(rules.checkPeriod(week(DAY_NOON - 30 * DAY_MS))).toBeNull();
    expect(rules.checkPeriod(week(DAY_NOON - 30 * DAY_MS, 1000))).toMatchObject({ outcome: 'period-too-long', code: PERIOD_TOO_LONG });
  });

  it('accepts any period at night', () => {
    const rules = new UpstreamRules(new ManualClock(NIGHT), { zone: ZONE });
    expect(rules.nightMaxDays).toBeNull();
    expect(rules.checkPeriod({ from: 0, to: NIGHT })).toBeNull();
    expect(rules.checkPeriod({ from: NIGHT - 31 * DAY_MS, to: NIGHT })).toBeNull();
  });

  it('with nightMaxDays, refuses longer periods at night with PERIOD_TOO_LONG and accepts exactly that many days', () => {
    const clock = new ManualClock(NIGHT);
    const rules = new UpstreamRules(clock, { zone: ZONE, nightMaxDays: 7 });
    const refusal = rules.checkPeriod({ from: NIGHT - 31 * DAY_MS, to: NIGHT });
    expect(refusal).toMatchObject({ outcome: 'period-too-long', code: PERIOD_TOO_LONG });
    expect(refusal?.text).toBe('Ночью период не может превышать 7 календарных дней (period too long)');
    expect(rules.checkPeriod(week(NIGHT - 30 * DAY_MS, 1000))?.code).toBe(PERIOD_TOO_LONG);
    expect(rules.checkPeriod(week(NIGHT - 30 * DAY_MS))).toBeNull();
    // The day cap stays the day's: by day, with a larger night cap, 8 days are still refused.
    const wide = new UpstreamRules(new ManualClock(DAY_NOON), { zone: ZONE, nightMaxDays: 31 });
    const byDay = wide.checkPeriod({ from: DAY_NOON - 8 * DAY_MS, to: DAY_NOON });
    expect(byDay?.code).toBe(PERIOD_TOO_LONG);
    expect(byDay?.text).toContain('В дневное время');
    clock.set(NIGHT);
    expect(new UpstreamRules(clock, { zone: ZONE, nightMaxDays: 31 }).checkPeriod({ from: NIGHT - 31 * DAY_MS, to: NIGHT })).toBeNull();
    expect(() => new UpstreamRules(clock, { zone: ZONE, nightMaxDays: 0 })).toThrow(RangeError);
    expect(() => new UpstreamRules(clock, { zone: ZONE, nightMaxDays: 1.5 })).toThrow(RangeError);
  });

  it('counts a too-long period towards the window, but not an out-of-limit refusal', () => {
    const clock = new ManualClock(DAY_NOON);
    const rules = new UpstreamRules(clock, { zone: ZONE, dayLimit: 2 });
    expect(rules.admit(week(0, 1))?.code).toBe(PERIOD_TOO_LONG);
    expect(rules.admit(week(0))).toBeNull();
    expect(rules.admit(week(0))?.code).toBe(OUT_OF_LIMIT);
    expect(rules.callsInWindow()).toBe(2);
  });

  it('counts a period refused at night by nightMaxDays towards the window too', () => {
    const clock = new ManualClock(NIGHT);
    const rules = new UpstreamRules(clock, { zone: ZONE, nightLimit: 2, nightMaxDays: 7 });
    expect(rules.admit(week(0, 1))?.code).toBe(PERIOD_TOO_LONG);
    expect(rules.callsInWindow()).toBe(1);
    expect(rules.admit(week(0))).toBeNull();
    expect(rules.admit(week(0))?.code).toBe(OUT_OF_LIMIT);
    expect(rules.callsInWindow()).toBe(2);
  });
});
