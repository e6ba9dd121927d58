import { describe, expect, it } from 'vitest';
import { QuotaExhaustedError } from '../../src/history/history-errors.js';
import type { PeriodAnswer, PeriodQuery } from '../../src/history/history-service.js';
import { firstKeptDay, startRetention } from '../../src/history/retention.js';
import { createLogger } from '../../src/server/logger.js';
import { UpstreamOutOfLimitError, UpstreamUnavailableError } from '../../src/upstream/errors.js';
import { at, HOUR, idsOf, MIN, setUp, ZONE } from '../support/history-service-setup.js';

describe('HistoryService', () => {
  it('serves the held copy, flagged stale, when a refresh fails, and keeps nothing of the failed call', async () => {
    const { clock, source, ask, expected } = setUp('2024-03-20T10:00:00');
    const first = await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    clock.advance(30 * MIN);
    source.failNext(new UpstreamUnavailableError('network', 'down'));
    const stale = await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    expect(stale).toMatchObject({ stale: true, asOf: at('2024-03-20T10:00:00') });
    expect(await idsOf(stale)).toEqual(await idsOf(first));
    expect(source.requests).toHaveLength(2);
    // The next try succeeds and holds exactly the day so far.
    const fresh = await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    expect(fresh).toMatchObject({ stale: false, asOf: at('2024-03-20T10:30:00') });
    expect(await idsOf(fresh)).toEqual(expected('2024-03-20T00:00:00', '2024-03-21T00:00:00'));
    expect(source.requests).toHaveLength(3);
  });

  it('after OUT_OF_LIMIT on a refresh, serves stale and refuses days never held until the block passes', async () => {
    const { clock, source, ask, service } = setUp('2024-03-20T10:00:00');
    await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    clock.advance(30 * MIN);
    source.failNext(new UpstreamOutOfLimitError('limit reached'));
    expect(await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00')).toMatchObject({ stale: true });
    const [refused] = await service.answer([{ from: at('2024-03-01T00:00:00'), to: at('2024-03-02T00:00:00'), maxAgeMs: 0, filter: {} }]);
    expect(refused).toBeInstanceOf(QuotaExhaustedError);
    // Blocked until the oldest call of the window (10:00) is an hour old.
    expect(refused).toMatchObject({ upstreamCode: 'OUT_OF_LIMIT', retryAfterSeconds: 30 * 60 });
    expect(source.requests).toHaveLength(2);
  });

  it('makes the calls the quota allows of a larger plan, keeps them, and finishes an hour later', async () => {
    const { clock, source, service, ask, expected } = setUp('2024-03-20T10:00:00', { day: 3 });
    const query: PeriodQuery = { from: at('2024-02-01T00:00:00'), to: at('2024-03-02T00:00:00'), maxAgeMs: 0, filter: {} };
    const [refused] = await service.answer([query]);
    expect(refused).toBeInstanceOf(QuotaExhaustedError);
    expect(refused).toMatchObject({ retryAfterSeconds: 3600 });
    expect(source.requests).toHaveLength(3); // of 5: 7+7+7 days held, 7+2 wait
    clock.advance(HOUR);
    const answer = await ask('2024-02-01T00:00:00', '2024-03-02T00:00:00', 0);
    expect(await idsOf(answer)).toEqual(expected('2024-02-01T00:00:00', '2024-03-02T00:00:00'));
    expect(source.requests).toHaveLength(5);
  });

  it('lets a request join a refresh already under way instead of calling again', async () => {
    const { clock, source, service } = setUp('2024-03-20T10:00:00');
    const today: PeriodQuery = { from: at('2024-03-20T00:00:00'), to: at('2024-03-21T00:00:00'), maxAgeMs: 15 * MIN, filter: {} };
    await service.answer([today]);
    clock.advance(20 * MIN);
    source.hold();
    const first = service.answer([today]);
    const second = service.answer([{ ...today, filter: { callResult: 'SUCCESSFUL' } }]);
    await new Promise((resolve) => setImmediate(resolve));
    source.release();
    const [[a], [b]] = await Promise.all([first, second]);
    expect(a).toMatchObject({ stale: false, asOf: at('2024-03-20T10:20:00') });
    expect(b).toMatchObject({ stale: false, asOf: at('2024-03-20T10:20:00') });
    expect(source.requests).toHaveLength(2);
  });

  it('seals a day only when fetched CACHE_SETTLE_HOURS after its end', async () => {
    const { clock, source, ask } = setUp('2024-03-21T01:00:00');
    // One hour after the end of 2024-03-20: not sealed yet, so refetched once older than maxAge.
    await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    clock.set(at('2024-03-21T01:30:00'));
    await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    expect(source.requests).toHaveLength(2);
    // Fetched at 01:30... still within two hours: refetched again at 02:30, then sealed.
    clock.set(at('2024-03-21T02:30:00'));
    await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00');
    expect(source.requests).toHaveLength(3);
    clock.set(at('2024-03-25T12:00:00'));
    expect(await ask('2024-03-20T00:00:00', '2024-03-21T00:00:00', 0)).toMatchObject({ stale: false, asOf: at('2024-03-21T02:30:00') });
    expect(source.requests).toHaveLength(3);
  });

  it('answers a period reaching past midnight when midnight passes during the upstream call', async () => {
    const { clock, source, service, expected } = setUp('2024-03-20T23:59:59');
    source.hold();
    const pending = service.answer([{ from: at('2024-03-20T00:00:00'), to: at('2024-03-22T00:00:00'), maxAgeMs: 15 * MIN, filter: {} }]);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(2000); // 2024-03-21T00:00:01
    source.release();
    const [answer] = await pending;
    expect(answer).not.toBeInstanceOf(Error);
    expect(await idsOf(answer as PeriodAnswer)).toEqual(expected('2024-03-20T00:00:00', '2024-03-20T23:59:59'));
    expect(source.requests).toHaveLength(1);
  });

  describe('retryAfterSeconds: when the calls still needed fit, so a retry then succeeds', () => {
    it('a 90-day question by day: 10 calls now, the other 4 fit an hour later, and the retry then completes', async () => {
      const { clock, source, service, expected } = setUp('2024-03-20T10:00:00');
      const query: PeriodQuery = { from: at('2023-12-01T00:00:00'), to: at('2024-02-29T00:00:00'), maxAgeMs: 15 * MIN, filter: {} };
      const [refused] = await service.answer([query]);
      expect(refused).toBeInstanceOf(QuotaExhaustedError);
      // 2023-12-01 .. 2024-02-28 touch 14 grid weeks (2023-11-27 .. 2024-03-03).
      expect(refused).toMatchObject({ retryAfterSeconds: 3600, callsNeeded: 4, fitsIn: 'DAY' });
      expect(source.requests).toHaveLength(10);
      clock.advance((refused as QuotaExhaustedError).retryAfterSeconds * 1000);
      const [answer] = await service.answer([query]);
      expect(answer).not.toBeInstanceOf(Error);
      expect(await idsOf(answer as PeriodAnswer)).toEqual(expected('2023-12-01T00:00:00', '2024-02-29T00:00:00'));
      expect(source.requests).toHaveLength(14);
    });

    it('a year by day needs more calls than a daytime hour allows: it says so, and they fit at night', async () => {
      const { clock, source, service } = setUp('2024-03-20T10:00:00');
      const query: PeriodQuery = { from: at('2023-03-19T00:00:00'), to: at('2024-03-19T00:00:00'), maxAgeMs: 15 * MIN, filter: {} };
      const [refused] = await service.answer([query]);
      expect(source.requests).toHaveLength(10);
      // 366 days touch 54 grid weeks (2023-03-13 .. 2024-03-24): 44 are left, more than 10 a daytime hour; the night allows 50.
      expect(refused).toMatchObject({ retryAfterSeconds: 10 * 3600, callsNeeded: 44, fitsIn: 'NIGHT' });
      expect((refused as Error).message).toMatch(/more than the daytime limit of 10 an hour: they fit the night limit from 2024-03-20T20:00:00\+03:00/);
      clock.advance((refused as QuotaExhaustedError).retryAfterSeconds * 1000);
      const [answer] = await service.answer([query]);
      expect(answer).not.toBeInstanceOf(Error);
      expect(source.requests).toHaveLength(54);
    });

    it('when no hour allows the calls, it says to ask for fewer days and when the next part can be fetched', async () => {
      const { source, service } = setUp('2024-03-20T10:00:00', { night: 20 });
      const query: PeriodQuery = { from: at('2023-03-19T00:00:00'), to: at('2024-03-19T00:00:00'), maxAgeMs: 15 * MIN, filter: {} };
      const [refused] = await service.answer([query]);
      expect(source.requests).toHaveLength(10);
      expect(refused).toMatchObject({ retryAfterSeconds: 3600, callsNeeded: 44, fitsIn: null });
      expect((refused as Error).message).toMatch(/more than any hour allows \(10 by day, 20 at night\): ask for fewer days/);
    });
  });

  it('says so in the log when the upstream lists a CallID twice, and counts the call once', async () => {
    const lines: string[] = [];
    const { source, service } = setUp('2024-03-20T10:00:00', {}, createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } }));
    const call = { callId: 'c1', clientId: null, serviceUserId: null, serviceId: null, callTime: at('2024-03-19T10:00:00'), callerId: null, calleeId: null, callResult: 'SUCCESSFUL' as const, durationSeconds: 5 };
    // The call brings the grid week so far: Monday 2024-03-18 to today.
    source.answerNext([call, { ...call, durationSeconds: 6 }]);
    const [answer] = await service.answer([{ from: at('2024-03-19T00:00:00'), to: at('2024-03-20T00:00:00'), maxAgeMs: 0, filter: {} }]);
    expect(await (answer as PeriodAnswer).stats()).toMatchObject({ total: 1, totalDurationSeconds: 5 });
    expect(lines.join('')).toContain('"message":"upstream listed calls more than once; each CallID is counted once, its first row kept","first":"2024-03-18","last":"2024-03-20","duplicateRows":1');
    expect(source.requests).toHaveLength(1);
  });
});


describe('retention', () => {
  it('keeps today and the days before it, as many as RETENTION_DAYS says', () => {
    expect(firstKeptDay(at('2024-03-20T10:00:00'), ZONE, 1)).toBe('2024-03-20');
    expect(firstKeptDay(at('2024-03-20T00:30:00'), ZONE, 30)).toBe('2024-02-20');
  });

  it('forgets the days before the first kept one: asking for them costs calls again, the rest costs none', async () => {
    const { source, service, ask, expected } = setUp('2024-03-20T10:00:00');
    await ask('2024-02-26T00:00:00', '2024-03-11T00:00:00');
    expect(source.requests).toHaveLength(2);
    const old = await ask('2024-02-26T00:00:00', '2024-03-04T00:00:00');
    expect((await old.stats()).total).toBe(expected('2024-02-26T00:00:00', '2024-03-04T00:00:00').length);

    expect(await service.dropBefore('2024-03-04')).toEqual({ days: 7, calls: 7 * 50 });
    const kept = await ask('2024-03-04T00:00:00', '2024-03-11T00:00:00');
    expect(await idsOf(kept)).toEqual(expected('2024-03-04T00:00:00', '2024-03-11T00:00:00'));
    expect(source.requests).toHaveLength(2);
    // The totals cached for the dropped week are gone with it: asked again, it is fetched again.
    const again = await ask('2024-02-26T00:00:00', '2024-03-04T00:00:00');
    expect(source.requests).toHaveLength(3);
    expect((await again.stats()).total).toBe(7 * 50);
  });

  it('runs at start (and then daily), logging what it dropped', async () => {
    const { clock, source, service, ask } = setUp('2024-03-20T10:00:00');
    await ask('2024-02-26T00:00:00', '2024-03-11T00:00:00');
    const lines: string[] = [];
    const stop = startRetention({
      history: service,
      clock,
      zone: ZONE,
      days: 16, // 2024-03-05 .. 2024-03-20
      logger: createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } }),
    });
    stop();
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(JSON.parse(lines[0] as string)).toMatchObject({ message: 'retention dropped old history', before: '2024-03-05', days: 8 });
    // The week of 2024-03-04 lost its first day: its period still holds its other days' calls, but
    // a question about it needs that day again.
    await ask('2024-03-05T00:00:00', '2024-03-11T00:00:00');
    expect(source.requests).toHaveLength(2);
    await ask('2024-03-04T00:00:00', '2024-03-05T00:00:00');
    expect(source.requests).toHaveLength(3);
  });
});
