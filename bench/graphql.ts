/**
 * bench/graphql: `serviceCalls` (first: 100, totalCount, stats) over a cached week of 50,000 calls,
 * against `{ __typename }` on the same in-process server (yoga.fetch), in alternating rounds.
 * Target: the week query keeps at least 0.2 of the trivial query's throughput.
 */
import { performance } from 'node:perf_hooks';
import { startSimulator } from '../src/simulator/server.js';
import { ManualClock } from '../src/time/clock.js';
import type { ConnectYoga } from '../src/yoga.js';
import { type InProcessServer, startInProcessServer } from './in-process-server.js';

const TRIVIAL = '{ __typename }';
const WEEK_QUERY = `{
  serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }, first: 100) {
    totalCount
    stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }
    pageInfo { hasNextPage endCursor }
    nodes { callId callTime callResult durationSeconds direction specialistId }
  }
}`;
const ROUNDS = 5;
const REQUESTS = { trivial: 3000, week: 1000 };

async function run(yoga: ConnectYoga, query: string): Promise<number> {
  const started = performance.now();
  const response = await yoga.fetch('http://bench/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return performance.now() - started;
}

interface Round {
  perSecond: number;
  latencies: number[];
}

async function round(yoga: ConnectYoga, query: string, count: number): Promise<Round> {
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) latencies.push(await run(yoga, query));
  return { perSecond: count / ((performance.now() - started) / 1000), latencies };
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

export async function runGraphqlBench(): Promise<void> {
  const clock = new ManualClock(Date.parse('2024-03-20T10:00:00+03:00'));
  const simulator = await startSimulator({ clock, seed: 3, callsPerDay: Math.ceil(50_000 / 7), zone: 'Europe/Moscow' });
  // The default store (SQLite) in a DATA_DIR of the bench's own.
  let server: InProcessServer | undefined;
  try {
    server = startInProcessServer({ clock, simulator, name: 'bench' });
    const { yoga } = server;

    const warm = await yoga.fetch('http://bench/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: WEEK_QUERY }),
    });
    const total = ((await warm.json()) as { data: { serviceCalls: { totalCount: number } } }).data.serviceCalls.totalCount;
    for (let i = 0; i < 200; i++) {
      await run(yoga, TRIVIAL);
      await run(yoga, WEEK_QUERY);
    }
    const trivial: Round[] = [];
    const week: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      trivial.push(await round(yoga, TRIVIAL, REQUESTS.trivial));
      week.push(await round(yoga, WEEK_QUERY, REQUESTS.week));
    }
    const best = (rounds: Round[]): Round => rounds.reduce((a, b) => (a.perSecond >= b.perSecond ? a : b));
    const t = best(trivial);
    const w = best(week);
    const ratio = w.perSecond / t.perSecond;
    console.log(`bench/graphql: cached week of ${total} calls, sequential requests through yoga.fetch, best of ${ROUNDS} alternating rounds`);
    console.log(`  { __typename }:            ${t.perSecond.toFixed(0)} req/s, p50 ${percentile(t.latencies, 50).toFixed(3)} ms, p99 ${percentile(t.latencies, 99).toFixed(3)} ms`);
    console.log(`  serviceCalls(first: 100): ${w.perSecond.toFixed(0)} req/s, p50 ${percentile(w.latencies, 50).toFixed(3)} ms, p99 ${percentile(w.latencies, 99).toFixed(3)} ms`);
    console.log(`  throughput ratio ${ratio.toFixed(3)} (target >= 0.2) ${ratio >= 0.2 ? 'OK' : 'MISSED'}; upstream calls in all: ${simulator.callCount()}`);
    if (total < 49_000 || total > 51_000) throw new Error(`expected a week of about 50,000 calls, got ${total}`);
    if (simulator.callCount() !== 1) throw new Error(`expected exactly one upstream call, saw ${simulator.callCount()}`);
  } finally {
    await server?.close();
    await simulator.close();
  }
}
