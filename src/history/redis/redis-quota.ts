import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Clock } from '../../time/clock.js';
import type { PeriodKind } from '../../time/day-night.js';
import type { UpstreamOutcome } from '../history-events.js';
import type { QuotaAuthority, QuotaReservation } from '../quota-authority.js';
import { QuotaJournalError, checkedNightMaxDays } from '../quota-journal.js';
import { type CallPriority, earliestFit, type LedgerTicket, QuotaCalendar, type QuotaRules, type QuotaState, SettleOnceTicket } from '../quota-ledger.js';
import type { RedisContext } from './redis-connection.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/**
 * How long (real time) the sets of the window live after their last write. Their entries count for an
 * hour by their own date; the second hour covers replicas whose clocks are up to an hour apart.
 */
const WINDOW_TTL_MS = 2 * HOUR;
/** How long the outcome of a call is kept for operators (the quota needs only the last hour). */
const CALL_TTL_MS = DAY;

/**
 * The keys of the shared quota under a prefix. All carry the hash tag `{quota}`, so a Redis Cluster
 * keeps them in one slot and the scripts may touch them together.
 */
export function quotaKeys(prefix: string) {
  const base = `${prefix}{quota}:`;
  return {
    /** Sorted set: every entry of the window (calls and reservations), score = epoch ms, member = the entry id. */
    calls: `${base}calls`,
    /** Sorted set: the entries of `calls` that are reservations not started yet (for state().waiting). */
    waiting: `${base}waiting`,
    /** Sorted set: the started calls made by background work (for state().backgroundLastHour). */
    background: `${base}background`,
    /** String: until when (epoch ms) an OUT_OF_LIMIT block holds. */
    blockedUntil: `${base}blocked-until`,
    /** String: the night period cap (days); absent when never lowered. */
    nightMaxDays: `${base}night-max-days`,
    /** Counter: the last entry id given. */
    sequence: `${base}sequence`,
    /** Sorted set per API key (already a hex digest): its entries of the window, reservations included. */
    key: (apiKey: string) => `${base}key:${apiKey}`,
    /** Hash per started call: at, priority, outcome; kept a day. */
    call: (id: number) => `${base}call:${id}`,
  };
}

type QuotaKeys = ReturnType<typeof quotaKeys>;

/**
 * Reserve: drops the entries an hour old, refuses (0) while a block holds or when the window already
 * holds `limit` entries, otherwise adds the entry (scored now) to the window, to the waiting set and to
 * the API key's set (when given) and returns its id.
 * KEYS: calls, waiting, blockedUntil, sequence, key set. ARGV: now, now - 1 h, limit, has key (0/1), set TTL.
 */
const RESERVE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if now < blocked then return 0 end
if redis.call('ZCARD', KEYS[1]) + 1 > tonumber(ARGV[3]) then return 0 end
local id = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[1], ARGV[1], id)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[1], id)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
if ARGV[4] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[2])
  redis.call('ZADD', KEYS[5], ARGV[1], id)
  redis.call('PEXPIRE', KEYS[5], ARGV[5])
end
return id
`;

/**
 * Start: the reservation leaves the waiting set; the call is allowed when no block holds and the
 * window's other entries leave room under `limit`. Allowed: the entry is re-scored to now (in the
 * window, the background set and the key set), its call hash is written (outcome pending) and 1 is
 * returned. Refused: the entry is removed (window, key set) and 0 is returned.
 * KEYS: calls, waiting, blockedUntil, background, key set, call hash.
 * ARGV: now, now - 1 h, limit, id, background (0/1), has key (0/1), set TTL, call TTL, priority.
 */
const START = `
local now = tonumber(ARGV[1])
local id = ARGV[4]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREM', KEYS[2], id)
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
local others = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], id) then others = others - 1 end
if now < blocked or others + 1 > tonumber(ARGV[3]) then
  redis.call('ZREM', KEYS[1], id)
  if ARGV[6] == '1' then redis.call('ZREM', KEYS[5], id) end
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], id)
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if ARGV[5] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[2])
  redis.call('ZADD', KEYS[4], ARGV[1], id)
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
end
if ARGV[6] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[2])
  redis.call('ZADD', KEYS[5], ARGV[1], id)
  redis.call('PEXPIRE', KEYS[5], ARGV[7])
end
redis.call('HSET', KEYS[6], 'at', ARGV[1], 'priority', ARGV[9], 'outcome', 'pending')
redis.call('PEXPIRE', KEYS[6], ARGV[8])
return 1
`;

/**
 * Block: until the oldest entry of the window is an hour old (an hour from now when there is none),
 * keeping a later block already set. Returns the block in force.
 * KEYS: calls, blockedUntil. ARGV: now, now - 1 h.
 */
const BLOCK = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local from = now
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] and tonumber(oldest[2]) < now then from = tonumber(oldest[2]) end
local untilAt = from + ${HOUR}
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current > untilAt then untilAt = current end
redis.call('SET', KEYS[2], string.format('%.0f', untilAt), 'PX', string.format('%.0f', untilAt - now + ${HOUR}))
return string.format('%.0f', untilAt)
`;

/**
 * Night cap: lowered only. Returns {1 when lowered else 0, the cap in force}.
 * KEYS: nightMaxDays. ARGV: days.
 */
const LOWER_NIGHT_CAP = `
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) <= tonumber(ARGV[1]) then return {0, current} end
redis.call('SET', KEYS[1], ARGV[1])
return {1, ARGV[1]}
`;

/** A Lua script run by its SHA-1 (loaded again by EVAL when Redis does not know it yet). */
class Script {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const SCRIPTS = {
  reserve: new Script(RESERVE),
  start: new Script(START),
  block: new Script(BLOCK),
  lowerNightCap: new Script(LOWER_NIGHT_CAP),
};

export interface RedisQuotaOptions {
  /**
   * Told when something that does not decide whether a call is made fails: storing an outcome, giving
   * a released reservation back (its entry then counts until it is an hour old), writing a block or a
   * night cap (both then hold in this instance's memory). Default: a process warning.
   */
  onError?: (error: Error) => void;
}

/**
 * The quota shared by every replica on the same Redis prefix: the same rules as QuotaLedger (a sliding
 * hour under the day or night limit in the upstream's zone, a reserve for background work, an
 * OUT_OF_LIMIT block), with the window kept in Redis so that N replicas spend ONE quota.
 *
 * Every entry of the window is an upstream call or a reservation, dated by the injected clock of the
 * replica that wrote it (never Redis TIME). A reservation is an entry dated when it was made: it counts
 * from then on, like a call, and is re-dated when it starts (or removed when released or refused). The
 * check-and-record of each step is one Lua script, so replicas cannot together exceed the limit.
 *
 * Differences from QuotaLedger (documented, all on the safe side):
 * - `state().usedLastHour` counts started calls and `state().waiting` the reservations not started yet
 *   (a separate set), both of every replica; `availableAt` counts a waiting reservation as a call dated
 *   when it was reserved (QuotaLedger: as made now), which is the same answer as soon as it starts.
 * - `usedByKey` and `keyFreesAt` count the key's reservations too (every replica's), so concurrent
 *   requests of one key on several replicas see each other before their calls start.
 * - A reservation not started within an hour leaves the window; its start() is then checked as a new call.
 *
 * Fails closed: reserve() and start() reject with a QuotaJournalError when Redis cannot be asked (the
 * call must not be made); so do the reads (free, state, availableAt, usedByKey, keyFreesAt).
 */
export class RedisQuota extends QuotaCalendar implements QuotaAuthority {
  private readonly keys: QuotaKeys;
  private readonly onError: (error: Error) => void;
  /** The night cap as last read from Redis. */
  private sharedNightCap: number | null = null;
  /** A cap this instance could not write to Redis: it holds here (the lower of the two wins). */
  private localNightCap: number | null = null;
  /** A block this instance could not write to Redis: it holds here. */
  private localBlockedUntil = 0;
  /** Outcome writes not answered yet (close() waits for them). */
  private readonly pendingWrites = new Set<Promise<unknown>>();

  constructor(
    private readonly context: RedisContext,
    rules: QuotaRules,
    private readonly clock: Clock,
    options: RedisQuotaOptions = {},
  ) {
    super(rules);
    this.keys = quotaKeys(context.prefix);
    this.onError = options.onError ?? ((error) => process.emitWarning(error));
  }

  /** A RedisQuota that knows the night cap already; rejects with a QuotaJournalError when Redis cannot be read. */
  static async open(context: RedisContext, rules: QuotaRules, clock: Clock, options: RedisQuotaOptions = {}): Promise<RedisQuota> {
    const quota = new RedisQuota(context, rules, clock, options);
    await quota.refreshNightCap();
    return quota;
  }

  /** The night cap as last read (at open, and on each free() or state()), or as lowered by this instance. */
  get nightMaxDays(): number | null {
    const caps = [this.sharedNightCap, this.localNightCap].filter((cap): cap is number => cap !== null);
    return caps.length ? Math.min(...caps) : null;
  }

  /**
   * Lowers the shared cap (atomically; never raises it). True when this lowered it. When Redis cannot
   * be written, the error is reported and the cap holds in this instance (true if it lowered it here).
   */
  async lowerNightMaxDays(days: number): Promise<boolean> {
    checkedNightMaxDays(days);
    let result: unknown;
    try {
      result = await SCRIPTS.lowerNightCap.run(this.context.redis, [this.keys.nightMaxDays], [days]);
    } catch (cause) {
      this.onError(new QuotaJournalError(`the shared quota could not remember the night period cap: ${message(cause)}`, { cause }));
      const current = this.nightMaxDays;
      if (current !== null && current <= days) return false;
      this.localNightCap = days;
      return true;
    }
    const [lowered, cap] = result as [number, string];
    this.sharedNightCap = Number(cap);
    return lowered === 1;
  }

  async free(priority: CallPriority): Promise<number> {
    const now = this.clock.now();
    const r = await this.read(now, (m) =>
      m.zcount(this.keys.calls, `(${now - HOUR}`, '+inf').get(this.keys.blockedUntil).get(this.keys.nightMaxDays),
    );
    this.noteNightCap(r[2]);
    const entries = Number(r[0]);
    const blockedUntil = this.blockOf(r[1]);
    if (now < blockedUntil) return 0;
    return Math.max(0, this.limitFor(priority, now) - entries);
  }

  async usedByKey(key: string): Promise<number> {
    const now = this.clock.now();
    const [count] = await this.read(now, (m) => m.zcount(this.keys.key(key), `(${now - HOUR}`, '+inf'));
    return Number(count);
  }

  async keyFreesAt(key: string, count: number): Promise<number> {
    const now = this.clock.now();
    const [flat] = await this.read(now, (m) => m.zrangebyscore(this.keys.key(key), `(${now - HOUR}`, '+inf', 'WITHSCORES'));
    const at = scoresOf(flat)[count - 1];
    return at === undefined ? now : at + HOUR;
  }

  async availableAt(count: number | ((kind: PeriodKind) => number) = 1): Promise<number> {
    const now = this.clock.now();
    const { calls, blockedUntil } = await this.window(now);
    return this.earliest(now, calls, blockedUntil, count);
  }

  async reserve(priority: CallPriority, key?: string): Promise<QuotaReservation | null> {
    const now = this.clock.now();
    if (now < this.localBlockedUntil) return null;
    const keys = this.keys;
    let id: number;
    try {
      const result = await SCRIPTS.reserve.run(
        this.context.redis,
        [keys.calls, keys.waiting, keys.blockedUntil, keys.sequence, keys.key(key ?? '')],
        [now, now - HOUR, this.limitFor(priority, now), key === undefined ? 0 : 1, WINDOW_TTL_MS],
      );
      id = Number(result);
    } catch (cause) {
      throw new QuotaJournalError(`the shared quota could not record a reservation, so no call is made: ${message(cause)}`, { cause });
    }
    if (!id) return null;
    let open = true;
    const close = (): void => {
      if (!open) throw new Error('this quota reservation was already started or released');
      open = false;
    };
    return {
      priority,
      start: async () => {
        close();
        return this.start(id, priority, key);
      },
      release: async () => {
        close();
        try {
          await this.context.redis
            .multi()
            .zrem(keys.calls, String(id))
            .zrem(keys.waiting, String(id))
            .zrem(keys.key(key ?? ''), String(id))
            .exec()
            .then(failed);
        } catch (cause) {
          this.onError(new QuotaJournalError(`the shared quota could not give back reservation ${id}; it counts until an hour old: ${message(cause)}`, { cause }));
        }
      },
    };
  }

  async blockAfterOutOfLimit(): Promise<void> {
    const now = this.clock.now();
    try {
      await SCRIPTS.block.run(this.context.redis, [this.keys.calls, this.keys.blockedUntil], [now, now - HOUR]);
    } catch (cause) {
      // Not shared: this instance holds back for an hour at least (it cannot see the window's oldest call).
      this.localBlockedUntil = Math.max(this.localBlockedUntil, now + HOUR);
      this.onError(new QuotaJournalError(`the shared quota could not record the OUT_OF_LIMIT block; it holds in this process only: ${message(cause)}`, { cause }));
    }
  }

  async state(): Promise<QuotaState> {
    const now = this.clock.now();
    const { calls, blockedUntil, waiting, background } = await this.window(now);
    const limit = this.limitAt(now);
    const blocked = now < blockedUntil;
    return {
      periodKind: this.kindAt(now),
      limitPerHour: limit,
      usedLastHour: calls.length - waiting,
      remaining: blocked ? 0 : Math.max(0, limit - calls.length),
      nextCallAt: this.earliest(now, calls, blockedUntil, 1),
      blockedUntil: blocked ? blockedUntil : null,
      reserve: this.reserveAt(now),
      backgroundLastHour: background,
      waiting,
    };
  }

  /** Waits for the outcome writes still under way; the connections belong to the caller and stay open. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites]);
  }

  private async start(id: number, priority: CallPriority, key: string | undefined): Promise<LedgerTicket | null> {
    const now = this.clock.now();
    const keys = this.keys;
    const local = now < this.localBlockedUntil;
    let allowed: boolean;
    try {
      const result = await SCRIPTS.start.run(
        this.context.redis,
        [keys.calls, keys.waiting, keys.blockedUntil, keys.background, keys.key(key ?? ''), keys.call(id)],
        [
          now,
          now - HOUR,
          // A block held only here refuses it too (limit 0 removes the entry).
          local ? 0 : this.limitAt(now),
          id,
          priority === 'background' ? 1 : 0,
          key === undefined ? 0 : 1,
          WINDOW_TTL_MS,
          CALL_TTL_MS,
          priority,
        ],
      );
      allowed = Number(result) === 1;
    } catch (cause) {
      throw new QuotaJournalError(`the shared quota could not record an upstream call, so none is made: ${message(cause)}`, { cause });
    }
    return allowed ? new SettleOnceTicket(id, now, (outcome) => this.storeOutcome(id, outcome)) : null;
  }

  /** Best effort: an outcome that cannot be stored is reported, never thrown. */
  private storeOutcome(id: number, outcome: UpstreamOutcome): void {
    const key = this.keys.call(id);
    const write: Promise<unknown> = this.context.redis
      .multi()
      .hset(key, 'outcome', outcome)
      .pexpire(key, CALL_TTL_MS)
      .exec()
      .then(failed)
      .catch((cause: unknown) => {
        this.onError(new QuotaJournalError(`the shared quota could not store the outcome of call ${id}: ${message(cause)}`, { cause }));
      })
      .finally(() => this.pendingWrites.delete(write));
    this.pendingWrites.add(write);
  }

  private limitFor(priority: CallPriority, now: number): number {
    return this.limitAt(now) - (priority === 'background' ? this.reserveAt(now) : 0);
  }

  private earliest(now: number, calls: number[], blockedUntil: number, count: number | ((kind: PeriodKind) => number)): number {
    return earliestFit({
      now,
      calls,
      // Reservations are entries of the window, dated when they were made.
      waiting: 0,
      blockedUntil,
      needed: count,
      limitAt: (instant) => this.limitAt(instant),
      kindAt: (instant) => this.kindAt(instant),
    });
  }

  /** The entries of the window (dates), the block in force, the waiting and background counts; refreshes the night cap. */
  private async window(now: number): Promise<{ calls: number[]; blockedUntil: number; waiting: number; background: number }> {
    const since = `(${now - HOUR}`;
    const r = await this.read(now, (m) =>
      m
        .zrangebyscore(this.keys.calls, since, '+inf', 'WITHSCORES')
        .get(this.keys.blockedUntil)
        .zcount(this.keys.waiting, since, '+inf')
        .zcount(this.keys.background, since, '+inf')
        .get(this.keys.nightMaxDays),
    );
    this.noteNightCap(r[4]);
    return { calls: scoresOf(r[0]), blockedUntil: this.blockOf(r[1]), waiting: Number(r[2]), background: Number(r[3]) };
  }

  private async refreshNightCap(): Promise<void> {
    const [cap] = await this.read(this.clock.now(), (m) => m.get(this.keys.nightMaxDays));
    this.noteNightCap(cap);
  }

  /** Runs the commands as one MULTI (a consistent snapshot); rejects with a QuotaJournalError. */
  private async read(now: number, commands: (multi: ReturnType<Redis['multi']>) => ReturnType<Redis['multi']>): Promise<unknown[]> {
    try {
      return failed(await commands(this.context.redis.multi()).exec());
    } catch (cause) {
      throw new QuotaJournalError(`the shared quota could not be read at ${new Date(now).toISOString()}: ${message(cause)}`, { cause });
    }
  }

  private noteNightCap(value: unknown): void {
    this.sharedNightCap = value === null || value === undefined ? null : Number(value);
  }

  private blockOf(value: unknown): number {
    return Math.max(this.localBlockedUntil, value === null || value === undefined ? 0 : Number(value));
  }
}

/** The results of a MULTI, or the first command's error (a discarded transaction is an error too). */
function failed(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('the Redis transaction was discarded');
  for (const [error] of results) if (error) throw error;
  return results.map(([, value]) => value);
}

/** The scores of a WITHSCORES reply ([member, score, member, score, …]). */
function scoresOf(flat: unknown): number[] {
  const items = flat as string[];
  const scores: number[] = [];
  for (let i = 1; i < items.length; i += 2) scores.push(Number(items[i]));
  return scores;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
