import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/simulator/server.js';
import { addDays, type LocalDay, startOfDay } from '../../src/time/zone.js';
import { type Closed, LISTENING, listening, type ServerProcess, spawnNpm } from '../support/npm-process.js';
import { deleteKeys, freePort, SHARED_REDIS_URL, startRedisServer, testPrefix } from '../support/redis.js';

// Replicas: real `npm start` processes sharing one Redis under a prefix of the test's own (REDIS_URL,
// REDIS_PREFIX), so they share one quota, one history, one single flight and one background leader.
// The simulator runs in this process and counts every upstream call each test asserts.

const STARTUP_MS = 60_000;
const ZONE = 'Europe/Moscow';
const CALLS_PER_DAY = 100;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A prefix of this test's own, its keys deleted after the test (after its replicas are gone). */
function prefixOn(url: string): string {
  const prefix = testPrefix();
  cleanups.push(() => deleteKeys(url, prefix));
  return prefix;
}

async function simulator(limit: number, options: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  // The same hourly limit by day and by night: the test does not depend on the hour it runs at.
  const sim = await startSimulator({ seed: 7, callsPerDay: CALLS_PER_DAY, zone: ZONE, dayLimit: limit, nightLimit: limit, ...options });
  cleanups.push(() => sim.close());
  return sim;
}


interface Replica extends ServerProcess {
  /** The status of GET /ready. */
  ready(): Promise<number>;
  /** SIGTERM to npm's PID (as a service manager stops it); resolves when it has exited. */
  stop(): Promise<Closed>;
}

interface ReplicaOptions {
  redisUrl?: string;
  prefix: string;
  limit: number;
  env?: Record<string, string>;
}

function replicaEnv(sim: Simulator, { redisUrl = SHARED_REDIS_URL, prefix, limit, env = {} }: ReplicaOptions): Record<string, string> {
  return {
    PORT: '0',
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    CONNECT_URL: sim.url,
    CONNECT_LOGIN: sim.login,
    CONNECT_PASSWORD: sim.password,
    CONNECT_TIMEZONE: ZONE,
    CONNECT_DAY_LIMIT: String(limit),
    CONNECT_NIGHT_LIMIT: String(limit),
    // 7-day calls by night too, and one request may spend the whole hour: the test counts calls the
    // same way whatever the hour it runs at.
    CONNECT_NIGHT_MAX_DAYS: '7',
    MAX_CALLS_PER_REQUEST: String(limit),
    ...env,
  };
}

async function startReplica(sim: Simulator, options: ReplicaOptions): Promise<Replica> {
  const npm = spawnNpm('start', replicaEnv(sim, options));
  cleanups.push(() => npm.kill());
  const server = await listening(npm, STARTUP_MS);
  const base = server.url.replace(/\/graphql$/, '');
  return {
    ...server,
    async ready() {
      const response = await fetch(`${base}/ready`);
      await response.arrayBuffer();
      return response.status;
    },
    async stop() {
      process.kill(npm.pid, 'SIGTERM');
      return npm.closed;
    },
  };
}

/** `n` replicas on one prefix, started in parallel. */
const startReplicas = (n: number, sim: Simulator, options: ReplicaOptions): Promise<Replica[]> =>
  Promise.all(Array.from({ length: n }, () => startReplica(sim, options)));

/** Week `i` from Monday 2021-01-04: past and sealed, one upstream call each. */
const week = (i: number): { from: LocalDay; to: LocalDay } => ({ from: addDays('2021-01-04', 7 * i), to: addDays('2021-01-04', 7 * i + 7) });

interface WeekAnswer {
  serviceCalls: {
    totalCount: number;
    stats: { total: number; successful: number; totalDurationSeconds: number };
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    nodes: Array<{ callId: string; callTime: string | null }>;
  } | null;
}

const weekQuery = (i: number): string =>
  `{ serviceCalls(filter: { periodFrom: "${week(i).from}", periodTo: "${week(i).to}" }, first: 25) {
      totalCount stats { total successful totalDurationSeconds } pageInfo { hasNextPage endCursor } nodes { callId callTime } } }`;

/** The simulator's own count of the calls of week `i`. */
const simulatedCount = (sim: Simulator, i: number): number =>
  sim.history.callsBetween(startOfDay(week(i).from, ZONE), startOfDay(week(i).to, ZONE)).length;

const outcomes = (sim: Simulator): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const r of sim.received) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return counts;
};

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await condition()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('replicas share one quota', () => {
  it('3 replicas, limit 5: 150 concurrent distinct weeks spread over them cost exactly 5 upstream calls, no OUT_OF_LIMIT; each answer is right or QUOTA_EXHAUSTED', async () => {
    const sim = await simulator(5);
    const replicas = await startReplicas(3, sim, { prefix: prefixOn(SHARED_REDIS_URL), limit: 5 });
    const weeks = Array.from({ length: 150 }, (_, i) => i);
    const answers = await Promise.all(weeks.map((i) => (replicas[i % 3] as Replica).query<WeekAnswer>(weekQuery(i))));

    expect(sim.callCount()).toBe(5);
    expect(outcomes(sim)).toEqual({ success: 5 });
    const answered: number[] = [];
    for (const [i, answer] of answers.entries()) {
      if (answer.data?.serviceCalls) {
        expect(answer.errors).toBeUndefined();
        expect(answer.data.serviceCalls.totalCount).toBe(simulatedCount(sim, i));
        answered.push(i);
      } else {
        expect(answer.errors?.map((e) => e.extensions?.code)).toEqual(['QUOTA_EXHAUSTED']);
      }
    }
    expect(answered).toHaveLength(5);
    // The 5 weeks answered are the 5 the upstream was asked for, each once.
    const asked = sim.received.map((r) => r.params?.periodFrom);
    expect(new Set(asked).size).toBe(5);
    expect(answered.map((i) => startOfDay(week(i).from, ZONE)).sort()).toEqual(asked.map((at) => Number(at)).sort());
  }, 90_000);
});

describe('replicas share one single flight and one history', () => {
  it('30 concurrent requests for one uncached week over 3 replicas: exactly one upstream call, 30 equal answers', async () => {
    const sim = await simulator(10);
    const replicas = await startReplicas(3, sim, { prefix: prefixOn(SHARED_REDIS_URL), limit: 10 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, n) => (replicas[n % 3] as Replica).query<WeekAnswer>(weekQuery(3))));

    expect(sim.callCount()).toBe(1);
    expect(outcomes(sim)).toEqual({ success: 1 });
    for (const answer of answers) {
      expect(answer.errors).toBeUndefined();
      expect(answer).toEqual(answers[0]);
    }
    expect(answers[0]?.data?.serviceCalls?.totalCount).toBe(simulatedCount(sim, 3));
    expect(answers[0]?.data?.serviceCalls?.nodes).toHaveLength(25);
  }, 90_000);

  it('a week fetched through A is answered by B and C with 0 calls, and again by 3 replicas started after all three were stopped (SIGTERM)', async () => {
    const sim = await simulator(10);
    const prefix = prefixOn(SHARED_REDIS_URL);
    const [a, b, c] = (await startReplicas(3, sim, { prefix, limit: 10 })) as [Replica, Replica, Replica];
    const first = await a.query<WeekAnswer>(weekQuery(5));
    expect(first.errors).toBeUndefined();
    expect(first.data?.serviceCalls?.totalCount).toBe(simulatedCount(sim, 5));
    expect(sim.callCount()).toBe(1);

    expect(await b.query<WeekAnswer>(weekQuery(5))).toEqual(first);
    expect(await c.query<WeekAnswer>(weekQuery(5))).toEqual(first);
    expect(sim.callCount()).toBe(1);

    const closed = await Promise.all([a.stop(), b.stop(), c.stop()]);
    expect(closed.map((x) => x.code)).toEqual([0, 0, 0]);

    const again = await startReplicas(3, sim, { prefix, limit: 10 });
    for (const replica of again) expect(await replica.query<WeekAnswer>(weekQuery(5))).toEqual(first);
    expect(sim.callCount()).toBe(1);
  }, 90_000);
});

describe('a replica that dies holding a fetch lock', () => {
  it('SIGKILLed while the upstream body stalls: another replica asked for the week takes it over once the lease lapses, fetching it exactly once more', async () => {
    const LEASE_MS = 1500;
    const sim = await simulator(10);
    const [a, b] = (await startReplicas(2, sim, { prefix: prefixOn(SHARED_REDIS_URL), limit: 10, env: { REDIS_LEASE_MS: String(LEASE_MS) } })) as [
      Replica,
      Replica,
    ];
    // The first call sends a little of its answer, then holds the connection open.
    sim.inject({ kind: 'stall', afterBytes: 4_000 }, 1);
    const stalled = a.query<WeekAnswer>(weekQuery(8));
    void stalled.catch(() => undefined);
    await until(() => sim.received.some((r) => r.fault === 'stall'), 10_000, 'the stalled call');
    // A holds the lock and renews it (every lease/3) while the body stalls: longer than a lease.
    await sleep(LEASE_MS * 1.5);
    expect(sim.callCount()).toBe(1);

    const killedAt = Date.now();
    await a.npm.kill();
    const answer = await b.query<WeekAnswer>(weekQuery(8));
    const tookMs = Date.now() - killedAt;

    expect(answer.errors).toBeUndefined();
    expect(answer.data?.serviceCalls?.totalCount).toBe(simulatedCount(sim, 8));
    expect(sim.callCount()).toBe(2);
    expect(sim.received.map((r) => r.outcome)).toEqual(['fault-injected', 'success']);
    expect(sim.received[1]?.params).toEqual(sim.received[0]?.params);
    // Taken over when the dead holder's lease lapsed, not at some later timeout.
    expect(tookMs).toBeLessThan(LEASE_MS + 5_000);
    // And held now: another question costs nothing.
    expect((await b.query<WeekAnswer>(weekQuery(8))).data).toEqual(answer.data);
    expect(sim.callCount()).toBe(2);
  }, 90_000);
});

describe('Redis lost and back', () => {
  it('without Redis: /ready 503, STORE_UNAVAILABLE and no upstream call; Redis back (empty): ready again without a restart, answers costing the calls they need', async () => {
    const sim = await simulator(10);
    const redis = await startRedisServer(await freePort());
    cleanups.push(() => redis.kill());
    const prefix = testPrefix();
    const [a, b] = (await startReplicas(2, sim, { redisUrl: redis.url, prefix, limit: 10 })) as [Replica, Replica];
    expect(await a.ready()).toBe(200);
    const held = await a.query<WeekAnswer>(weekQuery(0));
    expect(held.errors).toBeUndefined();
    expect(held.data?.serviceCalls?.totalCount).toBe(simulatedCount(sim, 0));
    expect(sim.callCount()).toBe(1);

    await redis.kill();
    await until(async () => (await a.ready()) === 503 && (await b.ready()) === 503, 5_000, '/ready 503 on both replicas');
    for (const replica of [a, b]) {
      const refused = await replica.query<WeekAnswer>(weekQuery(1));
      expect(refused.data?.serviceCalls ?? null).toBeNull();
      expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['STORE_UNAVAILABLE']);
    }
    expect(sim.callCount()).toBe(1);

    // Back on the same port, holding nothing: the shared history and quota are empty again.
    const back = await startRedisServer(redis.port);
    cleanups.push(() => back.kill());
    // Run first: the replicas go, then their keys, then this redis-server.
    cleanups.push(async () => {
      await Promise.all([a.npm.kill(), b.npm.kill()]);
      await deleteKeys(back.url, prefix);
    });
    await until(async () => (await a.ready()) === 200 && (await b.ready()) === 200, 10_000, '/ready 200 on both replicas');
    const week1 = await a.query<WeekAnswer>(weekQuery(1));
    expect(week1.errors).toBeUndefined();
    expect(week1.data?.serviceCalls?.totalCount).toBe(simulatedCount(sim, 1));
    expect(sim.callCount()).toBe(2);
    // Week 0 went with Redis's data: fetched once more, then answered from the shared history by A.
    const week0 = await b.query<WeekAnswer>(weekQuery(0));
    expect(week0).toEqual(held);
    expect(sim.callCount()).toBe(3);
    expect(await a.query<WeekAnswer>(weekQuery(0))).toEqual(held);
    expect(sim.callCount()).toBe(3);
    expect(outcomes(sim)).toEqual({ success: 3 });
  }, 90_000);

  it('a replica whose REDIS_URL reaches nothing exits 2, naming REDIS_URL and not its password', async () => {
    const sim = await simulator(10);
    const port = await freePort();
    const npm = spawnNpm('start', replicaEnv(sim, { redisUrl: `redis://:s3cret@127.0.0.1:${port}`, prefix: testPrefix(), limit: 10 }));
    cleanups.push(() => npm.kill());
    const closed = await npm.closed;
    expect(closed.code).toBe(2);
    const output = npm.output();
    expect(output).toMatch(/"level":"error".*"message":"[^"]*REDIS_URL[^"]*".*"variable":"REDIS_URL"/);
    expect(output).toContain(`127.0.0.1:${port}`);
    expect(output).not.toContain('s3cret');
    expect(output).not.toMatch(LISTENING);
    expect(sim.callCount()).toBe(0);
  }, 60_000);
});
