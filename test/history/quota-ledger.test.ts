import { describe, expect, it } from 'vitest';
import { QuotaLedger } from '../../src/history/quota-ledger.js';
import { ManualClock } from '../../src/time/clock.js';

const RULES = { zone: 'Europe/Moscow', dayHours: { from: 8, to: 20 }, dayLimit: 10, nightLimit: 50 };
const MIN = 60_000;

describe('QuotaLedger', () => {
  it('allows 10 calls in a sliding daytime hour, then the next when the oldest leaves the window', () => {
    const clock = new ManualClock(Date.parse('2024-03-20T10:00:00+03:00'));
    const ledger = new QuotaLedger(RULES, clock);
    for (let i = 0; i < 10; i++) {
      expect(ledger.tryAcquire()).toBe(true);
      clock.advance(MIN);
    }
    expect(ledger.tryAcquire()).toBe(false);
    expect(ledger.state()).toMatchObject({ periodKind: 'DAY', limitPerHour: 10, usedLastHour: 10, remaining: 0 });
    expect(ledger.availableAt(1)).toBe(Date.parse('2024-03-20T11:00:00+03:00'));
    expect(ledger.availableAt(3)).toBe(Date.parse('2024-03-20T11:02:00+03:00'));
    clock.set(Date.parse('2024-03-20T11:00:00+03:00'));
    expect(ledger.tryAcquire()).toBe(true);
    expect(ledger.tryAcquire()).toBe(false);
  });

  it('uses the night limit outside the day hours of the zone, whatever the machine zone', () => {
    const clock = new ManualClock(Date.parse('2024-03-20T20:00:00+03:00'));
    const ledger = new QuotaLedger(RULES, clock);
    for (let i = 0; i < 50; i++) expect(ledger.tryAcquire()).toBe(true);
    expect(ledger.tryAcquire()).toBe(false);
    expect(ledger.state()).toMatchObject({ periodKind: 'NIGHT', limitPerHour: 50, remaining: 0 });
  });

  it('switches limits at the boundary: at 19:59 the day limit holds, at 20:00 the night one', () => {
    const clock = new ManualClock(Date.parse('2024-03-20T19:59:00+03:00'));
    const ledger = new QuotaLedger(RULES, clock);
    expect(ledger.tryAcquire(10)).toBe(true);
    expect(ledger.tryAcquire()).toBe(false);
    expect(ledger.availableAt(1)).toBe(Date.parse('2024-03-20T20:00:00+03:00'));
    clock.advance(MIN);
    expect(ledger.tryAcquire(40)).toBe(true);
    expect(ledger.tryAcquire()).toBe(false);
  });

  it('at the night-to-day switch, calls of the last hour count against the smaller day limit', () => {
    const clock = new ManualClock(Date.parse('2024-03-20T07:30:00+03:00'));
    const ledger = new QuotaLedger(RULES, clock);
    expect(ledger.tryAcquire(30)).toBe(true);
    clock.set(Date.parse('2024-03-20T08:00:00+03:00'));
    expect(ledger.tryAcquire()).toBe(false);
    expect(ledger.availableAt(1)).toBe(Date.parse('2024-03-20T08:30:00+03:00'));
  });

  it('after OUT_OF_LIMIT, blocks until the oldest call of the window is an hour old', () => {
    const clock = new ManualClock(Date.parse('2024-03-20T10:00:00+03:00'));
    const ledger = new QuotaLedger(RULES, clock);
    expect(ledger.tryAcquire()).toBe(true);
    clock.advance(20 * MIN);
    expect(ledger.tryAcquire()).toBe(true);
    ledger.blockAfterOutOfLimit();
    expect(ledger.tryAcquire()).toBe(false);
    expect(ledger.state()).toMatchObject({ remaining: 0, blockedUntil: Date.parse('2024-03-20T11:00:00+03:00') });
    clock.set(Date.parse('2024-03-20T11:00:00+03:00'));
    expect(ledger.tryAcquire()).toBe(true);
  });

  it('blocks for an hour after OUT_OF_LIMIT with an empty window', () => {
    const clock = new ManualClock(Date.parse('2024-03-20T10:00:00+03:00'));
    const ledger = new QuotaLedger(RULES, clock);
    ledger.blockAfterOutOfLimit();
    expect(ledger.availableAt(1)).toBe(Date.parse('2024-03-20T11:00:00+03:00'));
  });

  it('finds when a number of calls fit together, across a day/night switch hours away, or never', () => {
    const clock = new ManualClock(Date.parse('2024-03-20T10:00:00+03:00'));
    const ledger = new QuotaLedger(RULES, clock);
    expect(ledger.availableAt(10)).toBe(clock.now());
    // 11 calls never fit a daytime hour: the evening's night limit is the first that holds them.
    expect(ledger.availableAt(11)).toBe(Date.parse('2024-03-20T20:00:00+03:00'));
    // Fewer calls are needed at night (longer periods): counted by the kind in force at each moment.
    expect(ledger.availableAt((kind) => (kind === 'DAY' ? 12 : 5))).toBe(Date.parse('2024-03-20T20:00:00+03:00'));
    expect(ledger.availableAt(51)).toBe(Number.POSITIVE_INFINITY);
  });
});

