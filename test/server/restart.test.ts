import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../src/simulator/server.js';
import { systemClock } from '../../src/time/clock.js';
import { addDays, type LocalDay, localDayOf } from '../../src/time/zone.js';
import { listening, type ServerProcess as Server, spawnNpm } from '../support/npm-process.js';

// Real processes: `npm start` on a DATA_DIR of the test's, killed with SIGKILL (a crash, an OOM kill,
// a liveness probe) and started again on the same DATA_DIR. The simulator runs in this process and
// counts every upstream call.

const STARTUP_MS = 60_000;
const ZONE = 'Europe/Moscow';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'connect-calls-restart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function simulator(options: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  // The same hourly limit by day and by night, so the test does not depend on the hour it runs at.
  const sim = await startSimulator({ seed: 3, callsPerDay: 200, zone: ZONE, dayLimit: 10, nightLimit: 10, ...options });
  cleanups.push(() => sim.close());
  return sim;
}

async function startServer(sim: { url: string; login: string; password: string }, dir: string, env: Record<string, string> = {}): Promise<Server> {
  const npm = spawnNpm('start', {
    PORT: '0',
    DATA_DIR: dir,
    CONNECT_URL: sim.url,
    CONNECT_LOGIN: sim.login,
    CONNECT_PASSWORD: sim.password,
    CONNECT_TIMEZONE: ZONE,
    CONNECT_DAY_LIMIT: '10',
    CONNECT_NIGHT_LIMIT: '10',
    // Weeks of 7 days by night too, and one request may spend the whole hour: the test counts calls
    // the same way whatever the hour it runs at.
    CONNECT_NIGHT_MAX_DAYS: '7',
    MAX_CALLS_PER_REQUEST: '10',
    ...env,
  });
  cleanups.push(() => npm.kill());
  return listening(npm, STARTUP_MS);
}

/** Monday 2024-01-01 and the weeks after it: past, sealed, one upstream call each. */
const week = (i: number): { from: LocalDay; to: LocalDay } => ({ from: addDays('2024-01-01', 7 * i), to: addDays('2024-01-01', 7 * i + 7) });
const weeksQuery = (indexes: number[]): string =>
  `{ ${indexes
    .map((i) => `w${i}: serviceCalls(filter: { periodFrom: "${week(i).from}", periodTo: "${week(i).to}" }) { totalCount stats { totalDurationSeconds } }`)
    .join(' ')} quota { usedLastHour remaining } }`;

type Weeks = Record<string, { totalCount: number; stats: { totalDurationSeconds: number } } | null> & {
  quota: { usedLastHour: number; remaining: number };
};

describe('a restart costs nothing', () => {
  it('answers what it held before a SIGKILL with 0 upstream calls, and still counts the calls of the last hour', async () => {
    const sim = await simulator();
    const dir = dataDir();
    const first = await startServer(sim, dir);
    const before = await first.query<Weeks>(weeksQuery([0, 1, 2]));
    expect(before.errors).toBeUndefined();
    expect(sim.callCount()).toBe(3);
    expect(before.data?.quota.usedLastHour).toBe(3);
    await first.npm.kill();

    const second = await startServer(sim, dir);
    const after = await second.query<Weeks>(weeksQuery([0, 1, 2]));
    expect(after.errors).toBeUndefined();
    expect(sim.callCount()).toBe(3);
    for (const i of [0, 1, 2]) {
      expect(after.data?.[`w${i}`]).toEqual(before.data?.[`w${i}`]);
      expect(after.data?.[`w${i}`]?.totalCount).toBeGreaterThan(1000);
    }
    expect(after.data?.quota).toEqual({ usedLastHour: 3, remaining: 7 });
  });

  it('never exceeds the hourly limit across a restart loop: 8 calls, SIGKILL, 8 more weeks get 2 calls and 6 refusals', async () => {
    const sim = await simulator();
    const dir = dataDir();
    const first = await startServer(sim, dir);
    const firstCallsAt = systemClock.now();
    const before = await first.query<Weeks>(weeksQuery([0, 1, 2, 3, 4, 5, 6, 7]));
    expect(before.errors).toBeUndefined();
    expect(sim.callCount()).toBe(8);
    await first.npm.kill();

    const second = await startServer(sim, dir);
    const after = await second.query<Weeks>(weeksQuery([8, 9, 10, 11, 12, 13, 14, 15]));
    const elapsedSeconds = (systemClock.now() - firstCallsAt) / 1000;
    expect(sim.callCount()).toBe(10);
    expect(sim.received.filter((r) => r.outcome === 'out-of-limit')).toHaveLength(0);
    const answered = [8, 9, 10, 11, 12, 13, 14, 15].filter((i) => after.data?.[`w${i}`]);
    expect(answered).toHaveLength(2);
    const refusals = after.errors ?? [];
    expect(refusals).toHaveLength(6);
    for (const error of refusals) {
      expect(error.extensions?.code).toBe('QUOTA_EXHAUSTED');
      // The 6 calls fit once the first server's 8 calls leave the sliding hour.
      const retryAfter = error.extensions?.retryAfterSeconds as number;
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(retryAfter).toBeGreaterThanOrEqual(3600 - elapsedSeconds - 2);
    }
    expect(after.data?.quota).toEqual({ usedLastHour: 10, remaining: 0 });
    // And a third start knows it too: nothing more is sent.
    await second.npm.kill();
    const third = await startServer(sim, dir);
    const again = await third.query<Weeks>(weeksQuery([16]));
    expect(again.errors?.[0]?.extensions?.code).toBe('QUOTA_EXHAUSTED');
    expect(sim.callCount()).toBe(10);
  });
});

describe('one server per DATA_DIR', () => {
  it('refuses to start beside a live server on the same DATA_DIR (two ledgers would each allow the whole limit)', async () => {
    const sim = await simulator();
    const dir = dataDir();
    const first = await startServer(sim, dir);
    const second = spawnNpm('start', { PORT: '0', DATA_DIR: dir, CONNECT_URL: sim.url, CONNECT_LOGIN: sim.login, CONNECT_PASSWORD: sim.password });
    cleanups.push(() => second.kill());
    const closed = await second.closed;
    expect(closed.code).toBe(2);
    expect(second.output()).toMatch(/"message":"cannot open the SQLite store in [^"]+: [^"]+quota.sqlite is in use by another server \(one server per DATA_DIR\)","variable":"DATA_DIR"/);
    // The first one is untouched and still answers.
    expect((await first.query<Weeks>(weeksQuery([0]))).errors).toBeUndefined();
    expect(sim.callCount()).toBe(1);
  });
});

describe('crash safety', () => {
  /** Yesterday: unsealed for 30 days (CACHE_SETTLE_HOURS), so maxAge: 0 fetches it again. */
  // `npm start` runs on the machine's clock (no Clock can be injected into another process), so the
  // test takes "yesterday" from the same clock, in the upstream's zone, never the machine's zone.
  const yesterday = addDays(localDayOf(systemClock.now(), ZONE), -1);
  const dayQuery = (maxAge?: number): string =>
    `{ serviceCalls(filter: { periodFrom: "${yesterday}", periodTo: "${addDays(yesterday, 1)}" }${maxAge === undefined ? '' : `, maxAge: ${maxAge}`}) { totalCount } }`;
  // maxAge: 0 must refetch at once: no floor on it here.
  const settle = { CACHE_SETTLE_HOURS: '720', MIN_MAX_AGE_SECONDS: '0' };

  it('a response cut by SIGKILL mid-body leaves the previous copy whole, served after the restart', async () => {
    const dir = dataDir();
    const small = await simulator({ seed: 11, callsPerDay: 500 });
    const first = await startServer(small, dir, settle);
    const held = (await first.query<{ serviceCalls: { totalCount: number } }>(dayQuery())).data?.serviceCalls.totalCount;
    expect(held).toBe(500);
    await small.close();

    // The same address now answers with another history, and stalls half way through the body.
    const port = Number(new URL(small.url).port);
    const other = await simulator({ seed: 12, callsPerDay: 20_000, port });
    other.inject({ kind: 'stall', afterBytes: 2_000_000 });
    const refetch = first.query(dayQuery(0));
    void refetch.catch(() => undefined);
    while (!other.received.some((r) => r.rows !== undefined || r.outcome === 'fault-injected')) await sleep(20);
    await sleep(300);
    await first.npm.kill();
    other.clearFaults();

    const second = await startServer(other, dir, settle);
    const after = await second.query<{ serviceCalls: { totalCount: number } }>(dayQuery());
    expect(after.data?.serviceCalls.totalCount).toBe(500);
    expect(other.callCount()).toBe(1);
  });

  it('a SIGKILL while a large response is decoded and committed leaves one whole copy: the old or the new, never a mix', async () => {
    const dir = dataDir();
    const small = await simulator({ seed: 21, callsPerDay: 500 });
    const first = await startServer(small, dir, settle);
    expect((await first.query<{ serviceCalls: { totalCount: number } }>(dayQuery())).data?.serviceCalls.totalCount).toBe(500);
    await small.close();

    const port = Number(new URL(small.url).port);
    const large = await simulator({ seed: 22, callsPerDay: 150_000, port });
    const refetch = first.query(dayQuery(0));
    void refetch.catch(() => undefined);
    // Killed just after the simulator wrote the last byte: the worker is still decoding what the
    // socket buffered, or committing it.
    while (!large.received.some((r) => r.rows !== undefined)) await sleep(5);
    await first.npm.kill();

    const second = await startServer(large, dir, settle);
    const after = await second.query<{ serviceCalls: { totalCount: number } }>(dayQuery());
    expect([500, 150_000]).toContain(after.data?.serviceCalls.totalCount);
    expect(large.callCount()).toBe(1);
  });
});
