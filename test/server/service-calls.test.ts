import { describe, expect, it } from 'vitest';
import { type ServiceCall } from '../../src/domain/service-call.js';
import { daysOfPeriod, gridBlockOf, planFetches } from '../../src/history/fetch-planner.js';
import { addDays, localDayOf } from '../../src/time/zone.js';
import type { ServiceCallFilter, ServiceCallsPageQuery } from '../graphql/graphql.js';
import { type GraphQLResponse, type Harness, harnessPerTest } from '../support/harness.js';
import { CallCount, FiveOverlappingPeriods, Quota, ServiceCallsPage } from '../support/operations.js';

const ZONE = 'Europe/Moscow';
const MIN = 60_000;
const HOUR = 60 * MIN;
/** A Wednesday, 10:00 in Moscow: daytime. */
const WEDNESDAY_10 = '2024-03-20T10:00:00+03:00';

const start = harnessPerTest();

function week(firstDay: string, days = 7): ServiceCallFilter {
  return { periodFrom: `${firstDay}T00:00:00`, periodTo: `${addDays(firstDay, days)}T00:00:00` };
}

/** The simulator's own data for a filter, computed here without the server's code. */
function expectedCalls(h: Harness, filter: ServiceCallFilter): ServiceCall[] {
  const from = Date.parse(`${filter.periodFrom}+03:00`);
  const to = Date.parse(`${filter.periodTo}+03:00`);
  return h.simulator.history.callsBetween(from, to).filter(
    (c) =>
      (!filter.clientId || c.clientId === filter.clientId) &&
      (!filter.serviceUserId || c.serviceUserId === filter.serviceUserId) &&
      (!filter.serviceId || c.serviceId === filter.serviceId) &&
      (!filter.specialistId || c.callerId === filter.specialistId || c.calleeId === filter.specialistId) &&
      (!filter.callResult || c.callResult === filter.callResult),
  );
}

describe('serviceCalls: one week, many questions', () => {
  it('answers the week twice, under 20 filters and page by page with one upstream call', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    const filter = week('2024-03-11');
    const all = expectedCalls(h, filter);
    expect(all.length).toBeGreaterThan(500);

    for (let i = 0; i < 2; i++) {
      const { data, errors } = await h.query(ServiceCallsPage, { filter, first: 5 });
      expect(errors).toBeUndefined();
      expect(data?.serviceCalls?.totalCount).toBe(all.length);
      expect(data?.serviceCalls?.nodes.map((n) => n.callId)).toEqual(all.slice(0, 5).map((c) => c.callId));
    }

    const sim = h.simulator.history;
    const clients = sim.clients.slice(0, 4).map((c) => c.clientId);
    const users = sim.serviceUsers.slice(0, 4).map((u) => u.serviceUserId);
    const lines = sim.lines.slice(0, 3).map((l) => l.serviceId);
    const specialists = sim.specialists.slice(0, 4).map((s) => s.specialistId);
    const filters: ServiceCallFilter[] = [
      ...clients.map((clientId) => ({ ...filter, clientId })),
      ...users.map((serviceUserId) => ({ ...filter, serviceUserId })),
      ...lines.map((serviceId) => ({ ...filter, serviceId })),
      ...specialists.map((specialistId) => ({ ...filter, specialistId })),
      { ...filter, callResult: 'SUCCESSFUL' },
      { ...filter, callResult: 'UNSUCCESSFUL' },
      { ...filter, serviceId: lines[0], callResult: 'UNSUCCESSFUL' },
      { ...week('2024-03-12', 2), specialistId: specialists[0], serviceId: lines[1] },
      { periodFrom: '2024-03-13T09:30:00+03:00', periodTo: '2024-03-13T12:00:00Z' },
    ];
    expect(filters).toHaveLength(20);
    for (const f of filters) {
      const { data, errors } = await h.query(ServiceCallsPage, { filter: f, first: 1000 });
      expect(errors).toBeUndefined();
      const expected = f.periodTo.endsWith('Z')
        ? sim.callsBetween(Date.parse(f.periodFrom), Date.parse(f.periodTo))
        : expectedCalls(h, f);
      const got = data?.serviceCalls;
      expect(got?.nodes.map((n) => n.callId)).toEqual(expected.map((c) => c.callId));
      expect(got?.totalCount).toBe(expected.length);
      const successful = expected.filter((c) => c.callResult === 'SUCCESSFUL');
      expect(got?.stats).toEqual({
        total: expected.length,
        successful: successful.length,
        unsuccessful: expected.length - successful.length,
        totalDurationSeconds: expected.reduce((s, c) => s + c.durationSeconds, 0),
        averageDurationSeconds: successful.length
          ? successful.reduce((s, c) => s + c.durationSeconds, 0) / successful.length
          : null,
      });
    }

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const result: GraphQLResponse<ServiceCallsPageQuery> = await h.query(ServiceCallsPage, { filter, first: 50, after });
      const page = result.data?.serviceCalls;
      if (!page) throw new Error(JSON.stringify(result.errors));
      expect(page.totalCount).toBe(all.length);
      expect(page.edges.map((e) => e.node.callId)).toEqual(page.nodes.map((n) => n.callId));
      expect(page.pageInfo.hasPreviousPage).toBe(pages > 0);
      seen.push(...page.nodes.map((n) => n.callId));
      pages++;
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor ?? null;
    }
    expect(pages).toBe(Math.ceil(all.length / 50));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all.map((c) => c.callId));

    expect(h.upstreamCalls()).toBe(1);
  });
});

describe('serviceCalls: batching and single flight', () => {
  it('makes as many upstream calls as the plan for five aliased, overlapping, uncached periods', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    const periods: ServiceCallFilter[] = [
      week('2024-03-01', 7),
      week('2024-03-05', 7),
      week('2024-03-10', 10),
      week('2024-02-27', 4),
      { periodFrom: '2024-03-15T12:00:00', periodTo: '2024-03-17T08:00:00' },
    ];
    const dayOf = (t: number): string => localDayOf(t, ZONE);
    const needs = new Map<string, number>();
    for (const p of periods) {
      for (const day of daysOfPeriod(Date.parse(`${p.periodFrom}+03:00`), Date.parse(`${p.periodTo}+03:00`), dayOf)) {
        needs.set(day, 15 * MIN);
      }
    }
    const plan = planFetches({ needs, coverage: new Map(), now: h.clock.now(), zone: ZONE, maxDaysPerCall: 7 });
    expect(plan.length).toBe(4); // 2024-02-27 .. 2024-03-19: 22 days, 7+7+7+1

    const { data, errors } = await h.query(FiveOverlappingPeriods, {
      a: periods[0] as ServiceCallFilter,
      b: periods[1] as ServiceCallFilter,
      c: periods[2] as ServiceCallFilter,
      d: periods[3] as ServiceCallFilter,
      e: periods[4] as ServiceCallFilter,
    });
    expect(errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(plan.length);
    const counts = periods.map((p) => expectedCalls(h, p).length);
    expect([data?.a?.totalCount, data?.b?.totalCount, data?.c?.totalCount, data?.d?.totalCount, data?.e?.totalCount]).toEqual(counts);
    expect(data?.same?.totalCount).toBe(counts[0]);
  });

  it('makes one upstream call for 50 concurrent requests of the same uncached week', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    const filter = week('2024-03-04');
    const results = await Promise.all(Array.from({ length: 50 }, () => h.query(CallCount, { filter })));
    const expected = expectedCalls(h, filter).length;
    for (const r of results) {
      expect(r.errors).toBeUndefined();
      expect(r.data?.serviceCalls?.totalCount).toBe(expected);
    }
    expect(h.upstreamCalls()).toBe(1);
  });
});

describe('serviceCalls: long periods', () => {
  it('fetches a 30-day period by day in 5 calls, the grid weeks it touches', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    const filter = week('2024-02-01', 30);
    const { data, errors } = await h.query(CallCount, { filter });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.totalCount).toBe(expectedCalls(h, filter).length);
    expect(h.upstreamCalls()).toBe(5);
    const lengths = h.simulator.received.map((r) => ((r.params?.periodTo ?? 0) - (r.params?.periodFrom ?? 0)) / (24 * HOUR));
    // Thursday 2024-02-01 .. Thursday 2024-03-01: the weeks of Monday 2024-01-29 .. Sunday 2024-03-03.
    expect(lengths).toEqual([7, 7, 7, 7, 7]);
    expect(new Date(h.simulator.received[0]?.params?.periodFrom ?? 0).toISOString()).toBe('2024-01-28T21:00:00.000Z');
  });

  it('fetches the same period at night in the 4-week blocks it touches (CONNECT_NIGHT_MAX_DAYS 31 by default)', async () => {
    const h = await start({ now: '2024-03-20T23:00:00+03:00' });
    const filter = week('2024-02-01', 30);
    const { data, errors } = await h.query(CallCount, { filter });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.totalCount).toBe(expectedCalls(h, filter).length);
    const blocks = new Set(Array.from({ length: 30 }, (_, i) => gridBlockOf(addDays('2024-02-01', i), 31).first));
    expect(blocks.size).toBe(2);
    expect(h.upstreamCalls()).toBe(2);
    const lengths = h.simulator.received.map((r) => ((r.params?.periodTo ?? 0) - (r.params?.periodFrom ?? 0)) / (24 * HOUR));
    expect(lengths).toEqual([28, 28]);
  });
});

describe('serviceCalls: quota', () => {
  it('refuses the 4th uncached week with CONNECT_DAY_LIMIT=3 without calling, and serves it an hour later', async () => {
    const h = await start({ now: WEDNESDAY_10, env: { CONNECT_DAY_LIMIT: '3' } });
    for (const day of ['2024-02-05', '2024-02-12', '2024-02-19']) {
      expect((await h.query(CallCount, { filter: week(day) })).errors).toBeUndefined();
      h.clock.advance(MIN);
    }
    expect(h.upstreamCalls()).toBe(3);
    const refused = await h.query(CallCount, { filter: week('2024-02-26') });
    expect(refused.data).toEqual({ serviceCalls: null });
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'QUOTA_EXHAUSTED', rule: 'HOURLY_LIMIT', retryAfterSeconds: 3600 - 3 * 60, callsNeeded: 1, fitsIn: 'DAY' });
    expect(h.upstreamCalls()).toBe(3);
    expect((await h.query(Quota)).data?.quota).toEqual({
      periodKind: 'DAY',
      limitPerHour: 3,
      usedLastHour: 3,
      remaining: 0,
      nextCallAt: '2024-03-20T11:00:00+03:00',
    });
    // Cached weeks are still answered.
    expect((await h.query(CallCount, { filter: week('2024-02-05') })).errors).toBeUndefined();

    h.clock.set(Date.parse('2024-03-20T11:00:00+03:00'));
    const later = await h.query(CallCount, { filter: week('2024-02-26') });
    expect(later.errors).toBeUndefined();
    expect(later.data?.serviceCalls?.totalCount).toBe(expectedCalls(h, week('2024-02-26')).length);
    expect(h.upstreamCalls()).toBe(4);
  });

  it('switches to the night limit at the day/night boundary', async () => {
    const h = await start({ now: '2024-03-20T19:58:00+03:00', env: { CONNECT_DAY_LIMIT: '3', CONNECT_NIGHT_LIMIT: '5' } });
    for (const day of ['2024-02-05', '2024-02-12', '2024-02-19']) {
      expect((await h.query(CallCount, { filter: week(day) })).errors).toBeUndefined();
    }
    const refused = await h.query(CallCount, { filter: week('2024-02-26') });
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'QUOTA_EXHAUSTED', rule: 'HOURLY_LIMIT', retryAfterSeconds: 120, callsNeeded: 1, fitsIn: 'NIGHT' });
    h.clock.set(Date.parse('2024-03-20T20:00:00+03:00'));
    expect((await h.query(Quota)).data?.quota).toMatchObject({ periodKind: 'NIGHT', limitPerHour: 5, remaining: 2 });
    expect((await h.query(CallCount, { filter: week('2024-02-26') })).errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(4);
  });

  it('passes OUT_OF_LIMIT on with its upstream code and calls no more until the block passes', async () => {
    const h = await start({ now: WEDNESDAY_10 });
    h.simulator.inject({ kind: 'result-code', code: 'OUT_OF_LIMIT', text: 'limit reached' }, 1);
    const refused = await h.query(CallCount, { filter: week('2024-03-04') });
    expect(refused.errors?.[0]?.extensions).toEqual({
      code: 'QUOTA_EXHAUSTED',
      rule: 'OUT_OF_LIMIT',
      upstreamCode: 'OUT_OF_LIMIT',
      retryAfterSeconds: 3600,
      callsNeeded: 1,
      fitsIn: 'DAY',
    });
    expect(h.upstreamCalls()).toBe(1);

    h.clock.advance(30 * MIN);
    const blocked = await h.query(CallCount, { filter: week('2024-02-26') });
    expect(blocked.errors?.[0]?.extensions).toEqual({
      code: 'QUOTA_EXHAUSTED',
      rule: 'OUT_OF_LIMIT',
      upstreamCode: 'OUT_OF_LIMIT',
      retryAfterSeconds: 1800,
      callsNeeded: 1,
      fitsIn: 'DAY',
    });
    expect((await h.query(Quota)).data?.quota).toMatchObject({ remaining: 0, nextCallAt: '2024-03-20T11:00:00+03:00' });
    expect(h.upstreamCalls()).toBe(1);

    h.clock.set(Date.parse('2024-03-20T11:00:00+03:00'));
    expect((await h.query(CallCount, { filter: week('2024-03-04') })).errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(2);
  });
});

describe('serviceCalls: freshness', () => {
  it('refetches today once older than maxAge, never refetches sealed days, and serves stale when no call is allowed', async () => {
    const h = await start({ now: WEDNESDAY_10, env: { CONNECT_DAY_LIMIT: '2' } });
    const today = week('2024-03-20', 1);
    const lastWeek = week('2024-03-11');

    const first = await h.query(CallCount, { filter: today });
    expect(first.data?.serviceCalls).toEqual({
      totalCount: expectedCalls(h, today).length,
      freshness: { asOf: '2024-03-20T10:00:00+03:00', stale: false },
    });
    h.clock.advance(10 * MIN);
    expect((await h.query(CallCount, { filter: today })).data?.serviceCalls?.freshness.stale).toBe(false);
    expect(h.upstreamCalls()).toBe(1);

    h.clock.advance(10 * MIN); // 10:20, the copy of today is 20 minutes old
    const refreshed = await h.query(CallCount, { filter: today });
    expect(refreshed.data?.serviceCalls).toEqual({
      totalCount: expectedCalls(h, today).length,
      freshness: { asOf: '2024-03-20T10:20:00+03:00', stale: false },
    });
    expect(refreshed.data?.serviceCalls?.totalCount).toBeGreaterThan(first.data?.serviceCalls?.totalCount ?? Infinity);
    expect(h.upstreamCalls()).toBe(2);

    // Quota spent (limit 2): the 20-minute-old copy is served, flagged.
    h.clock.advance(20 * MIN);
    const stale = await h.query(CallCount, { filter: today });
    expect(stale.errors).toBeUndefined();
    expect(stale.data?.serviceCalls).toEqual({
      totalCount: refreshed.data?.serviceCalls?.totalCount,
      freshness: { asOf: '2024-03-20T10:20:00+03:00', stale: true },
    });
    // A larger maxAge accepts the same copy as fresh.
    expect((await h.query(CallCount, { filter: today, maxAge: 3600 })).data?.serviceCalls?.freshness.stale).toBe(false);
    expect(h.upstreamCalls()).toBe(2);

    // Last week is sealed once fetched: maxAge 0 an hour later costs nothing.
    h.clock.set(Date.parse('2024-03-20T12:00:00+03:00'));
    expect((await h.query(CallCount, { filter: lastWeek })).errors).toBeUndefined();
    h.clock.advance(HOUR);
    const sealed = await h.query(CallCount, { filter: lastWeek, maxAge: 0 });
    expect(sealed.data?.serviceCalls?.freshness).toEqual({ asOf: '2024-03-20T12:00:00+03:00', stale: false });
    expect(h.upstreamCalls()).toBe(3);
  });
});
