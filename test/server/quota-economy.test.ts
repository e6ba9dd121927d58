import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gridBlockOf } from '../../src/history/fetch-planner.js';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { createLogger } from '../../src/server/logger.js';
import { addDays, type LocalDay } from '../../src/time/zone.js';
import { graphql } from '../graphql/index.js';
import type { ServiceCallFilter } from '../graphql/graphql.js';
import { type GraphQLResponse, type Harness, harnessPerTest, startHarness } from '../support/harness.js';
import { CallCount } from '../support/operations.js';

/**
 * The quota economy seen through GraphQL, over the simulator on a ManualClock: the maxAge floor, the
 * per-request and per-API-key shares of the hour, a period refused as too long split once, the
 * night cap learnt from the upstream, and the quota fields that tell it. Every test counts the
 * requests the upstream received, exactly.
 */
const EconomyQuota = graphql(`
  query EconomyQuota {
    quota { periodKind usedLastHour remaining reserve backgroundUsedLastHour maxDaysPerCall nextBackgroundAt }
  }
`);

const PeriodCallIds = graphql(`
  query PeriodCallIds($filter: ServiceCallFilter!) {
    serviceCalls(filter: $filter, first: 1000) {
      totalCount
      nodes { callId }
    }
    quota { usedLastHour }
  }
`);

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A Wednesday, 10:00 in Moscow: daytime (limit 10 an hour). */
const WEDNESDAY_10 = '2024-03-20T10:00:00+03:00';
/** The same Wednesday, 23:00 in Moscow: night (limit 50 an hour). */
const WEDNESDAY_23 = '2024-03-20T23:00:00+03:00';

const start = harnessPerTest();

function period(firstDay: LocalDay, days: number): ServiceCallFilter {
  return { periodFrom: `${firstDay}T00:00:00`, periodTo: `${addDays(firstDay, days)}T00:00:00` };
}

/** `count` Mondays, each a whole past grid week, going back from `latest`. */
function mondays(latest: LocalDay, count: number, skip = 0): LocalDay[] {
  return Array.from({ length: count }, (_, i) => addDays(latest, -7 * (skip + i)));
}

/** The simulator's own calls of [from, to), the period's ends read with the given offsets. */
function simulatorCalls(h: Harness, from: string, to: string): ServiceCall[] {
  return h.simulator.history.callsBetween(Date.parse(from), Date.parse(to));
}

/** The length in days of each period the upstream was asked for, in arrival order. */
function periodLengths(h: Harness): number[] {
  return h.simulator.received.map((r) => ((r.params?.periodTo ?? 0) - (r.params?.periodFrom ?? 0)) / DAY);
}

type Counts = Record<string, { totalCount: number } | null>;

/** One operation asking for each Monday's grid week under an alias of its own (w0, w1, …). */
function weeksQuery(weeks: readonly LocalDay[]): string {
  const fields = weeks.map((monday, i) => {
    const { periodFrom, periodTo } = period(monday, 7);
    return `w${i}: serviceCalls(filter: { periodFrom: "${periodFrom}", periodTo: "${periodTo}" }, first: 0) { totalCount }`;
  });
  return `query { ${fields.join('\n')} quota { usedLastHour } }`;
}

const weekCount = (h: Harness, monday: LocalDay): number =>
  simulatorCalls(h, `${monday}T00:00:00+03:00`, `${addDays(monday, 7)}T00:00:00+03:00`).length;

describe('the maxAge floor (MIN_MAX_AGE_SECONDS)', () => {
  it('12 requests for today with maxAge 0, 5 s apart, cost one upstream call; 61 s after it, one more', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    const today = period('2024-03-20', 1);
    const expected = simulatorCalls(h, '2024-03-20T00:00:00+03:00', '2024-03-20T10:00:00+03:00').length;
    for (let i = 0; i < 12; i++) {
      const { data, errors } = await h.query(CallCount, { filter: today, maxAge: 0 });
      expect(errors).toBeUndefined();
      expect(data?.serviceCalls?.totalCount).toBe(expected);
      expect(data?.serviceCalls?.freshness.stale).toBe(false);
      // maxAge 0 is raised to 60 s: the copy of 10:00:00 serves every request up to 10:00:55.
      expect(h.upstreamCalls()).toBe(1);
      if (i < 11) h.clock.advance(5 * SEC);
    }
    // 10:01:01: the copy is 61 s old, past the floor.
    h.clock.advance(6 * SEC);
    const { errors } = await h.query(CallCount, { filter: today, maxAge: 0 });
    expect(errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(2);
    // The refetch brought today alone: the rest of its week was held by the first call.
    expect(periodLengths(h)).toEqual([3, 1]);
  });

  it('with MIN_MAX_AGE_SECONDS 0, maxAge 0 means a call for each request', async () => {
    const h = await start({ now: WEDNESDAY_10, env: { MIN_MAX_AGE_SECONDS: '0' } });
    const today = period('2024-03-20', 1);
    for (let i = 1; i <= 3; i++) {
      const { errors } = await h.query(CallCount, { filter: today, maxAge: 0 });
      expect(errors).toBeUndefined();
      expect(h.upstreamCalls()).toBe(i);
      h.clock.advance(5 * SEC);
    }
  });
});

describe('one request cannot drain the hour (MAX_CALLS_PER_REQUEST)', () => {
  it('20 uncached weeks in one request: 5 calls (half the daytime limit), the other 15 aliases refused; a batch shares one budget', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    const weeks = mondays('2024-03-11', 20);
    const first = await h.query<Counts, never>(weeksQuery(weeks));
    expect(h.upstreamCalls()).toBe(5);
    expect(first.data?.quota).toEqual({ usedLastHour: 5 });
    const answered = weeks.filter((_, i) => first.data?.[`w${i}`] != null);
    const refused = weeks.filter((_, i) => first.data?.[`w${i}`] === null);
    expect(answered).toHaveLength(5);
    expect(refused).toHaveLength(15);
    // Past weeks never change once fetched, so the calls made are the first of the plan: the oldest weeks.
    expect(answered).toEqual(weeks.slice(15));
    for (const monday of answered) expect(first.data?.[`w${weeks.indexOf(monday)}`]).toEqual({ totalCount: weekCount(h, monday) });
    expect(first.errors).toHaveLength(15);
    for (const error of first.errors ?? []) {
      expect(refused.map((m) => `w${weeks.indexOf(m)}`)).toContain(error.path?.[0]);
      expect(error.extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', rule: 'MAX_CALLS_PER_REQUEST', callsNeeded: 15 });
      // 5 of the hour's 10 are left: a retry may make its 5 calls at once.
      expect(error.extensions?.retryAfterSeconds).toBe(1);
    }

    // The 5 weeks fetched are held: asked again, they cost nothing.
    const again = await h.query<Counts, never>(weeksQuery(answered));
    expect(again.errors).toBeUndefined();
    expect(again.data?.quota).toEqual({ usedLastHour: 5 });
    expect(h.upstreamCalls()).toBe(5);

    // An hour later the hour is free again (10 calls): a batch of 10 operations × 20 uncached weeks
    // is one HTTP request, so its operations share one budget of 5.
    h.clock.advance(HOUR + MIN);
    const batchWeeks = Array.from({ length: 10 }, (_, op) => mondays('2024-03-11', 20, 20 + 20 * op));
    expect(new Set(batchWeeks.flat()).size).toBe(200);
    const results = (await h.batch(batchWeeks.map((w) => ({ query: weeksQuery(w) })))) as Array<GraphQLResponse<Counts>>;
    expect(h.upstreamCalls()).toBe(5 + 5);
    expect(results).toHaveLength(10);
    const answeredInBatch = results.flatMap((r, op) => (batchWeeks[op] as LocalDay[]).filter((_, i) => r.data?.[`w${i}`] != null));
    expect(answeredInBatch).toHaveLength(5);
    const errors = results.flatMap((r) => r.errors ?? []);
    expect(errors).toHaveLength(195);
    for (const error of errors) expect(error.extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', rule: 'MAX_CALLS_PER_REQUEST' });
    for (const r of results) expect(r.data?.quota).toEqual({ usedLastHour: 5 });
  });

  it('MAX_CALLS_PER_REQUEST 2: the same request makes 2 calls', async () => {
    const h = await start({ now: WEDNESDAY_10, env: { MAX_CALLS_PER_REQUEST: '2' } });
    const weeks = mondays('2024-03-11', 20);
    const { data, errors } = await h.query<Counts, never>(weeksQuery(weeks));
    expect(h.upstreamCalls()).toBe(2);
    expect(data?.quota).toEqual({ usedLastHour: 2 });
    expect(weeks.filter((_, i) => data?.[`w${i}`] != null)).toHaveLength(2);
    expect(errors).toHaveLength(18);
    for (const error of errors ?? []) expect(error.extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', rule: 'MAX_CALLS_PER_REQUEST', callsNeeded: 18 });
  });
});

describe('API keys share the hour fairly (API_KEYS)', () => {
  it('by day each of 2 keys may spend 5 calls; a key past its share is refused while the other still spends, and what one fetched serves the other', async () => {
    const h = await start({ now: WEDNESDAY_10, env: { API_KEYS: 'key-a,key-b' } });
    const keyA = { authorization: 'Bearer key-a' };
    const keyB = { authorization: 'Bearer key-b' };
    const weeks = mondays('2024-03-11', 8);
    // key-a asks one uncached week per request, a minute apart: the per-request cap never binds.
    for (let i = 0; i < 5; i++) {
      const { data, errors } = await h.query(CallCount, { filter: period(weeks[i] as LocalDay, 7) }, keyA);
      expect(errors).toBeUndefined();
      expect(data?.serviceCalls?.totalCount).toBe(weekCount(h, weeks[i] as LocalDay));
      expect(h.upstreamCalls()).toBe(i + 1);
      h.clock.advance(MIN);
    }
    // 10:05: key-a has spent its 5; the hour still has 5 left, but not for key-a.
    const refused = await h.query(CallCount, { filter: period(weeks[5] as LocalDay, 7) }, keyA);
    expect(refused.data?.serviceCalls).toBeNull();
    expect(refused.errors).toHaveLength(1);
    const extensions = refused.errors?.[0]?.extensions;
    expect(extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', rule: 'API_KEY_SHARE', callsNeeded: 1 });
    // Its first call (10:00) leaves the window at 11:00, 55 minutes from now.
    expect(extensions?.retryAfterSeconds).toBe(55 * 60);
    expect(extensions?.retryAfterSeconds as number).toBeLessThanOrEqual(3600);
    expect(h.upstreamCalls()).toBe(5);

    // key-b still spends: the same week costs it one call.
    const b = await h.query(CallCount, { filter: period(weeks[5] as LocalDay, 7) }, keyB);
    expect(b.errors).toBeUndefined();
    expect(b.data?.serviceCalls?.totalCount).toBe(weekCount(h, weeks[5] as LocalDay));
    expect(h.upstreamCalls()).toBe(6);

    // A week key-a fetched is served to key-b without a call.
    const shared = await h.query(CallCount, { filter: period(weeks[0] as LocalDay, 7) }, keyB);
    expect(shared.errors).toBeUndefined();
    expect(shared.data?.serviceCalls?.totalCount).toBe(weekCount(h, weeks[0] as LocalDay));
    expect(h.upstreamCalls()).toBe(6);

    // key-a's held weeks are still served to it at no cost while it is past its share.
    const held = await h.query(CallCount, { filter: period(weeks[4] as LocalDay, 7) }, keyA);
    expect(held.errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(6);
    const quota = await h.query(EconomyQuota, {}, keyA);
    expect(quota.data?.quota).toMatchObject({ usedLastHour: 6, remaining: 4 });
  });
});

describe('a key share holds under concurrent requests', () => {
  it('3 parallel requests of one key, 3 uncached weeks each: at most its share of 5 calls', async () => {
    const h = await start({ now: WEDNESDAY_10, env: { API_KEYS: 'key-a,key-b' } });
    const weeks = mondays('2024-03-04', 9);
    const ask = (group: LocalDay[]) =>
      h.query(`{ ${group.map((m, i) => `w${i}: serviceCalls(filter: { periodFrom: "${m}", periodTo: "${addDays(m, 7)}" }, first: 0) { totalCount }`).join(' ')} }`, undefined, {
        authorization: 'Bearer key-a',
      });
    const results = await Promise.all([ask(weeks.slice(0, 3)), ask(weeks.slice(3, 6)), ask(weeks.slice(6, 9))]);
    const refused = results.flatMap((r) => r.errors ?? []);
    expect(h.upstreamCalls()).toBe(5);
    expect(refused).toHaveLength(4);
    for (const e of refused) expect(e.extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', rule: 'API_KEY_SHARE' });
  });
});

describe('a period refused as too long is split once', () => {
  // Monday 2024-10-21 .. Monday 2024-10-28 in Berlin: DST ends on the 27th, so the week is 169 hours.
  const week = period('2024-10-21', 7);
  const from = '2024-10-21T00:00:00+02:00';
  const to = '2024-10-28T00:00:00+01:00';
  /** A Wednesday, 10:00 in Berlin: daytime there. */
  const now = '2024-11-13T10:00:00+01:00';
  const berlin = { CONNECT_TIMEZONE: 'Europe/Berlin' };

  it('a DST week of 169 h by day: refused, then fetched as two halves; asked again, it costs nothing', async () => {
    const h = await start({ now, env: berlin, simulator: { zone: 'Europe/Berlin' } });
    const expected = simulatorCalls(h, from, to);
    expect(expected.length).toBeGreaterThan(500);
    expect(Date.parse(to) - Date.parse(from)).toBe(7 * DAY + HOUR);

    const { data, errors } = await h.query(PeriodCallIds, { filter: week });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.totalCount).toBe(expected.length);
    expect(data?.serviceCalls?.nodes.map((n) => n.callId)).toEqual(expected.map((c) => c.callId));
    // All three count against the hour.
    expect(data?.quota).toEqual({ usedLastHour: 3 });
    expect(h.upstreamCalls()).toBe(3);
    expect(h.simulator.received.map((r) => r.outcome)).toEqual(['period-too-long', 'success', 'success']);
    // The week (169 h), then Mon..Thu (96 h) and Fri..Sun (73 h).
    expect(h.simulator.received.map((r) => ((r.params?.periodTo ?? 0) - (r.params?.periodFrom ?? 0)) / HOUR)).toEqual([169, 96, 73]);

    h.clock.advance(MIN);
    const again = await h.query(PeriodCallIds, { filter: week });
    expect(again.errors).toBeUndefined();
    expect(again.data?.serviceCalls?.totalCount).toBe(expected.length);
    expect(h.upstreamCalls()).toBe(3);
  });

  it('when the upstream refuses the pieces too, the question fails with UPSTREAM_ERROR and nothing loops', async () => {
    // An upstream that takes at most 2 days by day refuses the week and both of its halves.
    const h = await start({ now, env: berlin, simulator: { zone: 'Europe/Berlin', dayMaxDays: 2 } });
    const { data, errors } = await h.query(CallCount, { filter: week });
    expect(data?.serviceCalls).toBeNull();
    expect(errors).toHaveLength(1);
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'PERIOD_TOO_LONG' });
    // The week, then its first half, refused: the question cannot be answered whole any more, so the
    // second half is not asked; no piece is split again.
    expect(h.upstreamCalls()).toBe(2);
    expect(h.simulator.received.map((r) => r.outcome)).toEqual(['period-too-long', 'period-too-long']);
    expect(h.simulator.received.map((r) => ((r.params?.periodTo ?? 0) - (r.params?.periodFrom ?? 0)) / HOUR)).toEqual([169, 96]);

    // Asked again: the same bounded attempt, no loop.
    h.clock.advance(MIN);
    const again = await h.query(CallCount, { filter: week });
    expect(again.data?.serviceCalls).toBeNull();
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstreamCode: 'PERIOD_TOO_LONG' });
    expect(h.upstreamCalls()).toBe(4);
  });
});

describe('the night period cap learnt from the upstream', () => {
  it('a 30-day night question: the 4-week block calls are refused, then fetched as 7-day calls; the cap holds for later questions and is logged once', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } });
    const h = await start({ now: WEDNESDAY_23, simulator: { nightMaxDays: 7 }, logger });
    const nightCapLogged = (): number => lines.filter((l) => l.includes('refused a long night period')).length;

    const before = await h.query(EconomyQuota);
    expect(before.data?.quota).toMatchObject({ periodKind: 'NIGHT', maxDaysPerCall: 31 });

    // Thursday 2024-02-01 .. Friday 2024-03-02 touches two 4-week blocks of the night grid
    // (2024-01-22 .. 2024-02-18 and 2024-02-19 .. 2024-03-17): both are asked before either is refused.
    const filter = period('2024-02-01', 30);
    const { data, errors } = await h.query(CallCount, { filter });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.totalCount).toBe(simulatorCalls(h, '2024-02-01T00:00:00+03:00', '2024-03-02T00:00:00+03:00').length);
    // Two refused 28-day calls, then each block as its 4 grid weeks.
    expect(h.upstreamCalls()).toBe(2 + 8);
    const outcomes = h.simulator.received.map((r) => r.outcome);
    expect(outcomes.slice(0, 2)).toEqual(['period-too-long', 'period-too-long']);
    expect(outcomes.slice(2)).toEqual(Array(8).fill('success'));
    expect(periodLengths(h).slice(0, 2)).toEqual([28, 28]);
    expect(periodLengths(h).slice(2)).toEqual(Array(8).fill(7));
    // Two refusals, one warning about the cap.
    expect(nightCapLogged()).toBe(1);

    const after = await h.query(EconomyQuota);
    expect(after.data?.quota).toMatchObject({ periodKind: 'NIGHT', maxDaysPerCall: 7, usedLastHour: 10 });
    expect(h.upstreamCalls()).toBe(10);

    // A later night question is planned in 7-day calls from the start: no refused call first.
    h.clock.advance(10 * MIN);
    const later = period('2023-12-01', 30);
    const second = await h.query(CallCount, { filter: later });
    expect(second.errors).toBeUndefined();
    expect(second.data?.serviceCalls?.totalCount).toBe(simulatorCalls(h, '2023-12-01T00:00:00+03:00', '2023-12-31T00:00:00+03:00').length);
    // Friday 2023-12-01 .. Saturday 2023-12-30: the grid weeks of Mondays 2023-11-27 .. 2023-12-25.
    expect(h.upstreamCalls()).toBe(10 + 5);
    expect(h.simulator.received.slice(10).map((r) => r.outcome)).toEqual(Array(5).fill('success'));
    expect(periodLengths(h).slice(10)).toEqual(Array(5).fill(7));
    expect(nightCapLogged()).toBe(1);
  });
});

describe('the night period cap survives a restart', () => {
  it('learnt by one server, kept in quota.sqlite: the next server on the same DATA_DIR plans 7-day night calls from the start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'connect-calls-night-cap-'));
    try {
      const first = await startHarness({ now: WEDNESDAY_23, env: { DATA_DIR: dir }, simulator: { nightMaxDays: 7 } });
      try {
        expect((await first.query(CallCount, { filter: period(gridBlockOf('2024-02-01', 31).first, 28) })).errors).toBeUndefined();
        // One refused 4-week call, then its 4 weeks.
        expect(first.upstreamCalls()).toBe(5);
      } finally {
        await first.close();
      }
      const second = await startHarness({ now: WEDNESDAY_23, env: { DATA_DIR: dir }, simulator: { nightMaxDays: 7 } });
      try {
        expect((await second.query(EconomyQuota)).data?.quota).toMatchObject({ periodKind: 'NIGHT', maxDaysPerCall: 7 });
        const earlier = addDays(gridBlockOf('2024-02-01', 31).first, -28);
        const { errors } = await second.query(CallCount, { filter: period(earlier, 28) });
        expect(errors).toBeUndefined();
        expect(second.simulator.received.map((r) => r.outcome)).toEqual(Array(4).fill('success'));
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('quota tells the story', () => {
  it('by day: reserve 3, 7 days a call, no background work yet; at night: reserve 10, 31 days a call', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    expect((await h.query(EconomyQuota)).data?.quota).toEqual({
      periodKind: 'DAY',
      usedLastHour: 0,
      remaining: 10,
      reserve: 3,
      backgroundUsedLastHour: 0,
      maxDaysPerCall: 7,
      nextBackgroundAt: null,
    });
    h.clock.set(Date.parse(WEDNESDAY_23));
    expect((await h.query(EconomyQuota)).data?.quota).toEqual({
      periodKind: 'NIGHT',
      usedLastHour: 0,
      remaining: 50,
      reserve: 10,
      backgroundUsedLastHour: 0,
      maxDaysPerCall: 31,
      nextBackgroundAt: null,
    });
    expect(h.upstreamCalls()).toBe(0);
  });

  it('after a question about today, background work is next due maxAge − 30 s after the copy was taken; then it refreshes today ahead', async () => {
    // Background refresh ahead keeps a day at most CACHE_MAX_AGE_SECONDS fresh: 300 s here, as asked.
    const h = await start({ now: WEDNESDAY_10, env: { CACHE_MAX_AGE_SECONDS: '300' } });
    const today = period('2024-03-20', 1);
    expect((await h.query(CallCount, { filter: today, maxAge: 300 })).errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(1);

    // Nothing is due yet: the run makes no call and notes when today's copy must be refreshed ahead.
    expect(await h.history.runDueBackgroundWork()).toEqual({ calls: 0, deferred: 0 });
    expect(h.upstreamCalls()).toBe(1);
    expect((await h.query(EconomyQuota)).data?.quota).toMatchObject({
      usedLastHour: 1,
      backgroundUsedLastHour: 0,
      nextBackgroundAt: '2024-03-20T10:04:30+03:00',
    });

    // Then: one background call brings today again, before the copy turns stale.
    h.clock.set(Date.parse('2024-03-20T10:04:30+03:00'));
    expect(await h.history.runDueBackgroundWork()).toEqual({ calls: 1, deferred: 0 });
    expect(h.upstreamCalls()).toBe(2);
    expect(periodLengths(h)).toEqual([3, 1]);
    expect((await h.query(EconomyQuota)).data?.quota).toMatchObject({ usedLastHour: 2, backgroundUsedLastHour: 1 });
    // The question asked again at 10:05:10 is served fresh from the refreshed copy, at no cost.
    h.clock.advance(40 * SEC);
    const { data, errors } = await h.query(CallCount, { filter: today, maxAge: 300 });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.freshness).toEqual({ asOf: '2024-03-20T10:04:30+03:00', stale: false });
    expect(h.upstreamCalls()).toBe(2);
  });

  it('after a background refresh of today, nextBackgroundAt is when that new copy is due for its own refresh ahead', async () => {
    // Background refresh ahead keeps a day at most CACHE_MAX_AGE_SECONDS fresh: 300 s here, as asked.
    const h = await start({ now: WEDNESDAY_10, env: { CACHE_MAX_AGE_SECONDS: '300' } });
    const today = period('2024-03-20', 1);
    expect((await h.query(CallCount, { filter: today, maxAge: 300 })).errors).toBeUndefined();
    expect(await h.history.runDueBackgroundWork()).toEqual({ calls: 0, deferred: 0 });
    h.clock.set(Date.parse('2024-03-20T10:04:30+03:00'));
    expect(await h.history.runDueBackgroundWork()).toEqual({ calls: 1, deferred: 0 });
    expect(h.upstreamCalls()).toBe(2);
    // Today was asked for at 10:00 with maxAge 300 s (so it is refreshed ahead for an hour) and its
    // copy is now of 10:04:30: the next background call is due at 10:04:30 + 300 s − 30 s = 10:09:00,
    // well before today's sealing (tomorrow 02:00).
    expect((await h.query(EconomyQuota)).data?.quota).toMatchObject({ backgroundUsedLastHour: 1, nextBackgroundAt: '2024-03-20T10:09:00+03:00' });
    expect(h.upstreamCalls()).toBe(2);
  });
});
