import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { RedisContext } from '../../src/history/redis/redis-connection.js';
import { RedisFetchLocks } from '../../src/history/redis/redis-fetch-locks.js';
import { useTestRedis } from '../support/redis.js';

const testRedis = useTestRedis();

/** One replica: its own two connections on the test's prefix, and its own RedisFetchLocks. */
async function replica(options: { leaseMs: number; onError?: (e: Error) => void }): Promise<{ locks: RedisFetchLocks; context: RedisContext }> {
  const context = await testRedis.connect({ commandTimeoutMs: 2_000, connectTimeoutMs: 2_000 });
  const locks = testRedis.closeAfter(new RedisFetchLocks(context, options));
  return { locks, context };
}

/** A promise's state without waiting for it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; at: () => number | null; promise: Promise<T> } {
  let settledAt: number | null = null;
  const tracked = promise.finally(() => {
    settledAt = performance.now();
  });
  return { settled: () => settledAt !== null, at: () => settledAt, promise: tracked };
}

describe('RedisFetchLocks (replicas sharing one Redis)', () => {
  it('grants a key to exactly one of three concurrent replicas, and wakes the waiters by pub/sub when it is released', async () => {
    const leaseMs = 5_000;
    const replicas = await Promise.all([replica({ leaseMs }), replica({ leaseMs }), replica({ leaseMs })]);
    const results = await Promise.all(replicas.map(({ locks }) => locks.tryAcquire('2024-03-04/7')));
    const winners = results.filter((lock) => lock !== null);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    const waiting = replicas.filter((_, i) => results[i] === null).map(({ locks }) => track(locks.released('2024-03-04/7')));
    expect(waiting).toHaveLength(2);

    await sleep(150);
    expect(waiting.map((w) => w.settled())).toEqual([false, false]);

    const releasedAt = performance.now();
    await winner.release();
    await Promise.all(waiting.map((w) => w.promise));
    // Heard on the channel: far sooner than the 5 s lease (the only other way a waiter wakes).
    for (const w of waiting) expect(w.at()! - releasedAt).toBeLessThan(500);

    // Released for real: another replica takes it now.
    const loser = replicas[results.findIndex((lock) => lock === null)]!;
    expect(await loser.locks.tryAcquire('2024-03-04/7')).not.toBeNull();
  });

  it('resolves released() at once for a key nobody holds, and keeps keys apart', async () => {
    const { locks: a } = await replica({ leaseMs: 5_000 });
    const { locks: b } = await replica({ leaseMs: 5_000 });
    const started = performance.now();
    await b.released('nobody');
    expect(performance.now() - started).toBeLessThan(300);

    const lockA = await a.tryAcquire('one');
    expect(lockA).not.toBeNull();
    // Another key is free, and its waiters are not held by 'one'.
    expect(await b.tryAcquire('two')).not.toBeNull();
    const waitOne = track(b.released('one'));
    await sleep(100);
    expect(waitOne.settled()).toBe(false);
    await lockA!.release();
    await waitOne.promise;
  });

  it('a holder that dies without releasing lets waiters go when its lease lapses, and another replica can then acquire', async () => {
    const leaseMs = 600;
    const { locks: dying } = await replica({ leaseMs });
    const { locks: other } = await replica({ leaseMs });
    const acquiredAt = performance.now();
    expect(await dying.tryAcquire('k')).not.toBeNull();
    const waiter = track(other.released('k'));
    expect(await other.tryAcquire('k')).toBeNull();

    // Dies: its renewals stop, nothing is released or published.
    await dying.close();
    await waiter.promise;
    const waited = waiter.at()! - acquiredAt;
    expect(waited).toBeGreaterThanOrEqual(leaseMs - 50);
    expect(waited).toBeLessThan(leaseMs + 500);
    expect(await other.tryAcquire('k')).not.toBeNull();
  });

  it('a live holder keeps its lock past several leases (renewed), and its waiters keep waiting until it releases', async () => {
    const leaseMs = 300;
    const errors: Error[] = [];
    const { locks: holder } = await replica({ leaseMs, onError: (e) => errors.push(e) });
    const { locks: other } = await replica({ leaseMs });
    const lock = await holder.tryAcquire('long-body');
    expect(lock).not.toBeNull();
    const waiter = track(other.released('long-body'));

    await sleep(leaseMs * 4);
    expect(await other.tryAcquire('long-body')).toBeNull();
    expect(waiter.settled()).toBe(false);
    const pttl = await testRedis.admin.pttl(`${testRedis.prefix}lock:long-body`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(leaseMs);
    expect(errors).toEqual([]);

    await lock!.release();
    await waiter.promise;
    expect(await other.tryAcquire('long-body')).not.toBeNull();
  });

  it('releasing twice never deletes the next holder’s lock', async () => {
    const { locks: a } = await replica({ leaseMs: 5_000 });
    const { locks: b } = await replica({ leaseMs: 5_000 });
    const { locks: c } = await replica({ leaseMs: 5_000 });
    const first = await a.tryAcquire('twice');
    await first!.release();
    const second = await b.tryAcquire('twice');
    expect(second).not.toBeNull();
    const waiter = track(c.released('twice'));

    await first!.release();
    await sleep(150);
    expect(await testRedis.admin.exists(`${testRedis.prefix}lock:twice`)).toBe(1);
    expect(await c.tryAcquire('twice')).toBeNull();
    // Nothing was published for b's lock either.
    expect(waiter.settled()).toBe(false);
    await second!.release();
    await waiter.promise;
  });

  it('a holder whose lease lapsed and was taken is told through onError, stops renewing, and its release spares the new holder', async () => {
    const leaseMs = 600;
    const errors: Error[] = [];
    const { locks: a } = await replica({ leaseMs, onError: (e) => errors.push(e) });
    const { locks: b } = await replica({ leaseMs });
    const { locks: c } = await replica({ leaseMs });
    const stale = await a.tryAcquire('lapsed');
    expect(stale).not.toBeNull();

    // The lease runs out before a's renewal (a stalled process), and b takes the lock.
    await testRedis.admin.pexpire(`${testRedis.prefix}lock:lapsed`, 1);
    await sleep(20);
    const fresh = await b.tryAcquire('lapsed');
    expect(fresh).not.toBeNull();
    const freshToken = await testRedis.admin.get(`${testRedis.prefix}lock:lapsed`);

    // a's next renewal (at leaseMs/3) finds another token: reported once, and it does not touch b's lease.
    await sleep(leaseMs / 3 + 150);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/lapsed|lost/);
    // It stopped renewing: more renewal periods pass without another report.
    await sleep((leaseMs / 3) * 2 + 100);
    expect(errors).toHaveLength(1);

    const waiter = track(c.released('lapsed'));
    await stale!.release();
    await sleep(150);
    expect(await testRedis.admin.get(`${testRedis.prefix}lock:lapsed`)).toBe(freshToken);
    expect(await c.tryAcquire('lapsed')).toBeNull();
    expect(waiter.settled()).toBe(false);
    await fresh!.release();
    await waiter.promise;
  });

  it('fails closed: tryAcquire rejects when Redis cannot be reached; close() ends pending waits', async () => {
    const { locks: a } = await replica({ leaseMs: 5_000 });
    const { locks: gone, context } = await replica({ leaseMs: 5_000 });
    expect(await a.tryAcquire('held')).not.toBeNull();

    const pending = track(gone.released('held'));
    await sleep(50);
    context.redis.disconnect(false);
    await expect(gone.tryAcquire('other')).rejects.toThrow();

    const ended = expect(pending.promise).rejects.toThrow(/closed/);
    await gone.close();
    await ended;
    await expect(gone.released('held')).rejects.toThrow(/closed/);
  });
});
