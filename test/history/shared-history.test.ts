import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config.js';
import type { History } from '../../src/history/create-history.js';
import type { PeriodAnswer, PeriodQuery } from '../../src/history/history-service.js';
import { openSharedHistory } from '../../src/history/redis/open-shared-history.js';
import { type Simulator, startSimulator } from '../../src/simulator/server.js';
import { ManualClock } from '../../src/time/clock.js';

/**
 * Replicas in one process: several history cores on one Redis prefix, over one simulator on a
 * ManualClock. They share the quota, the history and the single flight. Every upstream call is counted.
 */
const REDIS = 'redis://127.0.0.1:6379';
const at = (moscow: string): number => Date.parse(`${moscow}+03:00`);
const week = (monday: string): PeriodQuery => ({ from: at(`${monday}T00:00:00`), to: at(`${monday}T00:00:00`) + 7 * 86_400_000, maxAgeMs: 900_000, filter: {} });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function replicas(count: number, env: Record<string, string> = {}): Promise<{ clock: ManualClock; sim: Simulator; cores: History[]; prefix: string }> {
  const clock = new ManualClock(at('2024-03-20T10:00:00'));
  const sim = await startSimulator({ clock, seed: 9, callsPerDay: 60, zone: 'Europe/Moscow', dayLimit: 5, nightLimit: 5 });
  const prefix = `test:${randomUUID()}:`;
  cleanups.push(async () => {
    await sim.close();
    const redis = new Redis(REDIS);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  const settings = loadSettings({
    CONNECT_URL: sim.url,
    CONNECT_LOGIN: sim.login,
    CONNECT_PASSWORD: sim.password,
    CONNECT_DAY_LIMIT: '5',
    CONNECT_NIGHT_LIMIT: '5',
    MAX_CALLS_PER_REQUEST: '5',
    REDIS_URL: REDIS,
    REDIS_PREFIX: prefix,
    ...env,
  });
  const cores: History[] = [];
  for (let i = 0; i < count; i++) {
    const core = await openSharedHistory(settings, clock, { leaseMs: 1_000 });
    cores.push(core);
    cleanups.push(async () => {
      await core.history.drain();
      await core.close();
    });
  }
  return { clock, sim, cores, prefix };
}

const total = async (answer: PeriodAnswer | Error): Promise<number> => {
  if (answer instanceof Error) throw answer;
  return (await answer.stats()).total;
};

describe('replicas sharing Redis (in one process)', () => {
  it('a week fetched by one replica is answered by the others with 0 calls', async () => {
    const { sim, cores } = await replicas(3);
    const [a, b, c] = cores as [History, History, History];
    const fetched = await total((await a.history.answer([week('2024-03-04')]))[0] as PeriodAnswer);
    expect(fetched).toBe(7 * 60);
    expect(sim.callCount()).toBe(1);
    expect(await total((await b.history.answer([week('2024-03-04')]))[0] as PeriodAnswer)).toBe(fetched);
    expect(await total((await c.history.answer([week('2024-03-04')]))[0] as PeriodAnswer)).toBe(fetched);
    expect(sim.callCount()).toBe(1);
    expect(await b.quota.state()).toMatchObject({ usedLastHour: 1, remaining: 4 });
  });

  it('concurrent questions of one uncached week over three replicas make one upstream call', async () => {
    const { sim, cores } = await replicas(3);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => (cores[i % 3] as History).history.answer([week('2024-02-26')])));
    for (const [answer] of answers) expect(await total(answer as PeriodAnswer)).toBe(7 * 60);
    expect(sim.callCount()).toBe(1);
  });

  it('three replicas never pass the shared limit together', async () => {
    const { sim, cores } = await replicas(3);
    const mondays = Array.from({ length: 12 }, (_, i) => new Date(Date.UTC(2024, 0, 1 + 7 * i)).toISOString().slice(0, 10));
    const answers = await Promise.all(mondays.map((monday, i) => (cores[i % 3] as History).history.answer([week(monday)])));
    const answered = answers.filter(([a]) => !(a instanceof Error)).length;
    expect(answered).toBe(5);
    for (const [answer] of answers) if (answer instanceof Error) expect(answer.name).toBe('QuotaExhaustedError');
    expect(sim.callCount()).toBe(5);
    expect(sim.received.filter((r) => r.outcome === 'out-of-limit')).toHaveLength(0);
  });

  it('background work runs on the leader only', async () => {
    const { sim, cores, clock } = await replicas(2, { BACKFILL_DAYS: '14', CONNECT_NIGHT_MAX_DAYS: '7', QUOTA_RESERVE: '0' });
    clock.set(at('2024-03-20T03:00:00'));
    const runs = await Promise.all(cores.map((core) => core.history.runDueBackgroundWork()));
    // Exactly one replica leads: it backfills the 14 days (the weeks they touch), the other does nothing.
    expect(runs.map((r) => r.calls).sort()).toEqual([0, 3]);
    expect(sim.callCount()).toBe(3);
  });
});
