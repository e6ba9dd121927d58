import { afterEach, describe, expect, it } from 'vitest';
import type { HistoryStore } from '../../src/history/history-store.js';
import { type Harness, startHarness } from '../support/harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** What better-sqlite3 throws when the disk under DATA_DIR fails. */
const sqliteError = (code: string, message: string): Error => Object.assign(new Error(message), { name: 'SqliteError', code });
const week = (from: string, to: string): string => `{ serviceCalls(filter: { periodFrom: "${from}", periodTo: "${to}" }) { totalCount } quota { usedLastHour } }`;

describe('a failing store', () => {
  it('an answer the store cannot keep: STORE_UNAVAILABLE, and no upstream call until FAILED_RETRY_SECONDS pass', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { FAILED_RETRY_SECONDS: '600' } }));
    const store = h.store as HistoryStore;
    const stage = store.stage.bind(store);
    let full = true;
    store.stage = async (period) => {
      const staged = await stage(period);
      return {
        ...staged,
        commit: (coverage) => (full ? Promise.reject(sqliteError('SQLITE_FULL', 'database or disk is full')) : staged.commit(coverage)),
      };
    };
    const first = await h.query<{ serviceCalls: { totalCount: number } | null }, never>(week('2024-03-04', '2024-03-11'));
    expect(first.data?.serviceCalls).toBeNull();
    expect(first.errors?.[0]?.extensions).toEqual({ code: 'STORE_UNAVAILABLE', retryAfterSeconds: 600, storeCode: 'SQLITE_FULL' });
    expect(first.errors?.[0]?.message).toMatch(/no upstream call is made for 600 s/);
    expect(h.upstreamCalls()).toBe(1);
    // Other weeks too: their answers could not be kept either.
    for (let i = 0; i < 5; i++) {
      h.clock.advance(60_000);
      const again = await h.query(week('2024-02-26', '2024-03-04'));
      expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'STORE_UNAVAILABLE', retryAfterSeconds: 600 - 60 * (i + 1) });
    }
    expect(h.upstreamCalls()).toBe(1);
    expect((await h.yoga.fetch('http://yoga.test/health')).status).toBe(200);
    // The disk has room again and the window passed: one call, kept.
    full = false;
    h.clock.advance(5 * 60_000);
    const later = await h.query<{ serviceCalls: { totalCount: number } }, never>(week('2024-03-04', '2024-03-11'));
    expect(later.errors).toBeUndefined();
    expect(later.data?.serviceCalls.totalCount).toBe(7 * 120);
    expect(h.upstreamCalls()).toBe(2);
  });

  it('held history the store cannot read: STORE_UNAVAILABLE at the field, not a masked error', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    expect((await h.query(week('2024-03-04', '2024-03-11'))).errors).toBeUndefined();
    const store = h.store as HistoryStore;
    store.stats = () => Promise.reject(sqliteError('SQLITE_CORRUPT', 'database disk image is malformed'));
    store.page = () => Promise.reject(sqliteError('SQLITE_CORRUPT', 'database disk image is malformed'));
    // A filter not asked before: its totals are not among those the server keeps in memory.
    const broken = await h.query(
      `{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11", callResult: SUCCESSFUL }) { totalCount pageInfo { endCursor } } }`,
    );
    expect(broken.errors?.map((e) => [e.path?.join('.'), e.extensions?.code, e.extensions?.storeCode]).sort()).toEqual([
      ['serviceCalls.pageInfo.endCursor', 'STORE_UNAVAILABLE', 'SQLITE_CORRUPT'],
      ['serviceCalls.totalCount', 'STORE_UNAVAILABLE', 'SQLITE_CORRUPT'],
    ]);
    expect(JSON.stringify(broken)).not.toMatch(/Unexpected error/);
    expect(h.upstreamCalls()).toBe(1);
  });
});
