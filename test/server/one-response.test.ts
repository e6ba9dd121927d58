import { afterEach, describe, expect, it } from 'vitest';
import { addDays } from '../../src/time/zone.js';
import { graphql } from '../graphql/index.js';
import { type Harness, startHarness } from '../support/harness.js';

/**
 * One response never contradicts itself and loses nothing it could give: a refused serviceCalls
 * leaves the other fields, quota counts the calls of the same request, and retryAfterSeconds is the
 * moment a retry of the same request succeeds.
 */
const CallsAndQuota = graphql(`
  query CallsAndQuota($filter: ServiceCallFilter!) {
    before: quota { usedLastHour remaining }
    serviceCalls(filter: $filter, first: 0) { totalCount }
    after: quota { usedLastHour remaining }
  }
`);

const MIN = 60_000;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const period = (first: string, days: number) => ({ periodFrom: `${first}T00:00:00`, periodTo: `${addDays(first, days)}T00:00:00` });

describe('one response', () => {
  it('quota, asked before and after serviceCalls in the same request, counts the calls that request made', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    // Thursday 2024-02-01 and the 13 days after touch 3 grid weeks: 3 calls.
    const { data, errors } = await h.query(CallsAndQuota, { filter: period('2024-02-01', 14) });
    expect(errors).toBeUndefined();
    expect(data).toEqual({
      before: { usedLastHour: 3, remaining: 7 },
      serviceCalls: { totalCount: 14 * 120 },
      after: { usedLastHour: 3, remaining: 7 },
    });
    expect(h.upstreamCalls()).toBe(3);
  });

  it('quota in one operation of a batch counts the calls of the other operations', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const results = await h.batch([
      { query: '{ quota { usedLastHour } }' },
      { query: '{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }) { totalCount } }' },
    ]);
    expect(results).toEqual([{ data: { quota: { usedLastHour: 1 } } }, { data: { serviceCalls: { totalCount: 7 * 120 } } }]);
    expect(h.upstreamCalls()).toBe(1);
  });

  it('a refused serviceCalls is null with its error at its path; quota and other aliases are kept', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { CONNECT_DAY_LIMIT: '1' } }));
    expect((await h.query('{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }) { totalCount } }')).errors).toBeUndefined();
    const { data, errors } = await h.query(`
      query {
        held: serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }, first: 0) { totalCount }
        refused: serviceCalls(filter: { periodFrom: "2024-02-05", periodTo: "2024-02-12" }, first: 0) { totalCount }
        quota { usedLastHour remaining }
      }`);
    expect(data).toEqual({ held: { totalCount: 7 * 120 }, refused: null, quota: { usedLastHour: 1, remaining: 0 } });
    expect(errors).toHaveLength(1);
    expect(errors?.[0]).toMatchObject({ path: ['refused'], extensions: { code: 'QUOTA_EXHAUSTED', retryAfterSeconds: 3600 } });
    expect(h.upstreamCalls()).toBe(1);
  });

  it('a 90-day question by day: each request spends at most half the hour, and retries at retryAfterSeconds complete it', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    // 2023-12-01 .. 2024-02-28 touch 14 grid weeks: 14 calls, more than one request may spend (5 of 10 by day).
    const filter = period('2023-12-01', 90);
    const first = await h.query(CallsAndQuota, { filter });
    expect(first.data?.serviceCalls).toBeNull();
    expect(first.data?.after).toEqual({ usedLastHour: 5, remaining: 5 });
    const share = first.errors?.[0]?.extensions;
    // The 5 calls made bring past weeks that never change: they are kept, so the retry needs fewer.
    expect(share).toMatchObject({ code: 'QUOTA_EXHAUSTED', rule: 'MAX_CALLS_PER_REQUEST', callsNeeded: 9 });
    expect(h.upstreamCalls()).toBe(5);
    h.clock.advance((share?.retryAfterSeconds as number) * 1000);
    const second = await h.query(CallsAndQuota, { filter });
    expect(second.data?.after).toEqual({ usedLastHour: 10, remaining: 0 });
    const hour = second.errors?.[0]?.extensions;
    expect(hour).toMatchObject({ code: 'QUOTA_EXHAUSTED', rule: 'HOURLY_LIMIT', callsNeeded: 4, fitsIn: 'DAY' });
    expect(h.upstreamCalls()).toBe(10);
    // A minute before, a retry makes no progress and costs nothing.
    h.clock.advance(((hour?.retryAfterSeconds as number) - 60) * 1000);
    expect((await h.query(CallsAndQuota, { filter })).data?.serviceCalls).toBeNull();
    expect(h.upstreamCalls()).toBe(10);
    h.clock.advance(MIN);
    const retried = await h.query(CallsAndQuota, { filter });
    expect(retried.errors).toBeUndefined();
    expect(retried.data?.serviceCalls?.totalCount).toBe(90 * 120);
    expect(h.upstreamCalls()).toBe(14);
  });
});
