import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ServiceCall, ServiceCallFilter } from '../../src/domain/service-call.js';
import type { CallPosition } from '../../src/history/call-selection.js';
import { isStoreError } from '../../src/history/history-errors.js';
import type { CallPage, HistoryStore } from '../../src/history/history-store.js';
import { MemoryHistoryStore } from '../../src/history/memory-history-store.js';
import type { RedisContext } from '../../src/history/redis/redis-connection.js';
import { RedisHistoryStore, SharedStoreError } from '../../src/history/redis/redis-history-store.js';
import { addDays, type LocalDay } from '../../src/time/zone.js';
import { at, call, FETCHED, fetchInto, ZONE } from '../support/history-rows.js';
import { useTestRedis } from '../support/redis.js';

const C1 = '00000000-0000-4000-8000-000000000001';
const U1 = '00000000-0000-4000-8000-000000000003';
const P1 = '00000000-0000-4000-8000-000000000007';
const S1 = '00000000-0000-4000-8000-000000000005';

/** Every page of a query, two calls a page. */
async function pages(store: HistoryStore, from: number, to: number, filter: ServiceCallFilter = {}): Promise<CallPage[]> {
  const result: CallPage[] = [];
  let after: CallPosition | null = null;
  for (;;) {
    const page = await store.page({ from, to, filter }, after, 2);
    result.push(page);
    const last = page.calls[page.calls.length - 1];
    if (!page.hasNextPage || !last) return result;
    after = { placedAt: last.placedAt, callId: last.callId };
  }
}

const ids = async (store: HistoryStore, from: string, to: string): Promise<string[]> =>
  (await pages(store, at(from), at(to))).flatMap((page) => page.calls.map((c) => c.callId));

const FILTERS: ServiceCallFilter[] = [{}, { clientId: C1 }, { partyId: U1 }, { specialistId: P1 }, { serviceId: S1 }, { callResult: 'UNSUCCESSFUL' }];
const PERIODS: Array<[number, number]> = [
  [at('2019-08-01T00:00:00'), at('2019-10-01T00:00:00')],
  [at('2019-09-26T00:00:00'), at('2019-09-27T00:00:00')],
  [at('2019-09-26T12:00:00'), at('2019-09-28T06:00:00')],
];
const DAYS: LocalDay[] = Array.from({ length: 10 }, (_, i) => addDays('2019-09-24', i));

/**
 * Everything a store answers: coverage, pages and totals for every filter and period, failures,
 * summary. Coverage first: it brings a replica's copy up to date without waiting for a change message.
 */
async function answers(store: HistoryStore) {
  const coverage = await store.coverage(DAYS);
  const result: unknown[] = [];
  for (const [from, to] of PERIODS) {
    for (const filter of FILTERS) result.push({ from, to, filter, pages: await pages(store, from, to, filter), stats: await store.stats({ from, to, filter }) });
  }
  return { answers: result, coverage, failures: await store.failures(DAYS), summary: await store.summary(FETCHED) };
}

/** Resolves at the store's next change notice; rejects when none comes within 5 s. */
function nextChange(store: HistoryStore): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('no change notice within 5 s'));
    }, 5_000);
    const off = (store.onChange as (listener: () => void) => () => void)(() => {
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

const the26th = [
  call('a', '2019-09-26T09:15:02', 30, { clientId: C1, serviceUserId: U1, serviceId: S1, callerId: U1, calleeId: P1 }),
  call('b', '2019-09-26T09:15:02', 45, { clientId: C1, callResult: 'UNSUCCESSFUL' }),
  call('c', '2019-09-26T23:59:59', 10, { serviceUserId: U1, callerId: P1, calleeId: U1 }),
  call('d', '2019-09-27T00:00:20', 70),
  call('n', null, 5, { serviceId: S1 }),
];

// Each test's keys must all be gone once its stores and connections are closed and its keys deleted.
const testRedis = useTestRedis({ expectNoKeysLeft: true });

interface Replica {
  store: RedisHistoryStore;
  context: RedisContext;
}

/** One replica: its own two connections on the test's prefix, and its own store. */
async function replica(): Promise<Replica> {
  const context = await testRedis.connect({ commandTimeoutMs: 5_000, connectTimeoutMs: 2_000 });
  const store = testRedis.closeAfter(new RedisHistoryStore(context, ZONE));
  return { store, context };
}

const keysOf = (pattern: string): Promise<string[]> => testRedis.admin.keys(`${testRedis.prefix}${pattern}`);

describe('RedisHistoryStore (replicas sharing one history)', () => {
  it('answers on one replica a period committed through another, with equal pages and totals, and tells its listeners', async () => {
    const a = await replica();
    const b = await replica();
    let toldA = 0;
    let toldB = 0;
    a.store.onChange(() => toldA++);
    b.store.onChange(() => toldB++);
    // B has read the (empty) history and listens before A commits.
    expect(await b.store.summary(FETCHED)).toEqual({ daysHeld: 0, daysSealed: 0, daysFailed: 0, calls: 0 });
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-28T00:00:00')).toEqual([]);

    const told = nextChange(b.store);
    expect(await fetchInto(a.store, '2019-09-26', 1, [...the26th, the26th[0] as ServiceCall])).toEqual({ duplicateRows: 1 });
    await told;

    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-28T00:00:00')).toEqual(['n', 'a', 'b', 'c', 'd']);
    expect(await answers(b.store)).toEqual(await answers(a.store));
    expect((await b.store.coverage(['2019-09-26'])).get('2019-09-26')).toEqual({ day: '2019-09-26', fetchedAt: FETCHED, sealed: true });
    // One value per period in Redis, named in the metadata and by the coverage of its day.
    expect(await keysOf('history:period:*')).toHaveLength(1);
    expect(await testRedis.admin.hlen(`${testRedis.prefix}history:periods`)).toBe(1);
    expect(JSON.parse((await testRedis.admin.hget(`${testRedis.prefix}history:coverage`, '2019-09-26')) as string)).toMatchObject({ fetchedAt: FETCHED, sealed: true });
    // A's own commit is not news to A's listeners; B heard of it once.
    await sleep(50);
    expect([toldA, toldB]).toEqual([0, 1]);
  });

  it('reads coverage through to Redis at once, while page and totals trust the change messages', async () => {
    const a = await replica();
    const b = await replica();
    await fetchInto(a.store, '2019-09-26', 1, the26th.slice(0, 2));
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['a', 'b']);
    // B's subscriber stops reading its socket: A's change message waits there.
    b.context.subscriber.stream.pause();
    await fetchInto(a.store, '2019-09-26', 1, the26th.slice(1, 3), FETCHED + 1000);
    const day = { from: at('2019-09-26T00:00:00'), to: at('2019-09-27T00:00:00'), filter: {} };
    // Page and totals are answered from B's copy with no round trip: as of before A's refetch.
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['a', 'b']);
    expect((await b.store.stats(day)).total).toBe(2);
    // Coverage checks the version first: A's refetch is seen at once, and the copy is synced with it.
    expect((await b.store.coverage(['2019-09-26'])).get('2019-09-26')?.fetchedAt).toBe(FETCHED + 1000);
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['b', 'c']);
    expect((await b.store.stats(day)).total).toBe(2);
    const told = nextChange(b.store);
    b.context.subscriber.stream.resume();
    await told;
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['b', 'c']);
  });

  it('replaces a period in the first replica’s answers after a refetch through the second, and keeps one value for it in Redis', async () => {
    const a = await replica();
    const b = await replica();
    await fetchInto(a.store, '2019-09-27', 1, [call('x', '2019-09-27T10:00:00', 10), call('y', '2019-09-27T11:00:00')]);
    expect(await ids(a.store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['x', 'y']);
    expect(await ids(b.store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['x', 'y']);

    const told = nextChange(a.store);
    await fetchInto(b.store, '2019-09-27', 1, [call('x', '2019-09-27T12:00:00', 20), call('z', '2019-09-27T13:00:00')], FETCHED + 1000, false);
    await told;
    const calls = (await pages(a.store, at('2019-09-27T00:00:00'), at('2019-09-28T00:00:00'))).flatMap((page) => page.calls);
    expect(calls.map((c) => [c.callId, c.durationSeconds, c.placedAt])).toEqual([
      ['x', 20, at('2019-09-27T12:00:00')],
      ['z', 60, at('2019-09-27T13:00:00')],
    ]);
    expect((await a.store.coverage(['2019-09-27'])).get('2019-09-27')).toEqual({ day: '2019-09-27', fetchedAt: FETCHED + 1000, sealed: false });
    expect(await answers(a.store)).toEqual(await answers(b.store));
    // The superseded period went with the commit that superseded it.
    expect(await keysOf('history:period:*')).toHaveLength(1);
    expect(await testRedis.admin.hlen(`${testRedis.prefix}history:periods`)).toBe(1);
  });

  it('shows a failure marked by one replica on the other, until a commit through either clears it', async () => {
    const a = await replica();
    const b = await replica();
    const failure = { until: FETCHED + 3_600_000, message: 'row 2, column Duration: bad', row: 2, column: 'Duration' };
    await a.store.markFailed(['2019-09-26', '2019-09-27'], failure);
    expect(await b.store.failures(['2019-09-25', '2019-09-26', '2019-09-27'])).toEqual(
      new Map([
        ['2019-09-26', failure],
        ['2019-09-27', failure],
      ]),
    );
    expect((await b.store.summary(FETCHED)).daysFailed).toBe(2);
    await fetchInto(b.store, '2019-09-27', 1, [call('e', '2019-09-27T10:00:00')]);
    expect([...(await a.store.failures(['2019-09-26', '2019-09-27'])).keys()]).toEqual(['2019-09-26']);
    expect(await a.store.summary(FETCHED)).toEqual({ daysHeld: 1, daysSealed: 1, daysFailed: 1, calls: 1 });
    expect((await a.store.summary(FETCHED + 3_600_000)).daysFailed).toBe(0);
  });

  it('answers everything on a replica opened later, from Redis alone, as the replicas that committed and as one memory store would', async () => {
    const a = await replica();
    const b = await replica();
    const reference = new MemoryHistoryStore(ZONE);
    const failure = { until: FETCHED + 3_600_000, message: 'the envelope ended early', row: null, column: null };
    // The same history through the replicas (alternating) and through one memory store.
    const steps: Array<(store: HistoryStore) => Promise<unknown>> = [
      (s) => fetchInto(s, '2019-09-24', 2, [call('p', '2019-09-24T10:00:00', 11), call('q', null, 12, { clientId: C1 })]),
      (s) => fetchInto(s, '2019-09-26', 3, [...the26th, call('y', '2019-09-28T00:00:20', 80), call('w', '2019-09-28T10:00:00', 90, { serviceId: S1 })]),
      // The 28th anew: y started on the 27th and is kept from the longer period.
      (s) => fetchInto(s, '2019-09-28', 1, [call('w', '2019-09-28T10:00:00', 91, { serviceId: S1 })], FETCHED + 1000),
      (s) => fetchInto(s, '2019-09-29', 1, [call('v', '2019-09-29T08:00:00', 7, { callResult: 'UNSUCCESSFUL', clientId: C1 })], FETCHED + 2000, false),
      (s) => s.markFailed(['2019-09-30', '2019-10-01'], failure),
      (s) => fetchInto(s, '2019-09-29', 1, [call('v', '2019-09-29T08:00:00', 8, { callResult: 'UNSUCCESSFUL', clientId: C1 }), call('u', '2019-09-29T09:00:00', 9)], FETCHED + 3000, false),
      (s) => s.dropBefore('2019-09-25'),
    ];
    for (const [i, step] of steps.entries()) {
      const replicaResult = await step(i % 2 === 0 ? a.store : b.store);
      expect(replicaResult).toEqual(await step(reference));
    }
    const c = await replica();
    const want = await answers(reference);
    expect(want.summary.calls).toBe(11);
    expect(await answers(c.store)).toEqual(want);
    expect(await answers(a.store)).toEqual(want);
    expect(await answers(b.store)).toEqual(want);
  });

  it('keeps a replaced row out after its newer copy is dropped, on a replica that lived through it and on one rebuilt from Redis', async () => {
    const a = await replica();
    const b = await replica();
    const reference = new MemoryHistoryStore(ZONE);
    for (const store of [a.store, reference]) {
      // x first came with the 1st–2nd, then (moved) with the 3rd.
      await fetchInto(store, '2019-09-01', 2, [call('w', '2019-09-01T10:00:00'), call('x', '2019-09-02T10:00:00', 1)]);
      await fetchInto(store, '2019-09-03', 1, [call('x', '2019-09-03T10:00:00', 2)], FETCHED + 1000);
    }
    // B holds both periods when the third arrives.
    expect(await ids(b.store, '2019-09-01T00:00:00', '2019-09-04T00:00:00')).toEqual(['w', 'x']);
    for (const store of [a.store, reference]) {
      // The 3rd anew without x: its copy from the 3rd goes, and the replaced copy from the 2nd stays replaced.
      await fetchInto(store, '2019-09-03', 1, [call('z', '2019-09-03T11:00:00')], FETCHED + 2000);
    }
    expect(await ids(reference, '2019-09-01T00:00:00', '2019-09-04T00:00:00')).toEqual(['w', 'z']);
    const c = await replica();
    for (const store of [a.store, b.store, c.store]) expect(await answers(store)).toEqual(await answers(reference));
    // Still so once the period that kept it out is itself written over by retention.
    for (const store of [b.store, reference]) await store.dropBefore('2019-09-02');
    const d = await replica();
    for (const store of [a.store, c.store, d.store]) expect(await answers(store)).toEqual(await answers(reference));
  });

  it('tells the other replica of retention, after which both answer alike', async () => {
    const a = await replica();
    const b = await replica();
    await fetchInto(a.store, '2019-09-01', 3, [call('a1', '2019-09-01T10:00:00'), call('a3', '2019-09-03T10:00:00'), call('a0', null)]);
    await fetchInto(a.store, '2019-09-04', 1, [call('b4', '2019-09-04T10:00:00')]);
    expect(await ids(b.store, '2019-08-01T00:00:00', '2019-10-01T00:00:00')).toEqual(['a0', 'a1', 'a3', 'b4']);
    const told = nextChange(b.store);
    expect(await a.store.dropBefore('2019-09-04')).toEqual({ days: 3, calls: 3 });
    await told;
    expect(await ids(b.store, '2019-08-01T00:00:00', '2019-10-01T00:00:00')).toEqual(['b4']);
    expect(await b.store.summary(FETCHED)).toEqual({ daysHeld: 1, daysSealed: 1, daysFailed: 0, calls: 1 });
    expect(await answers(b.store)).toEqual(await answers(a.store));
    expect(await keysOf('history:period:*')).toHaveLength(1);
  });

  it('serializes two replicas committing the same day at once: the one that lost the race computes again and lands last', async () => {
    const a = await replica();
    const b = await replica();
    await fetchInto(a.store, '2019-09-26', 1, [call('old', '2019-09-26T08:00:00')]);
    // B's first attempt is held back until A has committed: it was computed against an older version.
    const redisB = b.context.redis as unknown as { eval: (...args: unknown[]) => Promise<unknown> };
    const original = redisB.eval.bind(redisB);
    let attempts = 0;
    let reached!: () => void;
    const reachedEval = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    redisB.eval = async (...args: unknown[]) => {
      attempts++;
      if (attempts === 1) {
        reached();
        await released;
      }
      return original(...args);
    };
    const fromB = fetchInto(b.store, '2019-09-26', 1, [call('fromB', '2019-09-26T09:00:00'), call('fromB', '2019-09-26T09:30:00')], FETCHED + 2000);
    await reachedEval;
    await fetchInto(a.store, '2019-09-26', 1, [call('fromA', '2019-09-26T10:00:00')], FETCHED + 1000);
    release();
    expect(await fromB).toEqual({ duplicateRows: 1 });
    expect(attempts).toBe(2);
    for (const store of [a.store, b.store]) {
      // Coverage first (it checks the version): A's pages need not wait for B's change message then.
      expect((await store.coverage(['2019-09-26'])).get('2019-09-26')?.fetchedAt).toBe(FETCHED + 2000);
      expect(await ids(store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['fromB']);
    }
    expect(await keysOf('history:period:*')).toHaveLength(1);
    const c = await replica();
    expect(await answers(c.store)).toEqual(await answers(a.store));
  });

  it('answers a replica whose subscriber connection dropped from the version in Redis, and tells its listeners once it listens again', async () => {
    const a = await replica();
    const b = await replica();
    await fetchInto(a.store, '2019-09-26', 1, [call('first', '2019-09-26T08:00:00')]);
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['first']);
    const told = nextChange(b.store);
    const closed = once(b.context.subscriber, 'close');
    b.context.subscriber.disconnect(true);
    await closed;
    // Committed while B's subscriber is away: B never gets this message.
    await fetchInto(a.store, '2019-09-26', 1, [call('second', '2019-09-26T09:00:00')], FETCHED + 1000);
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['second']);
    await told;
    expect(b.context.subscriber.status).toBe('ready');
    // Listening again: the next change reaches B by message.
    const toldAgain = nextChange(b.store);
    await fetchInto(a.store, '2019-09-26', 1, [call('third', '2019-09-26T10:00:00')], FETCHED + 2000);
    await toldAgain;
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['third']);
  });

  it('does not pass a copy of a history Redis has lost for current, even when the new history reaches the same version', async () => {
    const a = await replica();
    const b = await replica();
    await fetchInto(a.store, '2019-09-26', 1, [call('before', '2019-09-26T08:00:00')]);
    expect(await ids(b.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['before']);
    // Redis loses everything (a restart without persistence); a new replica commits the first period of a new history.
    await testRedis.admin.del(...(await keysOf('*')));
    const c = await replica();
    await fetchInto(c.store, '2019-09-27', 1, [call('after', '2019-09-27T08:00:00')]);
    expect(await testRedis.admin.get(`${testRedis.prefix}history:version`)).toBe('1');
    for (const store of [b.store, a.store]) {
      expect([...(await store.coverage(['2019-09-26', '2019-09-27'])).keys()]).toEqual(['2019-09-27']);
      expect(await ids(store, '2019-09-26T00:00:00', '2019-09-28T00:00:00')).toEqual(['after']);
    }
    // A writer that held the old history computes its commit again against the new one.
    await fetchInto(a.store, '2019-09-28', 1, [call('later', '2019-09-28T08:00:00')]);
    expect(await answers(c.store)).toEqual(await answers(a.store));
    expect((await c.store.summary(FETCHED)).calls).toBe(2);
  });

  it('rejects with SharedStoreError when Redis cannot be reached', async () => {
    const a = await replica();
    await fetchInto(a.store, '2019-09-26', 1, [call('kept', '2019-09-26T08:00:00')]);
    expect(await ids(a.store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['kept']);
    const staged = await a.store.stage({ days: ['2019-09-27'], from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00') });
    await staged.add([call('lost', '2019-09-27T08:00:00')]);
    const closed = once(a.context.subscriber, 'close');
    a.context.redis.disconnect();
    a.context.subscriber.disconnect();
    await closed;
    const day = { from: at('2019-09-26T00:00:00'), to: at('2019-09-27T00:00:00'), filter: {} };
    const attempts: Array<Promise<unknown>> = [
      a.store.coverage(['2019-09-26']),
      a.store.page(day, null, 10),
      a.store.stats(day),
      a.store.failures(['2019-09-26']),
      a.store.markFailed(['2019-09-26'], { until: FETCHED, message: 'x', row: null, column: null }),
      a.store.summary(FETCHED),
      a.store.dropBefore('2019-09-01'),
      staged.commit([{ day: '2019-09-27', fetchedAt: FETCHED, sealed: true }]),
    ];
    for (const attempt of attempts) {
      const error = await attempt.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SharedStoreError);
      expect(error).toMatchObject({ name: 'SharedStoreError', code: expect.any(String) });
      expect(isStoreError(error)).toBe(true);
    }
    // Nothing of the failed commit reached Redis.
    expect(await keysOf('history:period:*')).toHaveLength(1);
    expect(await testRedis.admin.hkeys(`${testRedis.prefix}history:coverage`)).toEqual(['2019-09-26']);
  });
});
