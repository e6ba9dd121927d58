import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { QuotaJournalError } from '../../src/history/quota-journal.js';
import { type CallPriority, type LedgerTicket, QuotaLedger, type QuotaRules } from '../../src/history/quota-ledger.js';
import { type RedisContext, closeRedis } from '../../src/history/redis/redis-connection.js';
import { RedisQuota, quotaKeys } from '../../src/history/redis/redis-quota.js';
import { type Clock, ManualClock } from '../../src/time/clock.js';
import type { PeriodKind } from '../../src/time/day-night.js';
import { deleteKeys, useTestRedis } from '../support/redis.js';

const RULES: QuotaRules = { zone: 'Europe/Moscow', dayHours: { from: 8, to: 20 }, dayLimit: 10, nightLimit: 50 };
const MIN = 60_000;
const HOUR = 60 * MIN;
const at = (text: string): number => Date.parse(text);

const testRedis = useTestRedis();

/** A replica: its own connections to the same Redis, on the test's prefix. */
function replica(on = testRedis.prefix): Promise<RedisContext> {
  return testRedis.connect({ prefix: on });
}

async function quotaOn(clock: Clock, rules: QuotaRules = RULES, options: { onError?: (e: Error) => void; on?: string } = {}): Promise<RedisQuota> {
  return RedisQuota.open(await replica(options.on), rules, clock, options);
}

/** Reserves and starts one call: its ticket, or null when refused (at either step). */
async function call(quota: RedisQuota, priority: CallPriority = 'interactive', key?: string): Promise<LedgerTicket | null> {
  const reservation = await quota.reserve(priority, key);
  return reservation ? reservation.start() : null;
}

async function calls(quota: RedisQuota, count: number, priority: CallPriority = 'interactive'): Promise<number> {
  let made = 0;
  for (let i = 0; i < count; i++) if (await call(quota, priority)) made++;
  return made;
}

/** A Redis nobody listens on: every command fails at once (no offline queue). */
function unreachable(): Redis {
  const redis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  return redis;
}

describe('RedisQuota: the rules of QuotaLedger over a window kept in Redis', () => {
  it('allows 10 calls in a sliding daytime hour, then the next when the oldest leaves the window', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock);
    for (let i = 0; i < 10; i++) {
      const ticket = await call(quota);
      expect(ticket).toMatchObject({ at: clock.now(), outcome: 'pending' });
      clock.advance(MIN);
    }
    expect(await call(quota)).toBeNull();
    expect(await quota.state()).toMatchObject({ periodKind: 'DAY', limitPerHour: 10, usedLastHour: 10, remaining: 0, waiting: 0, blockedUntil: null });
    expect(await quota.free('interactive')).toBe(0);
    expect(await quota.availableAt(1)).toBe(at('2024-03-20T11:00:00+03:00'));
    expect(await quota.availableAt(3)).toBe(at('2024-03-20T11:02:00+03:00'));
    clock.set(at('2024-03-20T11:00:00+03:00'));
    expect(await call(quota)).not.toBeNull();
    expect(await call(quota)).toBeNull();
    // The call of 10:00 left the window: it holds the 9 later ones and the one of 11:00.
    expect(await testRedis.admin.zcard(quotaKeys(testRedis.prefix).calls)).toBe(10);
  });

  it('uses the night limit outside the day hours of the zone', async () => {
    const clock = new ManualClock(at('2024-03-20T20:00:00+03:00'));
    const quota = await quotaOn(clock);
    expect(await calls(quota, 51)).toBe(50);
    expect(await quota.state()).toMatchObject({ periodKind: 'NIGHT', limitPerHour: 50, usedLastHour: 50, remaining: 0 });
  });

  it('switches limits at the boundary: at 19:59 the day limit holds, at 20:00 the night one', async () => {
    const clock = new ManualClock(at('2024-03-20T19:59:00+03:00'));
    const quota = await quotaOn(clock);
    expect(await calls(quota, 11)).toBe(10);
    expect(await quota.availableAt(1)).toBe(at('2024-03-20T20:00:00+03:00'));
    clock.advance(MIN);
    expect(await calls(quota, 41)).toBe(40);
  });

  it('at the night-to-day switch, calls of the last hour count against the smaller day limit', async () => {
    const clock = new ManualClock(at('2024-03-20T07:30:00+03:00'));
    const quota = await quotaOn(clock);
    expect(await calls(quota, 30)).toBe(30);
    clock.set(at('2024-03-20T08:00:00+03:00'));
    expect(await quota.reserve('interactive')).toBeNull();
    expect(await quota.availableAt(1)).toBe(at('2024-03-20T08:30:00+03:00'));
  });

  it('keeps the reserve for interactive calls: background work spends only above it', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock, { ...RULES, reserve: { day: 3, night: 10 } });
    expect(await calls(quota, 8, 'background')).toBe(7);
    expect(await quota.free('background')).toBe(0);
    expect(await quota.free('interactive')).toBe(3);
    expect(await quota.state()).toMatchObject({ usedLastHour: 7, backgroundLastHour: 7, reserve: 3, remaining: 3 });
    expect(await calls(quota, 4, 'interactive')).toBe(3);
    expect(await quota.state()).toMatchObject({ usedLastHour: 10, backgroundLastHour: 7, remaining: 0 });
    clock.set(at('2024-03-20T21:00:00+03:00'));
    expect(await quota.state()).toMatchObject({ usedLastHour: 0, backgroundLastHour: 0, reserve: 10 });
    expect(await quota.free('background')).toBe(40);
  });

  it('counts a reservation from the moment it is made until it is started or released', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock);
    const reservations = [];
    for (let i = 0; i < 10; i++) reservations.push(await quota.reserve('interactive'));
    expect(reservations.every((r) => r !== null)).toBe(true);
    expect(await quota.reserve('interactive')).toBeNull();
    expect(await quota.state()).toMatchObject({ usedLastHour: 0, waiting: 10, remaining: 0 });
    await reservations[0]!.release();
    expect(await quota.free('interactive')).toBe(1);
    await expect(reservations[0]!.start()).rejects.toThrow(/already started or released/);
    clock.advance(5 * MIN);
    const tickets = await Promise.all(reservations.slice(1).map((r) => r!.start()));
    expect(tickets.map((t) => t?.at)).toEqual(Array(9).fill(clock.now()));
    expect(await quota.state()).toMatchObject({ usedLastHour: 9, waiting: 0, remaining: 1 });
    // Started calls are dated when they started: the window holds them at 10:05.
    const scores = await testRedis.admin.zrange(quotaKeys(testRedis.prefix).calls, 0, -1, 'WITHSCORES');
    expect(scores.filter((_, i) => i % 2 === 1).map(Number)).toEqual(Array(9).fill(clock.now()));
  });

  it('refuses at start a reservation the limit in force no longer allows, and forgets its entry', async () => {
    const clock = new ManualClock(at('2024-03-20T07:50:00+03:00'));
    const quota = await quotaOn(clock);
    expect(await calls(quota, 20)).toBe(20);
    const late = await quota.reserve('interactive', 'ab12');
    expect(late).not.toBeNull();
    expect(await quota.usedByKey('ab12')).toBe(1);
    clock.set(at('2024-03-20T08:00:00+03:00'));
    expect(await late!.start()).toBeNull();
    expect(await testRedis.admin.zcard(quotaKeys(testRedis.prefix).calls)).toBe(20);
    expect(await quota.usedByKey('ab12')).toBe(0);
    expect(await quota.state()).toMatchObject({ usedLastHour: 20, waiting: 0, remaining: 0 });
  });

  it('after OUT_OF_LIMIT, blocks until the oldest call of the window is an hour old, and a waiting call does not start', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock);
    expect(await call(quota)).not.toBeNull();
    clock.advance(20 * MIN);
    const waiting = await quota.reserve('interactive');
    expect(waiting).not.toBeNull();
    await quota.blockAfterOutOfLimit();
    expect(await quota.reserve('interactive')).toBeNull();
    expect(await waiting!.start()).toBeNull();
    expect(await quota.free('interactive')).toBe(0);
    expect(await quota.state()).toMatchObject({ remaining: 0, blockedUntil: at('2024-03-20T11:00:00+03:00') });
    clock.set(at('2024-03-20T11:00:00+03:00'));
    expect(await call(quota)).not.toBeNull();
    expect(await quota.state()).toMatchObject({ blockedUntil: null });
  });

  it('blocks for an hour after OUT_OF_LIMIT with an empty window, and keeps a later block already set', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock);
    await quota.blockAfterOutOfLimit();
    expect(await quota.availableAt(1)).toBe(at('2024-03-20T11:00:00+03:00'));
    // A replica whose clock is 30 minutes behind would block until 10:30: the block of 11:00 holds.
    clock.set(at('2024-03-20T09:30:00+03:00'));
    await quota.blockAfterOutOfLimit();
    expect((await quota.state()).blockedUntil).toBe(at('2024-03-20T11:00:00+03:00'));
    expect(Number(await testRedis.admin.get(quotaKeys(testRedis.prefix).blockedUntil))).toBe(at('2024-03-20T11:00:00+03:00'));
  });

  it('finds when a number of calls fit together, across a day/night switch hours away, or never', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock);
    expect(await quota.availableAt(10)).toBe(clock.now());
    expect(await quota.availableAt(11)).toBe(at('2024-03-20T20:00:00+03:00'));
    expect(await quota.availableAt((kind) => (kind === 'DAY' ? 12 : 5))).toBe(at('2024-03-20T20:00:00+03:00'));
    expect(await quota.availableAt(51)).toBe(Number.POSITIVE_INFINITY);
  });

  it('decides, dates and answers availableAt like QuotaLedger for the same history of calls and blocks', async () => {
    const rules: QuotaRules = { ...RULES, dayLimit: 6, nightLimit: 15, reserve: { day: 2, night: 4 } };
    const needs: Array<number | ((kind: PeriodKind) => number)> = [1, 2, 5, 6, 7, 15, 16, (kind) => (kind === 'DAY' ? 8 : 3)];
    const step = fc.record({
      advance: fc.integer({ min: 0, max: 25 * MIN }),
      action: fc.constantFrom('interactive', 'background', 'block', 'reserve-release'),
    });
    const start = fc.integer({ min: at('2024-03-20T00:00:00+03:00'), max: at('2024-03-21T00:00:00+03:00') });
    await fc.assert(
      fc.asyncProperty(start, fc.array(step, { minLength: 1, maxLength: 40 }), async (from, steps) => {
        const runPrefix = `${testRedis.prefix}${randomUUID()}:`;
        const clock = new ManualClock(from);
        const ledger = new QuotaLedger(rules, clock);
        const quota = await quotaOn(clock, rules, { on: runPrefix });
        try {
          for (const { advance, action } of steps) {
            clock.advance(advance);
            if (action === 'block') {
              ledger.blockAfterOutOfLimit();
              await quota.blockAfterOutOfLimit();
            } else if (action === 'reserve-release') {
              const local = ledger.reserve('interactive');
              const shared = await quota.reserve('interactive');
              expect(shared === null).toBe(local === null);
              local?.release();
              await shared?.release();
            } else {
              const local = ledger.reserve(action)?.start() ?? null;
              const shared = await call(quota, action);
              expect(shared?.at ?? null).toBe(local?.at ?? null);
            }
            for (const need of needs) expect(await quota.availableAt(need)).toBe(ledger.availableAt(need));
            expect(await quota.free('background')).toBe(ledger.free('background'));
            expect(await quota.state()).toEqual(ledger.state());
          }
        } finally {
          await deleteKeys(testRedis.admin, runPrefix);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('counts the calls of each API key in its own sliding hour, reservations included', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock);
    expect(await call(quota, 'interactive', 'aa')).not.toBeNull();
    clock.advance(10 * MIN);
    expect(await call(quota, 'interactive', 'aa')).not.toBeNull();
    expect(await call(quota, 'interactive', 'bb')).not.toBeNull();
    const held = await quota.reserve('interactive', 'aa');
    expect(await quota.usedByKey('aa')).toBe(3);
    await held!.release();
    expect(await quota.usedByKey('aa')).toBe(2);
    expect(await quota.usedByKey('bb')).toBe(1);
    expect(await quota.usedByKey('cc')).toBe(0);
    expect(await quota.keyFreesAt('aa', 1)).toBe(at('2024-03-20T11:00:00+03:00'));
    expect(await quota.keyFreesAt('aa', 2)).toBe(at('2024-03-20T11:10:00+03:00'));
    expect(await quota.keyFreesAt('aa', 3)).toBe(clock.now());
    expect(await quota.keyFreesAt('cc', 1)).toBe(clock.now());
    clock.set(at('2024-03-20T11:00:00+03:00'));
    expect(await quota.usedByKey('aa')).toBe(1);
  });

  it('stores the outcome of a settled call for a day; a second settle throws', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const quota = await quotaOn(clock);
    const ticket = (await call(quota, 'background'))!;
    const key = quotaKeys(testRedis.prefix).call(ticket.id);
    expect(await testRedis.admin.hgetall(key)).toEqual({ at: String(clock.now()), priority: 'background', outcome: 'pending' });
    ticket.settle('ok');
    expect(ticket.outcome).toBe('ok');
    expect(() => ticket.settle('refused')).toThrow(/already settled/);
    await quota.close();
    expect(await testRedis.admin.hget(key, 'outcome')).toBe('ok');
    const ttl = await testRedis.admin.pttl(key);
    expect(ttl).toBeGreaterThan(23 * HOUR);
    expect(ttl).toBeLessThanOrEqual(24 * HOUR);
  });
});

describe('RedisQuota: replicas on one prefix share one quota', () => {
  it('150 concurrent calls over three replicas with a limit of 5: exactly 5 are made', async () => {
    const rules = { ...RULES, dayLimit: 5 };
    const now = at('2024-03-20T10:00:00+03:00');
    const replicas = await Promise.all([0, 1, 2].map(() => quotaOn(new ManualClock(now), rules)));
    const tickets = await Promise.all(Array.from({ length: 150 }, (_, i) => call(replicas[i % 3]!)));
    const made = tickets.filter((t): t is LedgerTicket => t !== null);
    expect(made).toHaveLength(5);
    expect(new Set(made.map((t) => t.id)).size).toBe(5);
    expect(tickets.filter((t) => t === null)).toHaveLength(145);
    const keys = quotaKeys(testRedis.prefix);
    expect(await testRedis.admin.zcard(keys.calls)).toBe(5);
    expect(await testRedis.admin.zcard(keys.waiting)).toBe(0);
    for (const replica of replicas) expect(await replica.state()).toMatchObject({ usedLastHour: 5, remaining: 0, waiting: 0 });
  });

  it('150 concurrent reservations over three replicas with a limit of 5: exactly 5 are promised', async () => {
    const rules = { ...RULES, dayLimit: 5 };
    const now = at('2024-03-20T10:00:00+03:00');
    const replicas = await Promise.all([0, 1, 2].map(() => quotaOn(new ManualClock(now), rules)));
    const reservations = await Promise.all(Array.from({ length: 150 }, (_, i) => replicas[i % 3]!.reserve('interactive', 'cafe')));
    expect(reservations.filter((r) => r !== null)).toHaveLength(5);
    expect(await testRedis.admin.zcard(quotaKeys(testRedis.prefix).calls)).toBe(5);
    expect(await replicas[0]!.usedByKey('cafe')).toBe(5);
    expect(await replicas[1]!.state()).toMatchObject({ waiting: 5, usedLastHour: 0, remaining: 0 });
  });

  it("a replica's reservations count for the others before they start", async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const [a, b] = await Promise.all([quotaOn(clock), quotaOn(clock)]);
    for (let i = 0; i < 6; i++) expect(await a!.reserve('interactive')).not.toBeNull();
    expect(await b!.free('interactive')).toBe(4);
    expect(await b!.state()).toMatchObject({ waiting: 6, usedLastHour: 0, remaining: 4 });
    expect(await calls(b!, 5)).toBe(4);
  });

  it('a block set by one replica holds for the others', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const [a, b, c] = await Promise.all([quotaOn(clock), quotaOn(clock), quotaOn(clock)]);
    expect(await call(b!)).not.toBeNull();
    clock.advance(15 * MIN);
    await a!.blockAfterOutOfLimit();
    expect(await b!.reserve('interactive')).toBeNull();
    expect(await c!.free('interactive')).toBe(0);
    expect(await c!.state()).toMatchObject({ blockedUntil: at('2024-03-20T11:00:00+03:00'), remaining: 0 });
    expect(await b!.availableAt(1)).toBe(at('2024-03-20T11:00:00+03:00'));
  });

  it('the night cap lowered by one replica is seen by another after a state(), and is only ever lowered', async () => {
    const clock = new ManualClock(at('2024-03-20T23:00:00+03:00'));
    const [a, b] = await Promise.all([quotaOn(clock), quotaOn(clock)]);
    expect(a!.nightMaxDays).toBeNull();
    expect(await b!.lowerNightMaxDays(7)).toBe(true);
    expect(b!.nightMaxDays).toBe(7);
    expect(a!.nightMaxDays).toBeNull();
    await a!.state();
    expect(a!.nightMaxDays).toBe(7);
    expect(await a!.lowerNightMaxDays(10)).toBe(false);
    expect(await a!.lowerNightMaxDays(7)).toBe(false);
    expect(await a!.lowerNightMaxDays(3)).toBe(true);
    await b!.free('interactive');
    expect(b!.nightMaxDays).toBe(3);
    // A replica started later reads it when it opens.
    expect((await quotaOn(clock)).nightMaxDays).toBe(3);
    await expect(a!.lowerNightMaxDays(0)).rejects.toThrow(RangeError);
  });
});

describe('RedisQuota: fails closed', () => {
  it('rejects with QuotaJournalError when Redis cannot be reached: no call is made', async () => {
    const redis = unreachable();
    try {
      const context: RedisContext = { redis, subscriber: redis, prefix: testRedis.prefix };
      const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
      await expect(RedisQuota.open(context, RULES, clock)).rejects.toBeInstanceOf(QuotaJournalError);
      const quota = new RedisQuota(context, RULES, clock, { onError: () => {} });
      await expect(quota.reserve('interactive')).rejects.toBeInstanceOf(QuotaJournalError);
      await expect(quota.reserve('background', 'aa')).rejects.toBeInstanceOf(QuotaJournalError);
      await expect(quota.free('interactive')).rejects.toBeInstanceOf(QuotaJournalError);
      await expect(quota.state()).rejects.toBeInstanceOf(QuotaJournalError);
      await expect(quota.availableAt(1)).rejects.toBeInstanceOf(QuotaJournalError);
      await expect(quota.usedByKey('aa')).rejects.toBeInstanceOf(QuotaJournalError);
    } finally {
      redis.disconnect();
    }
  });

  it('a reservation whose connection was closed meanwhile does not start; its ticket settles without throwing', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const errors: Error[] = [];
    const quota = await quotaOn(clock, RULES, { onError: (e) => errors.push(e) });
    const ticket = (await call(quota))!;
    const reservation = (await quota.reserve('interactive'))!;
    const other = (await quota.reserve('interactive'))!;
    await closeRedis(testRedis.contexts[0]!);
    await expect(reservation.start()).rejects.toBeInstanceOf(QuotaJournalError);
    await expect(quota.reserve('interactive')).rejects.toBeInstanceOf(QuotaJournalError);
    expect(() => ticket.settle('ok')).not.toThrow();
    await other.release();
    await quota.close();
    expect(errors.map((e) => e.constructor)).toEqual([QuotaJournalError, QuotaJournalError]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/outcome of call/), expect.stringMatching(/could not give back/)]);
    // What the shared window holds: the call, and the two reservations (counted until an hour old).
    expect(await testRedis.admin.zcard(quotaKeys(testRedis.prefix).calls)).toBe(3);
  });

  it('a block or a night cap Redis could not keep holds in the replica that learnt it', async () => {
    const clock = new ManualClock(at('2024-03-20T10:00:00+03:00'));
    const errors: Error[] = [];
    const context = await replica();
    const good = context.redis;
    const quota = await RedisQuota.open(context, RULES, clock, { onError: (e) => errors.push(e) });
    const bad = unreachable();
    try {
      context.redis = bad;
      await quota.blockAfterOutOfLimit();
      expect(await quota.lowerNightMaxDays(5)).toBe(true);
      expect(await quota.lowerNightMaxDays(6)).toBe(false);
      expect(errors).toHaveLength(3);
      expect(errors.every((e) => e instanceof QuotaJournalError)).toBe(true);
      context.redis = good;
      expect(await quota.reserve('interactive')).toBeNull();
      expect(await quota.free('interactive')).toBe(0);
      expect(await quota.state()).toMatchObject({ blockedUntil: at('2024-03-20T11:00:00+03:00') });
      expect(quota.nightMaxDays).toBe(5);
      // Nothing of it reached Redis: the other replicas go on.
      const other = await quotaOn(clock);
      expect(await other.free('interactive')).toBe(10);
      expect(other.nightMaxDays).toBeNull();
      clock.set(at('2024-03-20T11:00:00+03:00'));
      expect(await call(quota)).not.toBeNull();
    } finally {
      context.redis = good;
      bad.disconnect();
    }
  });
});
