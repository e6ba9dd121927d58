/**
 * bench/replicas: throughput of a cached question (one held week: totalCount, stats and a page of 20)
 * asked over and over with 32 requests in flight, by 3 replicas sharing one Redis (REDIS_URL, requests
 * spread round-robin) against, as the baseline in the same run, one replica on SQLite (the default
 * store), and, to tell what Redis costs one replica, one replica on Redis asked alone. Real processes
 * (`npm start`), the simulator in this process; every setup started in parallel, warmed, then measured
 * in alternating rounds (best round of each). Each replica answers held weeks from its own copy of the
 * shared history, so replicas add serving capacity where there are cores for them; on a machine with
 * fewer cores than processes the ratio says what splitting the same cores among them costs instead.
 * Redis: BENCH_REDIS_URL, default redis://127.0.0.1:6379, under a prefix of its own deleted at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { startSimulator } from '../src/simulator/server.js';

const ROOT = new URL('..', import.meta.url).pathname;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ZONE = 'Europe/Moscow';
const REPLICAS = 3;
const CONCURRENCY = 32;
const REQUESTS = 1_500;
/** Requests of the round each setup is warmed with (JIT, connections) before the measured ones. */
const WARM_REQUESTS = 1_000;
const ROUNDS = 3;
const QUERY = `{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }, first: 20) {
  totalCount stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }
  pageInfo { hasNextPage endCursor } nodes { callId callTime callResult durationSeconds direction specialistId } } }`;

interface Server {
  child: ChildProcess;
  url: string;
}

/** `npm start` in a process group of its own (killed whole at the end); resolves with its GraphQL URL. */
function start(env: Record<string, string>): Promise<Server> {
  const child = spawn('npm', ['run', 'start'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', BACKFILL_DAYS: '0', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const check = (data: Buffer): void => {
      output += data.toString();
      const match = /"message":"listening","url":"([^"]+)"/.exec(output);
      if (match) resolve({ child, url: match[1] as string });
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => reject(new Error(`npm start exited (${code}) before it listened:\n${output}`)));
  });
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = once(server.child, 'exit');
  try {
    process.kill(-(server.child.pid as number), 'SIGKILL');
  } catch {
    // Already gone.
  }
  await exited;
}

async function ask(url: string): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }) });
  const body = (await response.json()) as { data?: { serviceCalls: { totalCount: number } | null }; errors?: unknown };
  if (body.errors || !body.data?.serviceCalls) throw new Error(`${url}: ${JSON.stringify(body.errors)}`);
  return body.data.serviceCalls.totalCount;
}

/** `count` questions, `CONCURRENCY` in flight, the n-th to `urls[n % urls.length]`: requests/s. */
async function round(urls: readonly string[], count = REQUESTS): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let n = next++; n < count; n = next++) await ask(urls[n % urls.length] as string);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function runReplicasBench(): Promise<void> {
  const simulator = await startSimulator({ seed: 5, callsPerDay: 1_000, zone: ZONE, dayLimit: 100, nightLimit: 100 });
  const dataDir = mkdtempSync(join(tmpdir(), 'connect-calls-bench-replicas-'));
  const prefix = `bench:${randomUUID()}:`;
  const upstream = {
    CONNECT_URL: simulator.url,
    CONNECT_LOGIN: simulator.login,
    CONNECT_PASSWORD: simulator.password,
    CONNECT_TIMEZONE: ZONE,
    CONNECT_DAY_LIMIT: '100',
    CONNECT_NIGHT_LIMIT: '100',
  };
  const servers: Server[] = [];
  try {
    // Every start settles (listening or exited) before going on, so none is left running unseen.
    const starts = await Promise.allSettled([
      start({ ...upstream, DATA_DIR: dataDir }),
      // The replicas, and one more on the same prefix asked alone: what Redis costs one replica.
      ...Array.from({ length: REPLICAS + 1 }, () => start({ ...upstream, REDIS_URL, REDIS_PREFIX: prefix })),
    ]);
    for (const s of starts) if (s.status === 'fulfilled') servers.push(s.value);
    for (const s of starts) if (s.status === 'rejected') throw s.reason;
    const [sqlite, alone, ...replicas] = servers as [Server, Server, ...Server[]];
    const single = [sqlite.url];
    const one = [alone.url];
    const shared = replicas.map((r) => r.url);

    // Warm: each setup fetches the week once; every replica then holds it (the others from Redis).
    const total = await ask(single[0] as string);
    for (const url of [...one, ...shared]) if ((await ask(url)) !== total) throw new Error('the replicas answer another total than SQLite');
    const warmCalls = simulator.callCount();
    for (const urls of [single, one, shared]) await round(urls, WARM_REQUESTS);

    const results = { sqlite: [] as number[], alone: [] as number[], redis: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      results.sqlite.push(await round(single));
      results.alone.push(await round(one));
      results.redis.push(await round(shared));
    }
    const best = (values: number[]): number => Math.max(...values);
    const [baseline, oneOnRedis, three] = [best(results.sqlite), best(results.alone), best(results.redis)];
    const rounds = (values: number[]): string => values.map((x) => x.toFixed(0)).join(', ');
    console.log(
      `\nbench/replicas: a held week of ${total} calls (totalCount, stats, first: 20), ${REQUESTS} requests, ${CONCURRENCY} in flight, best of ${ROUNDS} alternating rounds (${availableParallelism()} cores)`,
    );
    console.log(`  1 replica,  STORE=sqlite (baseline):  ${baseline.toFixed(0)} req/s (rounds: ${rounds(results.sqlite)})`);
    console.log(`  1 replica,  REDIS_URL:                ${oneOnRedis.toFixed(0)} req/s (rounds: ${rounds(results.alone)}), ratio ${(oneOnRedis / baseline).toFixed(3)}`);
    console.log(`  ${REPLICAS} replicas, REDIS_URL, round-robin: ${three.toFixed(0)} req/s (rounds: ${rounds(results.redis)})`);
    console.log(`  throughput ratio ${REPLICAS} replicas on Redis / 1 on SQLite: ${(three / baseline).toFixed(3)}; upstream calls in all: ${simulator.callCount()}`);
    if (warmCalls !== 2 || simulator.callCount() !== 2) {
      throw new Error(`expected one upstream call per setup (2), saw ${warmCalls} while warming and ${simulator.callCount()} in all`);
    }
  } finally {
    await Promise.all(servers.map(stop));
    await deleteKeys(prefix);
    await simulator.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
