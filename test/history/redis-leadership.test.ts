import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { RedisContext } from '../../src/history/redis/redis-connection.js';
import { RedisLeadership } from '../../src/history/redis/redis-leadership.js';
import { useTestRedis } from '../support/redis.js';

const leaseMs = 600;
const testRedis = useTestRedis();

interface Replica {
  leadership: RedisLeadership;
  context: RedisContext;
  changes: boolean[];
}

/** One replica: its own connections on the test's prefix, and its own RedisLeadership (first attempt made). */
async function replica(): Promise<Replica> {
  const context = await testRedis.connect({ commandTimeoutMs: 2_000, connectTimeoutMs: 2_000 });
  const changes: boolean[] = [];
  const leadership = testRedis.closeAfter(await RedisLeadership.open(context, { leaseMs, onChange: (leader) => changes.push(leader) }));
  return { leadership, context, changes };
}

function leaders(replicas: Replica[]): Replica[] {
  return replicas.filter((r) => r.leadership.isLeader());
}

/** Samples isLeader() of every replica every 10 ms for `ms`: the most that led at once, and who led last. */
async function watch(replicas: Replica[], ms: number, until?: () => boolean): Promise<{ mostAtOnce: number; elapsed: number }> {
  const started = performance.now();
  let mostAtOnce = 0;
  while (performance.now() - started < ms) {
    mostAtOnce = Math.max(mostAtOnce, leaders(replicas).length);
    if (until?.()) break;
    await sleep(10);
  }
  return { mostAtOnce, elapsed: performance.now() - started };
}

describe('RedisLeadership (replicas sharing one Redis)', () => {
  it('of three replicas exactly one leads, and keeps leading across several leases', async () => {
    const replicas = await Promise.all([replica(), replica(), replica()]);
    const first = leaders(replicas);
    expect(first).toHaveLength(1);
    expect(first[0]!.changes).toEqual([true]);
    for (const other of replicas.filter((r) => r !== first[0])) expect(other.changes).toEqual([]);

    // Renewed: the same one leads for 3 leases, and never two at once.
    const { mostAtOnce } = await watch(replicas, leaseMs * 3);
    expect(mostAtOnce).toBe(1);
    expect(leaders(replicas)).toEqual(first);
    expect(first[0]!.changes).toEqual([true]);
  });

  it('when the leader closes it gives the lease back and another replica leads within about a lease', async () => {
    const replicas = await Promise.all([replica(), replica(), replica()]);
    const [leader] = leaders(replicas);
    expect(leader).toBeDefined();
    const rest = replicas.filter((r) => r !== leader);

    await leader!.leadership.close();
    expect(leader!.leadership.isLeader()).toBe(false);
    expect(leader!.changes).toEqual([true, false]);
    const { mostAtOnce, elapsed } = await watch(rest, leaseMs * 2, () => leaders(rest).length > 0);
    expect(elapsed).toBeLessThan(leaseMs);
    expect(leaders(rest)).toHaveLength(1);
    expect(mostAtOnce).toBe(1);
    expect(leaders(rest)[0]!.changes).toEqual([true]);
    // The closed one does not come back.
    await sleep(leaseMs / 2);
    expect(leader!.leadership.isLeader()).toBe(false);
    expect(leaders(rest)).toHaveLength(1);
  });

  it('a leader whose Redis connection is gone stops leading before its lease lapses, and another then takes over (never two at once)', async () => {
    const replicas = await Promise.all([replica(), replica()]);
    const [leader] = leaders(replicas);
    expect(leader).toBeDefined();
    const other = replicas.find((r) => r !== leader)!;

    const lostAt = performance.now();
    leader!.context.redis.disconnect(false);
    // It believes it leads at most leaseMs minus the margin after its last renewal (at most leaseMs/3 ago).
    const stepDown = await watch(replicas, leaseMs * 2, () => !leader!.leadership.isLeader());
    expect(leader!.leadership.isLeader()).toBe(false);
    expect(stepDown.elapsed).toBeLessThan(leaseMs);
    expect(stepDown.mostAtOnce).toBe(1);
    const takeOver = await watch(replicas, leaseMs * 3, () => other.leadership.isLeader());
    expect(takeOver.mostAtOnce).toBeLessThanOrEqual(1);
    expect(other.leadership.isLeader()).toBe(true);
    expect(leader!.leadership.isLeader()).toBe(false);
    // Told through onChange, not only through isLeader().
    expect(leader!.changes).toEqual([true, false]);
    // The lease had to lapse in Redis first (nobody released it).
    expect(performance.now() - lostAt).toBeGreaterThan(leaseMs / 2);
  });

  it('does not lead while another holds the lease, and takes it when that holder’s lease lapses', async () => {
    await testRedis.admin.set(`${testRedis.prefix}leader`, 'someone-else', 'PX', leaseMs);
    const [a] = await Promise.all([replica()]);
    expect(a!.leadership.isLeader()).toBe(false);
    const { elapsed } = await watch([a!], leaseMs * 3, () => a!.leadership.isLeader());
    expect(a!.leadership.isLeader()).toBe(true);
    expect(elapsed).toBeGreaterThan(leaseMs / 2);
    expect(await testRedis.admin.get(`${testRedis.prefix}leader`)).not.toBe('someone-else');
  });
});
