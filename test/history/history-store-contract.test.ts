import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareHeldCalls, type HeldCall, type ServiceCall, type ServiceCallFilter } from '../../src/domain/service-call.js';
import { type CallPosition, type CallStats, selectCalls } from '../../src/history/call-selection.js';
import type { HistoryStore } from '../../src/history/history-store.js';
import { MemoryHistoryStore } from '../../src/history/memory-history-store.js';
import { closeRedis, connectRedis, type RedisContext } from '../../src/history/redis/redis-connection.js';
import { RedisHistoryStore } from '../../src/history/redis/redis-history-store.js';
import { SqliteHistoryStore } from '../../src/history/sqlite/sqlite-history-store.js';
import { at, call, FETCHED, fetchInto, ZONE } from '../support/history-rows.js';

/**
 * What every HistoryStore must do, whatever holds the rows: rows are held by the upstream period that
 * returned them, counted once by CallID, and selected by when they were answered.
 */

/**
 * Every held call of [from, to) passing the filter, read a few calls a page so paging itself is
 * exercised: each page after the first says there are calls before it, each but the last that more
 * follow.
 */
async function held(store: HistoryStore, from: number, to: number, filter: ServiceCallFilter = {}, first = 3): Promise<HeldCall[]> {
  const result: HeldCall[] = [];
  let after: CallPosition | null = null;
  for (;;) {
    const page = await store.page({ from, to, filter }, after, first);
    expect(page.hasPreviousPage).toBe(result.length > 0);
    result.push(...page.calls);
    if (!page.hasNextPage) {
      expect(page.calls.length).toBeLessThanOrEqual(first);
      return result;
    }
    expect(page.calls).toHaveLength(first);
    const last = page.calls[page.calls.length - 1] as HeldCall;
    after = { placedAt: last.placedAt, callId: last.callId };
  }
}

const ids = async (store: HistoryStore, from: string, to: string): Promise<string[]> => (await held(store, at(from), at(to))).map((c) => c.callId);

const asHeld = (c: ServiceCall, placeholder: number): HeldCall => ({ ...c, placedAt: c.callTime ?? placeholder });

/** The reference answer: the memory store's own selection over the calls a test knows it committed. */
function expected(calls: readonly HeldCall[], from: number, to: number, filter: ServiceCallFilter): { calls: HeldCall[]; stats: CallStats } {
  const inPeriod = calls.filter((c) => c.placedAt >= from && c.placedAt < to).sort(compareHeldCalls);
  return selectCalls(inPeriod, filter);
}

interface StoreKind {
  /** A store on `file` (ignored by a store that holds nothing outside itself; a Redis store's prefix is the file's). */
  open(file: string): HistoryStore;
  /**
   * Rows staged and not committed that are still kept outside the process (beside the file, or in
   * Redis); undefined for a store that keeps nothing outside itself.
   */
  stagedRows?(file: string): number | Promise<number>;
  /** Before and after the kind's cases (connections), and after each case (what it left on `file`). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  cleanup?(file: string): Promise<void>;
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Stores on the machine's Redis, one connection pair for all cases; each case's "file" stands for a
 * key prefix of its own (`test:<uuid>:`), so a store reopened on the file is a new replica of the same
 * shared history, and the case's keys are deleted after it.
 */
function redisKind(): StoreKind {
  let context: RedisContext | null = null;
  const prefixes = new Map<string, string>();
  const prefixOf = (file: string): string => {
    let prefix = prefixes.get(file);
    if (prefix === undefined) {
      prefix = `test:${randomUUID()}:`;
      prefixes.set(file, prefix);
    }
    return prefix;
  };
  const connected = (): RedisContext => {
    if (!context) throw new Error('Redis is not connected');
    return context;
  };
  const keysOf = async (prefix: string, pattern = '*'): Promise<string[]> => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await connected().redis.scan(cursor, 'MATCH', `${prefix}${pattern}`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  };
  return {
    setup: async () => {
      context = await connectRedis({ url: REDIS_URL, prefix: 'unused:' });
    },
    teardown: async () => {
      if (context) await closeRedis(context);
      context = null;
    },
    open: (file) => new RedisHistoryStore({ ...connected(), prefix: prefixOf(file) }, ZONE),
    // Rows in period values that no committed period names: what a stage or a failed commit left.
    stagedRows: async (file) => {
      const prefix = prefixOf(file);
      const committed = new Set((await connected().redis.hkeys(`${prefix}history:periods`)).map((id) => `${prefix}history:period:${id}`));
      let rows = 0;
      for (const key of await keysOf(prefix, 'history:period:*')) {
        if (committed.has(key)) continue;
        const value = await connected().redis.get(key);
        rows += value === null ? 0 : (JSON.parse(value) as { r: unknown[] }).r.length;
      }
      return rows;
    },
    cleanup: async (file) => {
      const prefix = prefixes.get(file);
      if (prefix === undefined) return;
      prefixes.delete(file);
      const keys = await keysOf(prefix);
      if (keys.length) await connected().redis.del(...keys);
      expect(await keysOf(prefix)).toEqual([]);
    },
  };
}

const kinds: Array<[string, StoreKind]> = [
  ['MemoryHistoryStore', { open: () => new MemoryHistoryStore(ZONE) }],
  [
    'SqliteHistoryStore',
    {
      open: (file) => SqliteHistoryStore.open(file, ZONE),
      // Staged rows live in staging files beside the history file, one per store instance.
      stagedRows: (file) =>
        readdirSync(dirname(file))
          .filter((name) => name.startsWith(`${basename(file)}-staging-`) && !name.endsWith('-journal'))
          .reduce((rows, name) => {
            const db = new Database(join(dirname(file), name), { readonly: true });
            try {
              return rows + (db.prepare('SELECT count(*) FROM staged').pluck().get() as number);
            } finally {
              db.close();
            }
          }, 0),
    },
  ],
  ['RedisHistoryStore', redisKind()],
];

describe.each(kinds)('%s (history store contract)', (_name, kind) => {
  let dir = '';
  let file = '';
  const opened: HistoryStore[] = [];
  beforeAll(async () => {
    await kind.setup?.();
  });
  afterAll(async () => {
    await kind.teardown?.();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'history-store-contract-'));
    file = join(dir, 'history.sqlite');
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await kind.cleanup?.(file);
    rmSync(dir, { recursive: true, force: true });
  });
  const makeStore = (): HistoryStore => {
    const store = kind.open(file);
    opened.push(store);
    return store;
  };

  /** The answers for the periods starting on the 26th and the 27th (as in shared/cases/midnight-period-*). */
  const the26th = [call('a', '2019-09-26T09:15:02'), call('b', '2019-09-26T09:15:02'), call('c', '2019-09-26T23:59:59'), call('d', '2019-09-27T00:00:20')];
  const the27th = [call('e', '2019-09-27T10:00:00')];

  it('keeps a call answered after the end of the period that returned it, and selects it by callTime', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-26', 1, the26th);
    await fetchInto(store, '2019-09-27', 1, the27th);
    expect(await ids(store, '2019-09-26T00:00:00', '2019-09-28T00:00:00')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await ids(store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['d', 'e']);
    expect(await ids(store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['a', 'b', 'c']);
    // A refetch of the 27th replaces what the 27th brought, and nothing the 26th brought.
    await fetchInto(store, '2019-09-27', 1, the27th, FETCHED + 1000);
    expect(await ids(store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['d', 'e']);
    expect(await ids(store, '2019-09-26T00:00:00', '2019-09-28T00:00:00')).toHaveLength(5);
  });

  it('replaces exactly what a period brought before when it is fetched again', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-27', 1, [call('x', '2019-09-27T10:00:00', 10), call('y', '2019-09-27T11:00:00')]);
    await fetchInto(store, '2019-09-27', 1, [call('x', '2019-09-27T12:00:00', 20), call('z', '2019-09-27T13:00:00')], FETCHED + 1000);
    const calls = await held(store, at('2019-09-27T00:00:00'), at('2019-09-28T00:00:00'));
    expect(calls.map((c) => [c.callId, c.durationSeconds, c.placedAt])).toEqual([
      ['x', 20, at('2019-09-27T12:00:00')],
      ['z', 60, at('2019-09-27T13:00:00')],
    ]);
    expect((await store.coverage(['2019-09-27'])).get('2019-09-27')?.fetchedAt).toBe(FETCHED + 1000);
  });

  it('keeps what an older, longer period alone still provides, and drops it once all its days are fetched anew', async () => {
    const store = makeStore();
    // Days 1–3 in one call: y rang late on the 2nd and was answered just after midnight.
    await fetchInto(store, '2019-09-01', 3, [call('w', '2019-09-01T10:00:00'), call('y', '2019-09-03T00:00:20'), call('x', '2019-09-03T10:00:00')]);
    // The 3rd again: y started on the 2nd, so it is not in this answer, and must not be lost.
    await fetchInto(store, '2019-09-03', 1, [call('x', '2019-09-03T10:00:00')], FETCHED + 1000);
    expect(await ids(store, '2019-09-03T00:00:00', '2019-09-04T00:00:00')).toEqual(['y', 'x']);
    // Days 1–2 anew, without y (gone upstream): the first copy covers nothing any more, and goes with y.
    await fetchInto(store, '2019-09-01', 2, [call('w', '2019-09-01T10:00:00')], FETCHED + 2000);
    expect(await ids(store, '2019-09-01T00:00:00', '2019-09-04T00:00:00')).toEqual(['w', 'x']);
    expect((await store.stats({ from: at('2019-09-01T00:00:00'), to: at('2019-09-04T00:00:00'), filter: {} })).total).toBe(2);
    expect((await store.summary(FETCHED)).calls).toBe(2);
  });

  it('counts a call listed by two periods once, as its newest copy says', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-26', 1, [call('d', '2019-09-27T00:00:20', 95)]);
    const staged = await store.stage({ days: ['2019-09-27'], from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00') });
    await staged.add([call('d', '2019-09-27T00:00:25', 96), call('d', '2019-09-27T00:00:26', 97)]);
    expect(await staged.commit([{ day: '2019-09-27', fetchedAt: FETCHED + 1000, sealed: true }])).toEqual({ duplicateRows: 1 });
    const calls = await held(store, at('2019-09-26T00:00:00'), at('2019-09-28T00:00:00'));
    expect(calls.map((c) => [c.callId, c.durationSeconds])).toEqual([['d', 96]]);
    expect((await store.stats({ from: at('2019-09-26T00:00:00'), to: at('2019-09-28T00:00:00'), filter: {} })).total).toBe(1);
  });

  it('keeps the first row of a CallID listed twice in one response, across batches, and says how many rows merged', async () => {
    const store = makeStore();
    const result = await fetchInto(store, '2019-09-27', 1, [
      call('p', '2019-09-27T10:00:00', 1),
      call('q', '2019-09-27T11:00:00', 2),
      call('p', '2019-09-27T12:00:00', 3),
      call('p', '2019-09-27T13:00:00', 4),
      call('q', '2019-09-27T14:00:00', 5),
    ]);
    expect(result).toEqual({ duplicateRows: 3 });
    const calls = await held(store, at('2019-09-27T00:00:00'), at('2019-09-28T00:00:00'));
    expect(calls.map((c) => [c.callId, c.durationSeconds])).toEqual([
      ['p', 1],
      ['q', 2],
    ]);
  });

  it('places a call without CallTime at the start of the first day of its period, and keeps it', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-26', 2, [call('late', '2019-09-26T18:29:37'), call('never', null), call('early', '2019-09-26T00:00:00')]);
    const calls = await held(store, at('2019-09-26T00:00:00'), at('2019-09-27T00:00:00'));
    expect(calls.map((c) => [c.callId, c.callTime, c.placedAt])).toEqual([
      ['early', at('2019-09-26T00:00:00'), at('2019-09-26T00:00:00')],
      ['never', null, at('2019-09-26T00:00:00')],
      ['late', at('2019-09-26T18:29:37'), at('2019-09-26T18:29:37')],
    ]);
    expect(await ids(store, '2019-09-26T00:00:01', '2019-09-28T00:00:00')).toEqual(['late']);
    const stats = await store.stats({ from: at('2019-09-26T00:00:00'), to: at('2019-09-26T00:00:01'), filter: {} });
    expect(stats).toEqual({ total: 2, successful: 2, unsuccessful: 0, totalDurationSeconds: 120, averageDurationSeconds: 60 });
  });

  it('gives back every value as it was committed: nulls, IDs, results, the largest durations, CallTime to the millisecond', async () => {
    const store = makeStore();
    const full = call('3f2504e0-4f89-41d3-9a0c-0305e82c3301', '2019-09-26T10:00:00.123', 2_147_483_647, {
      clientId: '0b6f7c1e-6a0b-4f51-8d3e-6b0e9c1a2b3c',
      serviceUserId: '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d',
      serviceId: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
      callerId: '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d',
      calleeId: '00000000-0000-4000-8000-000000000000',
      callResult: 'UNSUCCESSFUL',
    });
    const bare = call('bare', null, 0, { callResult: 'UNSUCCESSFUL' });
    await fetchInto(store, '2019-09-26', 1, [full, bare]);
    const placeholder = at('2019-09-26T00:00:00');
    expect(await held(store, at('2019-09-26T00:00:00'), at('2019-09-27T00:00:00'))).toEqual([asHeld(bare, placeholder), asHeld(full, placeholder)]);
  });

  it('orders history by placedAt, then by callId, whatever order the rows came in', async () => {
    const store = makeStore();
    const rows = [
      call('m', '2019-09-26T12:00:00'),
      call('b', '2019-09-26T12:00:00'),
      call('z', '2019-09-26T08:00:00'),
      call('a', '2019-09-26T12:00:00.001'),
      call('k', '2019-09-26T12:00:00'),
      call('c', null),
    ];
    await fetchInto(store, '2019-09-26', 1, rows);
    expect(await ids(store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['c', 'z', 'b', 'k', 'm', 'a']);
  });

  describe('cursors', () => {
    const seven = ['g', 'f', 'e', 'd', 'c', 'b', 'a'].map((id, i) => call(id, `2019-09-26T1${Math.floor(i / 2)}:00:00`));
    const FROM = at('2019-09-26T00:00:00');
    const TO = at('2019-09-27T00:00:00');

    it('walks 7 calls in pages of 2, each call once, with the right page flags on the first, middle and last page', async () => {
      const store = makeStore();
      await fetchInto(store, '2019-09-26', 1, seven);
      const pages: Array<{ ids: string[]; next: boolean; previous: boolean }> = [];
      let after: CallPosition | null = null;
      for (let i = 0; i < 10; i++) {
        const page = await store.page({ from: FROM, to: TO, filter: {} }, after, 2);
        pages.push({ ids: page.calls.map((c) => c.callId), next: page.hasNextPage, previous: page.hasPreviousPage });
        if (!page.hasNextPage) break;
        const last = page.calls[page.calls.length - 1] as HeldCall;
        after = { placedAt: last.placedAt, callId: last.callId };
      }
      expect(pages).toEqual([
        { ids: ['f', 'g'], next: true, previous: false },
        { ids: ['d', 'e'], next: true, previous: true },
        { ids: ['b', 'c'], next: true, previous: true },
        { ids: ['a'], next: false, previous: true },
      ]);
      // A page that ends exactly at the last call says nothing follows.
      const exact = await store.page({ from: FROM, to: TO, filter: {} }, { placedAt: at('2019-09-26T11:00:00'), callId: 'e' }, 3);
      expect([exact.calls.map((c) => c.callId), exact.hasNextPage, exact.hasPreviousPage]).toEqual([['b', 'c', 'a'], false, true]);
    });

    it('continues strictly after a cursor that names no held call, and from the start or nowhere for a cursor outside the period', async () => {
      const store = makeStore();
      await fetchInto(store, '2019-09-26', 1, seven);
      const page = (after: CallPosition, first = 10) => store.page({ from: FROM, to: TO, filter: {} }, after, first);
      // Between d and e (both at 11:00): continues with e.
      const between = await page({ placedAt: at('2019-09-26T11:00:00'), callId: 'da' });
      expect([between.calls.map((c) => c.callId), between.hasPreviousPage]).toEqual([['e', 'b', 'c', 'a'], true]);
      const before = await page({ placedAt: at('2019-09-25T12:00:00'), callId: 'zzz' }, 2);
      expect([before.calls.map((c) => c.callId), before.hasNextPage, before.hasPreviousPage]).toEqual([['f', 'g'], true, false]);
      const beyond = await page({ placedAt: at('2019-09-27T12:00:00'), callId: '' });
      expect([beyond.calls, beyond.hasNextPage, beyond.hasPreviousPage]).toEqual([[], false, true]);
      // A period holding no calls: nothing before, nothing after.
      const empty = await store.page({ from: at('2019-09-20T00:00:00'), to: at('2019-09-21T00:00:00'), filter: {} }, { placedAt: at('2019-09-20T12:00:00'), callId: 'x' }, 2);
      expect([empty.calls, empty.hasNextPage, empty.hasPreviousPage]).toEqual([[], false, false]);
      // first: 0 tells whether there is anything at all.
      const none = await store.page({ from: FROM, to: TO, filter: {} }, null, 0);
      expect([none.calls, none.hasNextPage, none.hasPreviousPage]).toEqual([[], true, false]);
    });
  });

  describe('filters', () => {
    const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const [C1, C2, U1, U2, S1, S2, P1, P2] = [1, 2, 3, 4, 5, 6, 7, 8].map(id) as [string, string, string, string, string, string, string, string];
    const party = (clientId: string | null, serviceUserId: string | null, serviceId: string | null, callerId: string | null, calleeId: string | null) => ({
      clientId,
      serviceUserId,
      serviceId,
      callerId,
      calleeId,
    });
    const rows: ServiceCall[] = [
      call('f1', '2019-09-26T09:00:00', 100, party(C1, U1, S1, U1, P1)), // inbound: specialist P1
      call('f2', '2019-09-26T10:00:00', 30, { ...party(C1, U1, S2, P2, U1), callResult: 'UNSUCCESSFUL' }), // outbound: P2
      call('f3', '2019-09-26T23:30:00', 50, party(C2, U2, S1, U2, P1)), // inbound: P1
      call('f4', '2019-09-27T08:00:00', 70, party(C2, null, S2, P1, U2)), // no service user: unknown direction
      call('f5', '2019-09-27T08:00:00', 20, { ...party(C1, U1, S1, P2, P1), callResult: 'UNSUCCESSFUL' }), // neither side is the user
      call('f6', '2019-09-27T12:00:00', 10, party(C2, U2, null, U2, null)), // inbound, no callee: no specialist
      call('f7', '2019-09-27T13:00:00', 40, party(null, U1, S1, U1, U1)), // the user called themselves
      call('f8', null, 90, party(C1, U2, S2, P1, U2)), // outbound: P1, no CallTime
      call('f9', '2019-09-28T01:00:00', 5, party(C1, U1, S1, U1, P2)), // the next day: inbound, P2
    ];
    const placeholder = at('2019-09-26T00:00:00');
    const all = rows.map((c) => asHeld(c, placeholder));
    const filters: ServiceCallFilter[] = [
      {},
      { clientId: C1 },
      { clientId: C2 },
      { serviceUserId: U1 },
      { serviceUserId: U2 },
      { serviceId: S1 },
      { serviceId: S2 },
      { specialistId: P1 },
      { specialistId: P2 },
      { specialistId: U1 },
      { specialistId: U2 },
      { callResult: 'SUCCESSFUL' },
      { callResult: 'UNSUCCESSFUL' },
      { partyId: U1 },
      { partyId: U2 },
      { partyId: P1 },
      { partyId: P2 },
      { onCallSpecialistId: P1 },
      { onCallSpecialistId: P2 },
      { onCallSpecialistId: U1 },
      { clientId: C1, callResult: 'SUCCESSFUL' },
      { clientId: C1, serviceId: S1, serviceUserId: U1 },
      { specialistId: P1, partyId: U2 },
      { partyId: U1, onCallSpecialistId: P1 },
      { serviceId: S1, specialistId: P2 },
      { clientId: C2, partyId: U2, callResult: 'UNSUCCESSFUL' },
      { clientId: C2, partyId: U2, callResult: 'SUCCESSFUL' },
      { specialistId: P2, onCallSpecialistId: P1, callResult: 'UNSUCCESSFUL' },
      { clientId: null, serviceId: undefined, callResult: null },
    ];
    const periods: Array<[string, number, number]> = [
      ['whole days', at('2019-09-26T00:00:00'), at('2019-09-29T00:00:00')],
      ['mid-day to mid-day', at('2019-09-26T09:30:00'), at('2019-09-27T12:30:00')],
      ['midnight to mid-day', at('2019-09-27T00:00:00'), at('2019-09-27T12:00:00')],
      ['mid-day to midnight', at('2019-09-26T00:00:01'), at('2019-09-28T00:00:00')],
    ];

    it.each(periods)('selects and totals by every filter field, alone and combined (%s)', async (_label, from, to) => {
      const store = makeStore();
      await fetchInto(store, '2019-09-26', 2, rows.slice(0, 8));
      await fetchInto(store, '2019-09-28', 1, rows.slice(8));
      for (const filter of filters) {
        const want = expected(all, from, to, filter);
        expect({ filter, calls: await held(store, from, to, filter, 2) }).toEqual({ filter, calls: want.calls });
        expect({ filter, stats: await store.stats({ from, to, filter }) }).toEqual({ filter, stats: want.stats });
      }
    });

    it('finds nothing for an ID no call holds', async () => {
      const store = makeStore();
      await fetchInto(store, '2019-09-26', 2, rows);
      const from = at('2019-09-26T00:00:00');
      const to = at('2019-09-29T00:00:00');
      for (const filter of [{ clientId: id(99) }, { partyId: id(99) }, { specialistId: id(99) }, { clientId: C1, onCallSpecialistId: id(98) }]) {
        expect(await store.page({ from, to, filter }, null, 10)).toEqual({ calls: [], hasNextPage: false, hasPreviousPage: false });
        expect(await store.stats({ from, to, filter })).toEqual({ total: 0, successful: 0, unsuccessful: 0, totalDurationSeconds: 0, averageDurationSeconds: null });
      }
    });
  });

  describe('stats', () => {
    const MAX = 2_147_483_647;
    const rows = [
      call('s1', '2019-09-26T00:00:00', MAX),
      call('s2', '2019-09-26T11:59:59', MAX),
      call('s3', '2019-09-26T12:00:00', 10, { callResult: 'UNSUCCESSFUL' }),
      call('s4', '2019-09-26T23:59:59.999', 7),
      call('s5', '2019-09-27T00:00:00', MAX, { clientId: 'c' }),
      call('s6', '2019-09-27T18:00:00', 3, { callResult: 'UNSUCCESSFUL', clientId: 'c' }),
      call('s7', '2019-09-28T06:00:00', 4),
      call('s8', null, 5, { callResult: 'UNSUCCESSFUL' }),
    ];
    const all = rows.map((c) => asHeld(c, at('2019-09-26T00:00:00')));
    const periods: Array<[string, string]> = [
      ['2019-09-26T00:00:00', '2019-09-29T00:00:00'],
      ['2019-09-26T00:00:00', '2019-09-27T00:00:00'],
      ['2019-09-26T12:00:00', '2019-09-28T12:00:00'],
      ['2019-09-26T00:00:00.001', '2019-09-27T00:00:00'],
      ['2019-09-26T12:00:00', '2019-09-26T12:00:01'],
      ['2019-09-26T23:00:00', '2019-09-28T06:00:00'],
      ['2019-09-27T00:00:00', '2019-09-27T00:00:00'],
      ['2019-09-28T00:00:00', '2019-09-26T00:00:00'],
      ['2019-09-20T00:00:00', '2019-10-20T00:00:00'],
    ];

    it('totals calls, successes, a duration sum beyond 2^31 and the average of successful calls, over any period', async () => {
      const store = makeStore();
      await fetchInto(store, '2019-09-26', 3, rows);
      const whole = await store.stats({ from: at('2019-09-26T00:00:00'), to: at('2019-09-29T00:00:00'), filter: {} });
      expect(whole).toEqual({
        total: 8,
        successful: 5,
        unsuccessful: 3,
        totalDurationSeconds: 3 * MAX + 10 + 7 + 3 + 4 + 5,
        averageDurationSeconds: (3 * MAX + 7 + 4) / 5,
      });
      expect(whole.totalDurationSeconds).toBeGreaterThan(2 ** 31);
      for (const [from, to] of periods) {
        for (const filter of [{}, { callResult: 'SUCCESSFUL' as const }, { callResult: 'UNSUCCESSFUL' as const }, { clientId: 'c' }]) {
          const got = await store.stats({ from: at(from), to: at(to), filter });
          expect({ from, to, filter, got }).toEqual({ from, to, filter, got: expected(all, at(from), at(to), filter).stats });
        }
      }
      const none = await store.stats({ from: at('2019-09-27T18:00:00'), to: at('2019-09-27T19:00:00'), filter: {} });
      expect(none).toEqual({ total: 1, successful: 0, unsuccessful: 1, totalDurationSeconds: 3, averageDurationSeconds: null });
    });

    it('follows a call that a newer copy moves to another day, and the calls a dropped copy takes along', async () => {
      const store = makeStore();
      await fetchInto(store, '2019-09-26', 2, [call('m', '2019-09-26T10:00:00', 100), call('n', '2019-09-27T10:00:00', 1)]);
      const day26 = { from: at('2019-09-26T00:00:00'), to: at('2019-09-27T00:00:00'), filter: {} };
      const day27 = { from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00'), filter: {} };
      expect([(await store.stats(day26)).total, (await store.stats(day27)).total]).toEqual([1, 1]);
      // The 27th fetched anew brings m answered on the 27th (it moves), and no n.
      await fetchInto(store, '2019-09-27', 1, [call('m', '2019-09-27T11:00:00', 200)], FETCHED + 1000);
      expect([(await store.stats(day26)).total, (await store.stats(day27)).totalDurationSeconds]).toEqual([0, 201]);
      // The 26th anew, empty: the first copy covers nothing any more and goes with n.
      await fetchInto(store, '2019-09-26', 1, [], FETCHED + 2000);
      expect(await store.stats(day27)).toEqual({ total: 1, successful: 1, unsuccessful: 0, totalDurationSeconds: 200, averageDurationSeconds: 200 });
      expect((await store.summary(FETCHED)).calls).toBe(1);
    });
  });

  it('records failed days until a complete copy of them is committed', async () => {
    const store = makeStore();
    const failure = { until: FETCHED + 3_600_000, message: 'row 2, column Duration: bad', row: 2, column: 'Duration' };
    await store.markFailed(['2019-09-26', '2019-09-27'], failure);
    expect(await store.failures(['2019-09-26', '2019-09-27', '2019-09-28'])).toEqual(
      new Map([
        ['2019-09-26', failure],
        ['2019-09-27', failure],
      ]),
    );
    await fetchInto(store, '2019-09-27', 1, the27th);
    expect([...(await store.failures(['2019-09-26', '2019-09-27'])).keys()]).toEqual(['2019-09-26']);
    const other = { until: FETCHED + 7_200_000, message: 'the envelope ended early', row: null, column: null };
    await store.markFailed(['2019-09-26'], other);
    expect(await store.failures(['2019-09-26'])).toEqual(new Map([['2019-09-26', other]]));
  });

  it('leaves no trace of a discarded response', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-27', 1, the27th);
    const staged = await store.stage({ days: ['2019-09-27'], from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00') });
    await staged.add([call('half', '2019-09-27T11:00:00')]);
    await staged.discard();
    expect(await ids(store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['e']);
    expect((await store.coverage(['2019-09-27'])).get('2019-09-27')?.fetchedAt).toBe(FETCHED);
    await expect(staged.commit([{ day: '2019-09-27', fetchedAt: FETCHED + 1, sealed: true }])).rejects.toThrow();
    if (kind.stagedRows) expect(await kind.stagedRows(file)).toBe(0);
  });

  it('shows nothing staged until commit, and refuses a second commit', async () => {
    const store = makeStore();
    const staged = await store.stage({ days: ['2019-09-27'], from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00') });
    await staged.add(the27th);
    const day = { from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00'), filter: {} };
    expect((await store.page(day, null, 10)).calls).toEqual([]);
    expect((await store.stats(day)).total).toBe(0);
    expect(await store.coverage(['2019-09-27'])).toEqual(new Map());
    await expect(staged.commit([])).rejects.toThrow();
    await staged.commit([{ day: '2019-09-27', fetchedAt: FETCHED, sealed: false }]);
    expect((await store.page(day, null, 10)).calls.map((c) => c.callId)).toEqual(['e']);
    await expect(staged.commit([{ day: '2019-09-27', fetchedAt: FETCHED, sealed: false }])).rejects.toThrow();
  });

  it('forgets days before a day, keeping the calls of a period that reaches past it until all its days are gone', async () => {
    const store = makeStore();
    const failure = { until: FETCHED + 3_600_000, message: 'bad', row: null, column: null };
    await fetchInto(store, '2019-09-01', 3, [call('a1', '2019-09-01T10:00:00'), call('a3', '2019-09-03T10:00:00'), call('a0', null)]);
    await fetchInto(store, '2019-09-04', 1, [call('b4', '2019-09-04T10:00:00')]);
    await store.markFailed(['2019-08-31', '2019-09-04'], failure);
    const days = ['2019-08-31', '2019-09-01', '2019-09-02', '2019-09-03', '2019-09-04'];
    const everything = { from: at('2019-08-01T00:00:00'), to: at('2019-10-01T00:00:00'), filter: {} };

    expect(await store.dropBefore('2019-09-03')).toEqual({ days: 2, calls: 0 });
    expect([...(await store.coverage(days)).keys()]).toEqual(['2019-09-03', '2019-09-04']);
    expect([...(await store.failures(days)).keys()]).toEqual(['2019-09-04']);
    expect((await held(store, everything.from, everything.to)).map((c) => c.callId)).toEqual(['a0', 'a1', 'a3', 'b4']);

    expect(await store.dropBefore('2019-09-04')).toEqual({ days: 1, calls: 3 });
    expect((await held(store, everything.from, everything.to)).map((c) => c.callId)).toEqual(['b4']);
    expect(await store.stats(everything)).toEqual({ total: 1, successful: 1, unsuccessful: 0, totalDurationSeconds: 60, averageDurationSeconds: 60 });
    expect(await store.dropBefore('2019-09-04')).toEqual({ days: 0, calls: 0 });
    expect(await store.summary(FETCHED)).toEqual({ daysHeld: 1, daysSealed: 1, daysFailed: 1, calls: 1 });
  });

  it('sums up days held and sealed, failures still in force and calls held', async () => {
    const store = makeStore();
    expect(await store.summary(FETCHED)).toEqual({ daysHeld: 0, daysSealed: 0, daysFailed: 0, calls: 0 });
    await fetchInto(store, '2019-09-24', 2, [call('x', '2019-09-24T10:00:00'), call('y', null)]);
    await fetchInto(store, '2019-09-26', 2, the26th, FETCHED, false);
    await store.markFailed(['2019-09-20'], { until: FETCHED + 1000, message: 'later', row: 1, column: 'CallTime' });
    await store.markFailed(['2019-09-21', '2019-09-22'], { until: FETCHED, message: 'over', row: null, column: null });
    expect(await store.summary(FETCHED)).toEqual({ daysHeld: 4, daysSealed: 2, daysFailed: 1, calls: 6 });
    expect((await store.summary(FETCHED - 1)).daysFailed).toBe(3);
    expect((await store.summary(FETCHED + 1000)).daysFailed).toBe(0);
  });

  // Only a store that keeps the history outside itself (a file, Redis) has a next store to find it:
  // defined for those, not skipped for the rest.
  const onFile = kind.stagedRows ? it : undefined;
  onFile?.(
    'keeps what was committed for the next store on the file, never what was only staged (persistence)',
    async () => {
      const first = makeStore();
      await fetchInto(first, '2019-09-26', 1, the26th);
      const staged = await first.stage({ days: ['2019-09-27'], from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00') });
      await staged.add(the27th);
      const second = makeStore();
      const period = { from: at('2019-09-26T00:00:00'), to: at('2019-09-28T00:00:00'), filter: {} };
      expect((await held(second, period.from, period.to)).map((c) => c.callId)).toEqual(['a', 'b', 'c', 'd']);
      expect([...(await second.coverage(['2019-09-26', '2019-09-27'])).keys()]).toEqual(['2019-09-26']);
      expect((await second.stats(period)).total).toBe(4);
      // The first store stops without committing (as a crash would): a store opened after it finds
      // the committed copy whole, and the staged rows gone.
      await first.close();
      await second.close();
      const third = makeStore();
      expect((await held(third, period.from, period.to)).map((c) => c.callId)).toEqual(['a', 'b', 'c', 'd']);
      expect(await third.summary(FETCHED)).toEqual({ daysHeld: 1, daysSealed: 1, daysFailed: 0, calls: 4 });
      expect(await kind.stagedRows?.(file)).toBe(0);
    },
  );
});
