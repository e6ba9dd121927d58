import { describe, expect, it } from 'vitest';
import { gridBlockOf } from '../../src/history/fetch-planner.js';
import type { PeriodAnswer } from '../../src/history/history-service.js';
import { MemoryQuotaJournal } from '../../src/history/quota-journal.js';
import { createLogger } from '../../src/server/logger.js';
import { addDays, type LocalDay, localDayOf } from '../../src/time/zone.js';
import { UpstreamResultError, UpstreamUnavailableError } from '../../src/upstream/errors.js';
import { at, HOUR, idsOf, MIN, setUp, ZONE } from '../support/history-service-setup.js';

/**
 * The quota economy of the history core on an injected clock: background work (refresh ahead,
 * sealing, night backfill) above the reserve, upstream concurrency, and the night period cap.
 * Every upstream call is counted (source.requests).
 */
const day = (t: number): LocalDay => localDayOf(t, ZONE);
const periodDays = (r: { periodFrom?: number; periodTo?: number }): number => Math.round(((r.periodTo ?? 0) - (r.periodFrom ?? 0)) / (24 * HOUR));

describe('refresh ahead', () => {
  it('a dashboard polling today every minute for an hour: never older than maxAge, no poll waits for the upstream after the first, one call per maxAge at most', async () => {
    const { clock, source, service, ask } = setUp('2024-03-20T10:00:00');
    const maxAge = 15 * MIN;
    const todayCalls: number[] = [];
    let pollsThatCalled = 0;
    for (let minute = 0; minute <= 60; minute++) {
      // The server runs its background work every 30 s; a poll comes each minute.
      for (const half of [0, 30_000]) {
        clock.set(at('2024-03-20T10:00:00') + minute * MIN + half);
        const before = source.requests.length;
        await service.runDueBackgroundWork();
        for (let i = before; i < source.requests.length; i++) todayCalls.push(clock.now());
        if (half) continue;
        const calls = source.requests.length;
        const answer = await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00', maxAge);
        if (source.requests.length > calls) {
          pollsThatCalled++;
          todayCalls.push(clock.now());
        }
        expect(answer.stale).toBe(false);
        expect(clock.now() - answer.asOf).toBeLessThanOrEqual(maxAge);
      }
    }
    // Only the first poll waited for the upstream; the refreshes came ahead of it, in the background.
    expect(pollsThatCalled).toBe(1);
    expect(todayCalls[0]).toBe(at('2024-03-20T10:00:00'));
    // Each refresh within the last 30 s before the copy turned stale: never two in one maxAge less that.
    for (let i = 1; i < todayCalls.length; i++) expect((todayCalls[i] as number) - (todayCalls[i - 1] as number)).toBeGreaterThanOrEqual(maxAge - 30_000);
    expect(todayCalls.length).toBeLessThanOrEqual(60 / 15 + 1);
    expect(source.requests).toHaveLength(todayCalls.length);
    // Every refresh brought today alone: the rest of the week was held by the first call.
    for (const r of source.requests.slice(1)) expect(periodDays(r)).toBe(1);
  });

  it('stops refreshing a day nobody asked for in the last hour', async () => {
    const { clock, source, service, ask } = setUp('2024-03-20T10:00:00');
    await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    for (let t = 0; t <= 3 * 60; t++) {
      clock.set(at('2024-03-20T10:00:00') + t * MIN);
      await service.runDueBackgroundWork();
    }
    // 10:00, then ahead of 10:15, 10:30, 10:45 and 11:00: after that nobody had asked for an hour.
    expect(source.requests.length).toBeGreaterThanOrEqual(4);
    expect(source.requests.length).toBeLessThanOrEqual(5);
    // What is left: sealing today once it has settled, 2 h after its end.
    expect(service.nextBackgroundAt).toBe(at('2024-03-21T02:00:00'));
  });
});

describe('sealing', () => {
  it('fetches a settled day once more in the background and seals it: asking for it later costs nothing', async () => {
    const { clock, source, service, ask } = setUp('2024-03-20T22:00:00');
    await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    expect(source.requests).toHaveLength(1);
    clock.set(at('2024-03-21T01:59:00'));
    await service.runDueBackgroundWork();
    expect(source.requests).toHaveLength(1);
    // The settle time passed (2 h after the day's end).
    expect(service.nextBackgroundAt).toBe(at('2024-03-21T02:00:00'));
    clock.set(at('2024-03-21T02:00:00'));
    expect(await service.runDueBackgroundWork()).toEqual({ calls: 1, deferred: 0 });
    expect(source.requests).toHaveLength(2);
    expect(source.requests[1]?.periodFrom).toBe(at('2024-03-20T00:00:00'));
    clock.set(at('2024-03-25T12:00:00'));
    const answer = await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00', 0);
    expect(answer).toMatchObject({ stale: false, asOf: at('2024-03-21T02:00:00') });
    expect(source.requests).toHaveLength(2);
    // That call also brought the 21st as it was at 02:00 (a fill of the week): it is sealed in turn.
    expect(await service.runDueBackgroundWork()).toEqual({ calls: 1, deferred: 0 });
    expect(source.requests[2]?.periodFrom).toBe(at('2024-03-21T00:00:00'));
    expect(await service.runDueBackgroundWork()).toEqual({ calls: 0, deferred: 0 });
    expect(source.requests).toHaveLength(3);
  });
});

describe('night backfill', () => {
  it('fetches the last BACKFILL_DAYS never-held days in long calls, newest first; a 90-day question by day then costs 0 calls', async () => {
    const { clock, source, service, ask, expected } = setUp('2024-03-20T03:00:00', { backfillDays: 92, nightMaxDays: 31 });
    const run = await service.runDueBackgroundWork();
    const blocks = new Set(Array.from({ length: 92 }, (_, i) => gridBlockOf(addDays('2024-03-20', -i), 31).first));
    expect(run).toEqual({ calls: blocks.size, deferred: 0 });
    expect(source.requests).toHaveLength(blocks.size);
    const starts = source.requests.map((r) => r.periodFrom as number);
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    for (const r of source.requests) expect(periodDays(r)).toBeLessThanOrEqual(28);
    // Nothing more at night: everything is held.
    clock.set(at('2024-03-20T04:00:00'));
    await service.runDueBackgroundWork();
    expect(source.requests).toHaveLength(blocks.size);

    clock.set(at('2024-03-20T10:00:00'));
    const answer = await ask('2023-12-21T00:00:00', '2024-03-20T00:00:00');
    expect(await idsOf(answer)).toEqual(expected('2023-12-21T00:00:00', '2024-03-20T00:00:00'));
    expect(source.requests).toHaveLength(blocks.size);
  });

  it('spends only what is above the reserve, and leaves the reserve to a question', async () => {
    const { clock, source, service, ask } = setUp('2024-03-20T03:00:00', { backfillDays: 400, reserve: { day: 3, night: 10 } });
    const run = await service.runDueBackgroundWork();
    expect(run.calls).toBe(40);
    expect(run.deferred).toBeGreaterThan(0);
    expect(source.requests).toHaveLength(40);
    // The reserve: a question of three never-held weeks still gets its calls.
    const answer = await ask('2022-01-03T00:00:00', '2022-01-24T00:00:00');
    expect((await answer.stats()).total).toBe(21 * 50);
    expect(source.requests).toHaveLength(43);
    // No background call before the hour's calls leave the window.
    clock.advance(30 * MIN);
    expect(await service.runDueBackgroundWork()).toMatchObject({ calls: 0 });
    expect(source.requests).toHaveLength(43);
    expect(service.nextBackgroundAt).toBe(at('2024-03-20T04:00:00'));
  });

  it('pauses for the failure window after a background call failed, instead of asking again every run', async () => {
    const { clock, source, service } = setUp('2024-03-20T03:00:00', { backfillDays: 7, reserve: { day: 3, night: 10 } });
    source.failNext(new UpstreamUnavailableError('network', 'connection refused'));
    source.failNext(new UpstreamUnavailableError('network', 'connection refused'));
    const first = await service.runDueBackgroundWork();
    expect(first.calls).toBe(2);
    expect(source.requests).toHaveLength(2);
    clock.advance(30_000);
    expect(await service.runDueBackgroundWork()).toEqual({ calls: 0, deferred: 0 });
    expect(source.requests).toHaveLength(2);
    expect(service.nextBackgroundAt).toBe(at('2024-03-20T04:00:00'));
    clock.set(at('2024-03-20T04:00:00'));
    expect((await service.runDueBackgroundWork()).calls).toBe(2);
    expect(source.requests).toHaveLength(4);
  });

  it('does not run by day', async () => {
    const { source, service } = setUp('2024-03-20T10:00:00', { backfillDays: 92 });
    expect(await service.runDueBackgroundWork()).toEqual({ calls: 0, deferred: 0 });
    expect(source.requests).toHaveLength(0);
  });
});

describe('upstream concurrency', () => {
  it('a 90-day question never has more than CONNECT_CONCURRENCY calls open at once', async () => {
    const { source, service, expected } = setUp('2024-03-20T23:00:00', { concurrency: 2 });
    source.hold();
    const pending = service.answer([{ from: at('2023-12-01T00:00:00'), to: at('2024-02-29T00:00:00'), maxAgeMs: 15 * MIN, filter: {} }]);
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(source.open).toBe(2);
    expect(service.openCalls).toBe(2);
    source.release();
    const [answer] = await pending;
    expect(await idsOf(answer as PeriodAnswer)).toEqual(expected('2023-12-01T00:00:00', '2024-02-29T00:00:00'));
    // 14 grid weeks (7-day calls at night here), never more than 2 open.
    expect(source.requests).toHaveLength(14);
    expect(source.maxOpen).toBe(2);
  });

  it('interactive calls start before the background calls that wait', async () => {
    const { source, service, ask } = setUp('2024-03-20T03:00:00', { concurrency: 2, backfillDays: 30 });
    source.hold();
    const background = service.runDueBackgroundWork();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    // Background work leaves a slot free: one open of its 5 weeks.
    expect(source.open).toBe(1);
    const question = ask('2023-06-05T00:00:00', '2023-06-12T00:00:00');
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(source.open).toBe(2);
    expect(source.requests[1]?.periodFrom).toBe(at('2023-06-05T00:00:00'));
    source.release();
    await question;
    await background;
    expect(source.requests.length).toBe(1 + 5);
  });
});

describe('the night period cap', () => {
  it('a long night period refused with another code than OUT_OF_LIMIT is fetched as 7-day calls, the cap remembered across a restart and logged once', async () => {
    const journal = new MemoryQuotaJournal();
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } });
    const first = setUp('2024-03-20T23:00:00', { nightMaxDays: 31, journal }, logger);
    first.source.failNext(new UpstreamResultError('PERIOD_TOO_LONG', 'period too long'));
    // Exactly one 4-week block of the night grid.
    const block = gridBlockOf('2024-01-29', 31).first;
    const from = `${block}T00:00:00`;
    const to = `${addDays(block, 28)}T00:00:00`;
    const answer = await first.ask(from, to);
    expect(await idsOf(answer)).toEqual(first.expected(from, to));
    // One 28-day call refused, then its 4 grid weeks.
    expect(first.source.requests.map(periodDays)).toEqual([28, 7, 7, 7, 7]);
    expect(first.service.maxDaysPerCallAt(first.clock.now())).toBe(7);
    expect(lines.filter((l) => l.includes('refused a long night period'))).toHaveLength(1);

    // A restart (a new ledger on the same journal) plans 7-day calls at night from the start.
    const second = setUp('2024-03-20T23:30:00', { nightMaxDays: 31, journal }, logger);
    expect(second.ledger.nightMaxDays).toBe(7);
    const earlier = addDays(block, -28 * 4);
    await second.ask(`${earlier}T00:00:00`, `${addDays(earlier, 28)}T00:00:00`);
    expect(second.source.requests.map(periodDays)).toEqual([7, 7, 7, 7]);
    expect(lines.filter((l) => l.includes('refused a long night period'))).toHaveLength(1);
  });

  it('splits a refused period once, never in a loop', async () => {
    const { source, ask } = setUp('2024-03-20T10:00:00');
    for (let i = 0; i < 3; i++) source.failNext(new UpstreamResultError('PERIOD_TOO_LONG', 'period too long'));
    await expect(ask('2024-03-04T00:00:00', '2024-03-11T00:00:00')).rejects.toThrow(/PERIOD_TOO_LONG/);
    // The week, then its first half refused again: the second half is not asked, nothing loops.
    expect(source.requests.map(periodDays)).toEqual([7, 4]);
    expect(day(source.requests[1]?.periodFrom as number)).toBe('2024-03-04');
  });
});
