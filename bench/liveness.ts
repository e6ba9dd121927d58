/**
 * bench/liveness: while the server fetches a cold year at 3,000 calls a day (about 1.1 M calls in 53
 * upstream calls), /health and a cached question are asked one after another; their latencies show
 * whether the serving thread stays free. Run with the SQLite store (decode and commit in the ingest
 * worker) and, as the baseline in the same run, with STORE=memory (decode and commit on the serving
 * thread, as before the worker). Real processes: `node --import tsx src/main.ts` and a simulator.
 * Target: /health and the cached question keep a p99 under 100 ms with the SQLite store.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = new URL('..', import.meta.url).pathname;
const YEAR = { from: '2023-01-02', to: '2024-01-01' };
const CACHED = '{ serviceCalls(filter: { periodFrom: "2022-12-26", periodTo: "2023-01-02" }, first: 20) { totalCount nodes { callId } } }';

function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const check = (data: Buffer): void => {
      output += data.toString();
      const match = ready.exec(output);
      if (match) resolve({ child, match });
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${output}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

const post = (url: string, query: string): Promise<Response> =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

interface Run {
  fetchSeconds: number;
  calls: number;
  health: number[];
  cached: number[];
}

async function measure(store: 'sqlite' | 'memory', simulatorUrl: string): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'connect-calls-liveness-'));
  const { child, match } = await start(
    ['src/main.ts'],
    {
      PORT: '0',
      STORE: store,
      DATA_DIR: dataDir,
      CONNECT_URL: simulatorUrl,
      CONNECT_LOGIN: 'demo',
      CONNECT_PASSWORD: 'demo-password',
      CONNECT_DAY_LIMIT: '10000',
      CONNECT_NIGHT_LIMIT: '10000',
      CONNECT_TIMEOUT_MS: '3600000',
      LOG_LEVEL: 'info',
    },
    /"message":"listening","url":"([^"]+)"/,
  );
  try {
    const url = match[1] as string;
    const base = url.replace(/\/graphql$/, '');
    const warm = (await (await post(url, CACHED)).json()) as { errors?: unknown };
    if (warm.errors) throw new Error(JSON.stringify(warm.errors));

    const health: number[] = [];
    const cached: number[] = [];
    const started = performance.now();
    let done = false;
    const year = post(url, `{ serviceCalls(filter: { periodFrom: "${YEAR.from}", periodTo: "${YEAR.to}" }, first: 0) { totalCount } }`)
      .then((r) => r.json() as Promise<{ data?: { serviceCalls: { totalCount: number } }; errors?: unknown }>)
      .finally(() => (done = true));
    while (!done) {
      let t = performance.now();
      await (await fetch(`${base}/health`)).text();
      health.push(performance.now() - t);
      t = performance.now();
      await (await post(url, CACHED)).text();
      cached.push(performance.now() - t);
      await sleep(20);
    }
    const answer = await year;
    if (answer.errors || !answer.data) throw new Error(JSON.stringify(answer.errors));
    return { fetchSeconds: (performance.now() - started) / 1000, calls: answer.data.serviceCalls.totalCount, health, cached };
  } finally {
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runLivenessBench(): Promise<void> {
  const { child: simulator, match } = await start(['bench/liveness-simulator.ts'], {}, /(http:\/\/\S+)/);
  try {
    const url = match[1] as string;
    console.log('\nbench/liveness: a cold year (53 upstream calls, 3,000 calls a day) fetched while /health and a cached question are asked');
    const runs: Array<[string, Run]> = [];
    for (const store of ['memory', 'sqlite'] as const) {
      const run = await measure(store, url);
      runs.push([store, run]);
      const line = (name: string, values: number[]): string =>
        `${name} p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${Math.max(...values).toFixed(0)} ms (${values.length} asked)`;
      console.log(`  STORE=${store.padEnd(6)} year of ${run.calls} calls in ${run.fetchSeconds.toFixed(1)} s; ${line('/health', run.health)}; ${line('cached question', run.cached)}`);
    }
    const [memory, sqlite] = [runs[0]?.[1] as Run, runs[1]?.[1] as Run];
    const p99 = (r: Run): number => Math.max(percentile(r.health, 99), percentile(r.cached, 99));
    console.log(
      `  worst p99 with the ingest worker: ${p99(sqlite).toFixed(1)} ms (target < 100 ms); ` +
        `ratio to decoding on the serving thread (STORE=memory, the baseline): ${(p99(sqlite) / p99(memory)).toFixed(3)}`,
    );
  } finally {
    await stop(simulator);
  }
}
