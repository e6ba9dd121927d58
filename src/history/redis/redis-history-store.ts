import { randomUUID } from 'node:crypto';
import { callResultCode, detach } from '../held-values.js';
import type { Redis } from 'ioredis';
import type { ServiceCall } from '../../domain/service-call.js';
import type { LocalDay } from '../../time/zone.js';
import type { CallPosition, CallStats } from '../call-selection.js';
import type { DayCoverage } from '../fetch-planner.js';
import type { CallPage, CallQuery, DayFailure, FetchedPeriod, HeldSummary, HistoryStore, StagedFetch } from '../history-store.js';
import { MemoryHistoryStore } from '../memory-history-store.js';
import type { RedisContext } from './redis-connection.js';

/**
 * The shared store could not do what was asked: Redis could not be reached or refused a command, or
 * other replicas kept changing the history while a write was retried. The history service treats it
 * like a failure of the disk under the SQLite store (`isStoreError`): no upstream call is made whose
 * answer could not be kept.
 */
export class SharedStoreError extends Error {
  constructor(
    message: string,
    /**
     * What failed: a socket error code (ECONNREFUSED, ECONNRESET, …), the first word of a Redis error
     * reply (OOM, READONLY, ERR, …), REDIS_UNAVAILABLE for a connection that is down or a command that
     * timed out, COMMIT_CONFLICT when a write lost to other replicas' writes too many times in a row,
     * INCONSISTENT when the periods listed in Redis could not be read whole.
     */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SharedStoreError';
  }
}

/** A write retried this many times, each time after another replica's write landed first, gives up. */
const MAX_WRITE_ATTEMPTS = 20;
/** A sync that finds a listed period gone (removed by a commit in between) reads the list again this many times. */
const MAX_SYNC_ATTEMPTS = 10;
/** Periods read from Redis per MGET while rebuilding (each may be tens of MB for a week). */
const LOAD_BATCH = 8;
/** Rows handed to the cache per add while replaying a period. */
const REPLAY_BATCH = 10_000;

/** One row as kept: the CallID, parties as indexes into the period's party list, CallResult 1 or 2. */
type Row = [
  callId: string,
  client: number | null,
  serviceUser: number | null,
  service: number | null,
  callTime: number | null,
  caller: number | null,
  callee: number | null,
  result: 1 | 2,
  duration: number,
];

/** The value of `history:period:<id>`: the rows of one response, each CallID once (its first row). */
interface PeriodRows {
  v: 1;
  /** The distinct party IDs (client, service user, line, caller, callee) the rows name. */
  p: string[];
  r: Row[];
}

/** A field of `history:periods`: what the period asked for and how it is still held. */
interface PeriodMeta {
  days: LocalDay[];
  from: number;
  to: number;
  /** The newest fetchedAt of its days (when the upstream call was made). */
  fetchedAt: number;
  /** The coverage it was committed with, one entry per day: [day, fetchedAt, sealed]. */
  coverage: Array<[LocalDay, number, boolean]>;
  /** Rows kept (distinct CallIDs). */
  rows: number;
  /**
   * CallIDs of its rows that a newer copy replaced, where that newer copy's period has since been
   * dropped: they stay out of answers (as in the memory store, a replaced row never comes back).
   */
  dead: string[];
  /** The history version that last wrote this entry: a replica holding an older one rebuilds. */
  rev: number;
}

/** A field of `history:coverage`. */
interface CoverageEntry {
  fetchedAt: number;
  sealed: boolean;
  periodId: number;
}

/** What one sync read from Redis at one version (one MULTI). */
interface SharedState {
  version: number;
  epoch: string;
  metas: Map<number, PeriodMeta>;
  coverage: Map<LocalDay, CoverageEntry>;
  floor: LocalDay | null;
}

/** A period the local cache holds. */
interface HeldPeriod {
  id: number;
  meta: PeriodMeta;
  /** Days it is the newest copy of in the cache; at 0 the cache has dropped it. */
  daysOwned: number;
  /** 32-bit hashes of its CallIDs, sorted and distinct: which older periods may share a CallID with it. */
  hashes: Uint32Array;
}

/** A period's rows read back, as calls. */
interface LoadedPeriod {
  id: number;
  meta: PeriodMeta;
  calls: ServiceCall[];
}

/** One response being received. */
interface Stage {
  period: FetchedPeriod;
  open: boolean;
  parties: string[];
  partyIndex: Map<string, number>;
  rows: Row[];
}

/** A listed period whose rows are gone: a commit removed it after the list was read. */
class PeriodGone extends Error {}

/**
 * The start of both write scripts: 0 unless the history is still at the version (and epoch) the write
 * was computed against; else the version is set to the new one (an epoch named when there was none).
 * KEYS[1] version, KEYS[2] epoch; ARGV[1] expected version, ARGV[2] expected epoch ('' for none),
 * ARGV[3] the epoch to name, ARGV[4] the new version.
 */
const CHECK_VERSION = `
local epoch = redis.call('get', KEYS[2]) or ''
if epoch ~= ARGV[2] or tonumber(redis.call('get', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return 0 end
if epoch == '' then redis.call('set', KEYS[2], ARGV[3]) end
redis.call('set', KEYS[1], ARGV[4])`;

/**
 * The end both write scripts share, from ARGV[i] on: the removed periods (KEYS[7] on, one id each)
 * deleted from the rows and the periods, then the (id, meta) pairs of the periods rewritten.
 * KEYS[3] periods.
 */
const REMOVE_AND_REWRITE = `
for k = 7, #KEYS do
  redis.call('del', KEYS[k])
  redis.call('hdel', KEYS[3], ARGV[i])
  i = i + 1
end
while i < #ARGV do
  redis.call('hset', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end`;

/**
 * Commits one response at the expected version (else 0, nothing written): its rows, its metadata, the
 * coverage of its days (their failures cleared), the periods it supersedes removed, the periods whose
 * dead lists grew rewritten, the version set to the new period's id, and the change published, all in
 * one step.
 * KEYS: version, epoch, periods, coverage, failures, the new period's rows, then the rows of each
 * removed period.
 * ARGV: (CHECK_VERSION's four; the new version is the new id), rows, meta, channel, message, n,
 * n (day, coverage) pairs, one id per removed period, then (id, meta) pairs of the periods rewritten.
 */
const COMMIT = `${CHECK_VERSION}
redis.call('set', KEYS[6], ARGV[5])
redis.call('hset', KEYS[3], ARGV[4], ARGV[6])
local i = 10
for _ = 1, tonumber(ARGV[9]) do
  redis.call('hset', KEYS[4], ARGV[i], ARGV[i + 1])
  redis.call('hdel', KEYS[5], ARGV[i])
  i = i + 2
end
${REMOVE_AND_REWRITE}
redis.call('publish', ARGV[7], ARGV[8])
return 1`;

/**
 * Retention at the expected version (else 0): the coverage of the days before the day and their
 * failures go, with the periods that are then the newest copy of no day; the floor is raised.
 * KEYS: version, epoch, periods, coverage, failures, floor, then the rows of each removed period.
 * ARGV: (CHECK_VERSION's four), day, channel, message, n, n days, one id per removed period, then
 * (id, meta) pairs of the periods rewritten.
 */
const DROP_BEFORE = `${CHECK_VERSION}
local i = 9
for _ = 1, tonumber(ARGV[8]) do
  redis.call('hdel', KEYS[4], ARGV[i])
  i = i + 1
end
${REMOVE_AND_REWRITE}
local function number(day) return tonumber((string.gsub(day, '-', ''))) end
local limit = number(ARGV[5])
for _, day in ipairs(redis.call('hkeys', KEYS[5])) do
  if number(day) < limit then redis.call('hdel', KEYS[5], day) end
end
local floor = redis.call('get', KEYS[6])
if not floor or number(floor) < limit then redis.call('set', KEYS[6], ARGV[5]) end
redis.call('publish', ARGV[6], ARGV[7])
return 1`;

/** Subscriptions per subscriber connection and channel: the last store on one unsubscribes it. */
const subscribers = new WeakMap<Redis, Map<string, number>>();



/** FNV-1a over the UTF-16 code units. */
function hashId(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function hashesOf(callIds: Iterable<string>): Uint32Array {
  const all = Uint32Array.from(callIds, hashId).sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i] as number;
  return all.slice(0, n);
}

/** The values both sorted arrays hold. */
function common(a: Uint32Array, b: Uint32Array): Set<number> {
  const result = new Set<number>();
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) {
      result.add(x);
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return result;
}

function toSharedStoreError(error: unknown, doing: string): SharedStoreError {
  if (error instanceof SharedStoreError) return error;
  const e = error as { code?: unknown; name?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  let code = 'REDIS_UNAVAILABLE';
  if (typeof e?.code === 'string' && e.code !== '') code = e.code;
  else if (e?.name === 'ReplyError') code = /^[A-Z]+/.exec(message)?.[0] ?? 'ERR';
  return new SharedStoreError(`shared history store (Redis): ${doing} failed: ${message}`, code, { cause: error });
}

function parseMeta(text: string): PeriodMeta {
  return JSON.parse(text) as PeriodMeta;
}

function callsOf(value: string): ServiceCall[] {
  const { p: parties, r: rows } = JSON.parse(value) as PeriodRows;
  return callsFrom(parties, rows);
}

function callsFrom(parties: readonly string[], rows: readonly Row[]): ServiceCall[] {
  const party = (index: number | null): string | null => (index === null ? null : (parties[index] as string));
  return rows.map((row) => ({
    callId: row[0],
    clientId: party(row[1]),
    serviceUserId: party(row[2]),
    serviceId: party(row[3]),
    callTime: row[4],
    callerId: party(row[5]),
    calleeId: party(row[6]),
    callResult: row[7] === 1 ? 'SUCCESSFUL' : 'UNSUCCESSFUL',
    durationSeconds: row[8],
  }));
}

/**
 * The history shared by several replicas through Redis (`STORE=redis`), each answering from a local
 * copy.
 *
 * In Redis, under the prefix: each committed upstream period as one value, `history:period:<id>` (its
 * rows as one JSON document: the party IDs once in a list, each row an array naming them by index;
 * one GET brings a period back, and a week of a few hundred thousand rows is one key, not a key per
 * call); `history:periods`, a hash of period metadata (id → days, from, to, fetchedAt, the coverage
 * it came with, and `dead`, see below); `history:coverage` (day → fetchedAt, sealed, periodId: which
 * period is the day's newest copy); `history:failures` (day → DayFailure); `history:version`, which
 * every commit and retention raises by one (a period's id is the version its commit set, so ids are
 * in commit order), with `history:epoch` naming the history it counts in (a Redis that lost its data
 * starts a new one, and no cache of the old one passes for current); and `history:floor`, the last
 * retention day. A commit is one Lua script that checks the version it was computed against, writes
 * the period, points its days at it, clears their failures, removes the periods that are then the
 * newest copy of no day (the memory store's rule, so an older, longer period stays while one of its
 * days is not fetched anew), raises the version and PUBLISHes the new version on `history:changed`.
 * Another replica's write in between fails the check: the commit syncs and is computed again, so
 * concurrent commits serialize without locks or WATCH (a shared connection cannot keep a WATCH of its
 * own).
 *
 * Each replica answers from a local cache, a MemoryHistoryStore built by replaying the Redis periods
 * in commit order through its own stage/commit: the memory store's semantics exactly, and its speed
 * for page and stats. It is keyed by the periods' ids and versions: a sync reads the metadata and the
 * coverage (one MULTI, small hashes), fetches only the periods it lacks and replays them (extend), and
 * rebuilds from all periods only when the two disagree (a period it holds was rewritten, or retention
 * ran in an order the extension cannot repeat). One thing replay alone would get wrong: a row that a
 * newer copy replaced stays replaced after that newer copy is dropped, but replaying the periods left
 * would bring the older row back. A removal therefore records, in each older period left that shares
 * a CallID with the removed one (found by hashes kept per period, confirmed on the removed rows), that
 * CallID in its `dead` list, and replay leaves those rows out.
 *
 * When is the cache current? page and stats trust pub/sub: while this store's subscription is live,
 * no change message since the last sync means no change, and they need no Redis round trip at all;
 * a message (or a subscriber connection lost and found again) marks the cache stale and the next read
 * syncs. coverage and summary always check the version first (one MGET; a sync when it moved):
 * coverage decides which upstream calls are made, and a replica that just got a fetch lock released
 * by another must see that replica's commit at once, not when the message arrives, or it would spend
 * quota on the same days again. Since the service reads coverage before it reads pages, an answer is
 * never older than its request, even if a subscriber connection died silently. coverage comes from
 * the synced cache rather than from Redis, so a day reported covered always has its rows in this
 * replica's pages; failures are read from Redis directly (HMGET of a small hash, written by
 * markFailed without a version change), so a failure recorded by any replica stops every replica's
 * calls at once.
 *
 * `stage` collects the rows in process memory (strings copied, party IDs pooled per response; a week
 * is at most a few hundred thousand rows); nothing reaches Redis before commit, so a crash or a
 * discard leaves no trace. `onChange` tells listeners when another replica committed or ran retention
 * (or when the subscription was lost, when changes may have been missed). Every Redis failure rejects
 * with SharedStoreError. The connections belong to the caller: `close()` unsubscribes and closes none.
 * Redis must keep every key (maxmemory-policy noeviction: an evicted period fails reads with
 * INCONSISTENT) and persist them if the history is to outlive a Redis restart.
 */
export class RedisHistoryStore implements HistoryStore {
  private readonly instance = randomUUID();
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly keys: {
    base: string;
    version: string;
    epoch: string;
    periods: string;
    coverage: string;
    failures: string;
    floor: string;
    channel: string;
  };

  private cache: MemoryHistoryStore;
  /** The history version the cache holds; -1 before the first sync. */
  private version = -1;
  /**
   * Names the history the versions count in ('' before its first write): a Redis that lost its data
   * (restarted without persistence, flushed) starts a new history whose versions may reach the same
   * numbers again, and a cache of the old one must not pass for current then.
   */
  private epoch = '';
  private readonly held = new Map<number, HeldPeriod>();
  /** Per day held by the cache: the period that is its newest copy, and that copy's coverage. */
  private readonly owners = new Map<LocalDay, CoverageEntry>();
  private floor: LocalDay | null = null;

  /** A change message arrived (or may have been missed) since the last sync began. */
  private stale = true;
  /** The subscription is confirmed on a subscriber connection that has not closed since. */
  private live = false;
  /** Counts subscriber connection losses: a subscription confirmed for an earlier connection is not live. */
  private connectionEpoch = 0;
  private subscription: Promise<void> | null = null;
  private counted = false;
  private syncing = false;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  /** Writes and syncs run one at a time: each reads and changes the cache and its bookkeeping. */
  private tail: Promise<unknown> = Promise.resolve();
  /** A sync queued and not yet begun: every read asking for one meanwhile shares it. */
  private queuedSync: Promise<void> | null = null;

  constructor(
    context: RedisContext,
    private readonly zone: string,
  ) {
    this.redis = context.redis;
    this.subscriber = context.subscriber;
    const p = `${context.prefix}history:`;
    this.keys = {
      base: p,
      version: `${p}version`,
      epoch: `${p}epoch`,
      periods: `${p}periods`,
      coverage: `${p}coverage`,
      failures: `${p}failures`,
      floor: `${p}floor`,
      channel: `${p}changed`,
    };
    this.cache = new MemoryHistoryStore(zone);
  }

  /** Listens for changes made by other replicas (commits, retention); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    // Listening starts now, not at the first read.
    if (!this.closed) void this.subscribe();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async coverage(days: readonly LocalDay[]): Promise<Map<LocalDay, DayCoverage>> {
    const cache = await this.checked();
    return cache.coverage(days);
  }

  async failures(days: readonly LocalDay[]): Promise<Map<LocalDay, DayFailure>> {
    this.assertOpen();
    const result = new Map<LocalDay, DayFailure>();
    if (days.length === 0) return result;
    const values = await this.command('reading failures', () => this.redis.hmget(this.keys.failures, ...days));
    days.forEach((day, i) => {
      const value = values[i];
      if (value) result.set(day, JSON.parse(value) as DayFailure);
    });
    return result;
  }

  async markFailed(days: readonly LocalDay[], failure: DayFailure): Promise<void> {
    this.assertOpen();
    if (days.length === 0) return;
    const value = JSON.stringify({ until: failure.until, message: failure.message, row: failure.row ?? null, column: failure.column ?? null });
    const fields: Record<string, string> = {};
    for (const day of days) fields[day] = value;
    await this.command('recording a failure', () => this.redis.hset(this.keys.failures, fields));
  }

  async page(query: CallQuery, after: CallPosition | null, first: number): Promise<CallPage> {
    const cache = await this.answering();
    return cache.page(query, after, first);
  }

  async stats(query: CallQuery): Promise<CallStats> {
    const cache = await this.answering();
    return cache.stats(query);
  }

  async stage(period: FetchedPeriod): Promise<StagedFetch> {
    this.assertOpen();
    if (period.days.length === 0) throw new RangeError('a fetched period has at least one day');
    const stage: Stage = { period: { days: [...period.days], from: period.from, to: period.to }, open: true, parties: [], partyIndex: new Map(), rows: [] };
    return {
      add: async (calls) => this.addStaged(stage, calls),
      commit: async (coverage) => this.commitStaged(stage, coverage),
      discard: async () => {
        stage.open = false;
        stage.rows = [];
        stage.parties = [];
        stage.partyIndex.clear();
      },
    };
  }

  async dropBefore(day: LocalDay): Promise<{ days: number; calls: number }> {
    this.assertOpen();
    return this.writeNextVersion('retention', async (expected, next) => {
      const days = [...this.owners.keys()].filter((held) => held < day);
      const displaced = await this.displacedBy(days, next);
      if (displaced === null) return null;
      const { removed, updated } = displaced;
      const keys = [...this.writeKeys(), this.keys.floor, ...removed.map((id) => this.periodKey(id))];
      const epoch = this.epoch || randomUUID();
      const args: Array<string | number> = [expected, this.epoch, epoch, next, day, this.keys.channel, this.message(next), days.length, ...days, ...removed];
      for (const [id, meta] of updated) args.push(id, JSON.stringify(meta));
      const done = await this.write('retention', () => this.redis.eval(DROP_BEFORE, keys.length, ...keys, ...args));
      if (done !== 1) return null;
      // The cache is at `expected`: the memory store's own retention gives what was dropped.
      const result = await this.cache.dropBefore(day);
      for (const held of days) this.disown(held);
      for (const [id, meta] of updated) this.rewrite(id, meta);
      if (this.floor === null || this.floor < day) this.floor = day;
      return { epoch, result };
    });
  }

  async summary(now: number): Promise<HeldSummary> {
    const cache = await this.checked();
    const held = await cache.summary(now);
    const failures = await this.command('reading failures', () => this.redis.hvals(this.keys.failures));
    const daysFailed = failures.filter((value) => (JSON.parse(value) as DayFailure).until > now).length;
    return { ...held, daysFailed };
  }

  /** Unsubscribes (the last store on this subscriber connection and prefix does) and drops the cache. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    this.listeners.clear();
    this.subscriber.removeListener('message', this.onMessage);
    this.subscriber.removeListener('close', this.onClose);
    this.subscriber.removeListener('ready', this.onReady);
    if (this.counted) {
      this.counted = false;
      const counts = subscribers.get(this.subscriber);
      const left = (counts?.get(this.keys.channel) ?? 1) - 1;
      if (left > 0) counts?.set(this.keys.channel, left);
      else {
        counts?.delete(this.keys.channel);
        await this.subscriber.unsubscribe(this.keys.channel).catch(() => undefined);
      }
    }
    this.cache = new MemoryHistoryStore(this.zone);
    this.held.clear();
    this.owners.clear();
  }

  // --- staging and commit ---

  private addStaged(stage: Stage, calls: readonly ServiceCall[]): void {
    if (!stage.open) return;
    const party = (id: string | null | undefined): number | null => {
      if (id === null || id === undefined) return null;
      if (typeof id !== 'string') throw new TypeError(`an ID must be a string or null, got ${typeof id}`);
      let index = stage.partyIndex.get(id);
      if (index === undefined) {
        index = stage.parties.length;
        const copy = detach(id);
        stage.parties.push(copy);
        stage.partyIndex.set(copy, index);
      }
      return index;
    };
    const rows: Row[] = [];
    // Checked whole before any is kept: a batch that fails adds nothing.
    for (const call of calls) {
      if (typeof call.callId !== 'string') throw new TypeError(`callId must be a string, got ${typeof call.callId}`);
      const callTime = call.callTime ?? null;
      if (callTime !== null && !Number.isFinite(callTime)) throw new TypeError(`callTime must be epoch ms or null, got ${String(callTime)}`);
      if (!Number.isFinite(call.durationSeconds)) throw new TypeError(`durationSeconds must be a number, got ${String(call.durationSeconds)}`);
      rows.push([
        detach(call.callId),
        party(call.clientId),
        party(call.serviceUserId),
        party(call.serviceId),
        callTime,
        party(call.callerId),
        party(call.calleeId),
        callResultCode(call.callResult),
        call.durationSeconds,
      ]);
    }
    for (const row of rows) stage.rows.push(row);
  }

  private async commitStaged(stage: Stage, coverage: readonly DayCoverage[]): Promise<{ duplicateRows: number }> {
    if (!stage.open) throw new Error('a staged fetch was committed twice or after discard');
    if (coverage.length === 0) throw new Error('a fetch covers at least one day');
    this.assertOpen();
    stage.open = false;
    // A CallID listed twice in the response is one call: its first row.
    const seen = new Set<string>();
    const rows = stage.rows.filter((row) => {
      if (seen.has(row[0])) return false;
      seen.add(row[0]);
      return true;
    });
    const duplicateRows = stage.rows.length - rows.length;
    const parties = stage.parties;
    stage.rows = [];
    stage.parties = [];
    stage.partyIndex.clear();
    const value = JSON.stringify({ v: 1, p: parties, r: rows } satisfies PeriodRows);
    const hashes = hashesOf(seen);
    seen.clear();
    const entries = coverage.map((c): [LocalDay, number, boolean] => [c.day, Math.trunc(c.fetchedAt), c.sealed === true]);
    const period = stage.period;
    return this.writeNextVersion('a commit', async (expected, id) => {
      const meta: PeriodMeta = {
        days: [...period.days],
        from: period.from,
        to: period.to,
        fetchedAt: Math.max(...entries.map((e) => e[1])),
        coverage: entries,
        rows: rows.length,
        dead: [],
        rev: id,
      };
      const displaced = await this.displacedBy(entries.map((e) => e[0]), id);
      if (displaced === null) return null;
      const { removed, updated } = displaced;
      const keys = [...this.writeKeys(), this.periodKey(id), ...removed.map((r) => this.periodKey(r))];
      const epoch = this.epoch || randomUUID();
      const args: Array<string | number> = [expected, this.epoch, epoch, id, value, JSON.stringify(meta), this.keys.channel, this.message(id), entries.length];
      for (const [day, fetchedAt, sealed] of entries) args.push(day, JSON.stringify({ fetchedAt, sealed, periodId: id } satisfies CoverageEntry));
      args.push(...removed);
      for (const [older, olderMeta] of updated) args.push(older, JSON.stringify(olderMeta));
      const done = await this.write('commit', () => this.redis.eval(COMMIT, keys.length, ...keys, ...args));
      if (done !== 1) return null;
      // The cache is at `expected`: the commit applied to it is the memory store's own commit.
      await this.apply(this.cache, { id, meta, calls: callsFrom(parties, rows) }, entries, hashes);
      for (const [older, olderMeta] of updated) this.rewrite(older, olderMeta);
      return { epoch, result: { duplicateRows } };
    });
  }

  /**
   * A write of the next version, optimistic: brought up to date (sync), `attempt` writes version
   * `next` over `expected` and says what it leaves; it returns null when other replicas' writes came
   * first (the version moved, or a period it rewrites went meanwhile), and is tried again, at most
   * MAX_WRITE_ATTEMPTS times. One at a time on this replica.
   */
  private async writeNextVersion<T>(
    what: string,
    attempt: (expected: number, next: number) => Promise<{ epoch: string; result: T } | null>,
  ): Promise<T> {
    await this.subscribe();
    return this.exclusive(async () => {
      for (let tried = 0; tried < MAX_WRITE_ATTEMPTS; tried++) {
        await this.sync();
        const expected = this.version;
        const next = expected + 1;
        const written = await attempt(expected, next);
        if (written === null) continue;
        this.epoch = written.epoch;
        this.version = next;
        return written.result;
      }
      throw new SharedStoreError(`shared history store (Redis): ${what} lost to other replicas' writes ${MAX_WRITE_ATTEMPTS} times`, 'COMMIT_CONFLICT');
    });
  }

  /** The keys every write of a version sets (COMMIT and DROP_BEFORE take them first, in this order). */
  private writeKeys(): string[] {
    return [this.keys.version, this.keys.epoch, this.keys.periods, this.keys.coverage, this.keys.failures];
  }

  /**
   * What taking `days` at version `rev` does to the periods held: those left the newest copy of no
   * day (removed), and the older ones given dead rows (updated). Null when a period to read went
   * meanwhile: another replica wrote first.
   */
  private async displacedBy(days: readonly LocalDay[], rev: number): Promise<{ removed: number[]; updated: Map<number, PeriodMeta> } | null> {
    const removed = this.removedBy(days);
    try {
      return { removed, updated: await this.deadUpdates(removed, rev) };
    } catch (error) {
      if (error instanceof PeriodGone) return null;
      throw error;
    }
  }

  /** The periods the cache holds that would be the newest copy of no day once these days are taken. */
  private removedBy(days: readonly LocalDay[]): number[] {
    const lost = new Map<number, number>();
    for (const day of new Set(days)) {
      const owner = this.owners.get(day);
      if (owner) lost.set(owner.periodId, (lost.get(owner.periodId) ?? 0) + 1);
    }
    return [...lost]
      .filter(([id, count]) => (this.held.get(id)?.daysOwned ?? 0) <= count)
      .map(([id]) => id)
      .sort((a, b) => a - b);
  }

  /**
   * The older periods left that share CallIDs with the removed ones, with those CallIDs added to
   * their dead lists (rev: the version the write sets). The removed rows are read only when the
   * hashes say an older period may share one.
   */
  private async deadUpdates(removed: readonly number[], rev: number): Promise<Map<number, PeriodMeta>> {
    const updated = new Map<number, PeriodMeta>();
    if (removed.length === 0) return updated;
    const gone = new Set(removed);
    for (const id of removed) {
      const period = this.held.get(id) as HeldPeriod;
      const candidates = new Map<HeldPeriod, Set<number>>();
      for (const older of this.held.values()) {
        if (older.id >= id || gone.has(older.id)) continue;
        const shared = common(older.hashes, period.hashes);
        if (shared.size > 0) candidates.set(older, shared);
      }
      if (candidates.size === 0) continue;
      const value = await this.command('reading a period', () => this.redis.get(this.periodKey(id)));
      if (value === null) throw new PeriodGone();
      const callIds = (JSON.parse(value) as PeriodRows).r.map((row) => row[0]);
      for (const [older, shared] of candidates) {
        const meta = updated.get(older.id) ?? { ...older.meta, dead: [...older.meta.dead] };
        const dead = new Set(meta.dead);
        // A hash shared by chance adds a CallID the older period does not hold: it then leaves out nothing.
        for (const callId of callIds) if (shared.has(hashId(callId)) && !dead.has(callId)) dead.add(callId);
        if (dead.size === meta.dead.length) continue;
        meta.dead = [...dead];
        meta.rev = rev;
        updated.set(older.id, meta);
      }
    }
    return updated;
  }

  // --- the local cache ---

  /**
   * Replays one period into a cache through its own stage/commit (rows on its dead list left out),
   * and keeps the bookkeeping of days and periods as that commit changes them.
   */
  private async apply(cache: MemoryHistoryStore, period: LoadedPeriod, coverage: ReadonlyArray<[LocalDay, number, boolean]>, hashes?: Uint32Array): Promise<void> {
    const { id, meta } = period;
    const dead = meta.dead.length > 0 ? new Set(meta.dead) : null;
    const calls = dead ? period.calls.filter((c) => !dead.has(c.callId)) : period.calls;
    const staged = await cache.stage({ days: meta.days, from: meta.from, to: meta.to });
    for (let i = 0; i < calls.length; i += REPLAY_BATCH) await staged.add(calls.slice(i, i + REPLAY_BATCH));
    await staged.commit(coverage.map(([day, fetchedAt, sealed]) => ({ day, fetchedAt, sealed })));
    const held: HeldPeriod = { id, meta, daysOwned: 0, hashes: hashes ?? hashesOf(period.calls.map((c) => c.callId)) };
    this.held.set(id, held);
    // The memory store's rule, mirrored: each day's previous copy loses it, and goes at none.
    const replaced = new Set<HeldPeriod>();
    for (const [day, fetchedAt, sealed] of coverage) {
      const previous = this.owners.get(day);
      const older = previous && this.held.get(previous.periodId);
      if (older) {
        older.daysOwned--;
        replaced.add(older);
      }
      this.owners.set(day, { fetchedAt, sealed, periodId: id });
      held.daysOwned++;
    }
    for (const older of replaced) if (older.daysOwned <= 0) this.held.delete(older.id);
  }

  /** A day no longer held (retention). */
  private disown(day: LocalDay): void {
    const owner = this.owners.get(day);
    if (!owner) return;
    this.owners.delete(day);
    const period = this.held.get(owner.periodId);
    if (period && --period.daysOwned <= 0) this.held.delete(period.id);
  }

  private rewrite(id: number, meta: PeriodMeta): void {
    const period = this.held.get(id);
    if (period) period.meta = meta;
  }

  /** Brings the cache to the version in Redis: extended with the periods it lacks, or rebuilt. */
  private async sync(): Promise<void> {
    this.syncing = true;
    // A message arriving from now on may be about a change this sync does not see.
    this.stale = false;
    try {
      for (let attempt = 1; ; attempt++) {
        const [version, epoch] = await this.command('reading the history version', () => this.redis.mget(this.keys.version, this.keys.epoch));
        if (Number(version ?? 0) === this.version && (epoch ?? '') === this.epoch) return;
        const state = await this.readState();
        if (state.version === this.version && state.epoch === this.epoch) return;
        try {
          if (!(await this.extend(state))) await this.rebuild(state);
          return;
        } catch (error) {
          if (!(error instanceof PeriodGone)) throw error;
          if (attempt >= MAX_SYNC_ATTEMPTS) {
            throw new SharedStoreError(`shared history store (Redis): periods kept disappearing while being read (${attempt} tries)`, 'INCONSISTENT');
          }
        }
      }
    } catch (error) {
      this.stale = true;
      throw error;
    } finally {
      this.syncing = false;
    }
  }

  /** Version, period metadata, coverage and floor, as of one instant. */
  private async readState(): Promise<SharedState> {
    const replies = await this.command('reading the history', () =>
      this.redis.multi().get(this.keys.version).get(this.keys.epoch).hgetall(this.keys.periods).hgetall(this.keys.coverage).get(this.keys.floor).exec(),
    );
    if (!replies) throw new SharedStoreError('shared history store (Redis): reading the history was aborted', 'REDIS_UNAVAILABLE');
    for (const [error] of replies) if (error) throw toSharedStoreError(error, 'reading the history');
    const [version, epoch, periods, coverage, floor] = replies.map(([, value]) => value) as [
      string | null,
      string | null,
      Record<string, string>,
      Record<string, string>,
      string | null,
    ];
    const metas = new Map<number, PeriodMeta>();
    for (const [id, text] of Object.entries(periods)) metas.set(Number(id), parseMeta(text));
    const days = new Map<LocalDay, CoverageEntry>();
    for (const [day, text] of Object.entries(coverage)) {
      const entry = JSON.parse(text) as CoverageEntry;
      // A day pointing at no listed period would be held by nothing: it is not held.
      if (metas.has(entry.periodId)) days.set(day, entry);
    }
    return { version: Number(version ?? 0), epoch: epoch ?? '', metas, coverage: days, floor };
  }

  /**
   * Replays, into the cache as it is, the periods committed since its version (each with the coverage
   * it was committed with), then the retention since; true when the result is what Redis holds (the
   * same days, each from the same period, and the same periods at the same revisions). False leaves a
   * cache to be rebuilt.
   */
  private async extend(state: SharedState): Promise<boolean> {
    if (this.version < 0 || state.epoch !== this.epoch || state.version < this.version) return false;
    for (const [id, period] of this.held) {
      const meta = state.metas.get(id);
      if (meta && meta.rev !== period.meta.rev) return false;
    }
    const fresh = [...state.metas.keys()].filter((id) => !this.held.has(id)).sort((a, b) => a - b);
    if (fresh.some((id) => id <= this.version)) return false;
    // Everything is read before the cache changes: a period gone meanwhile leaves it as it was.
    const loaded = await this.load(fresh.map((id) => [id, state.metas.get(id) as PeriodMeta]));
    for (const period of loaded) await this.apply(this.cache, period, period.meta.coverage);
    if (state.floor !== null && (this.floor === null || this.floor < state.floor)) {
      await this.cache.dropBefore(state.floor);
      for (const day of [...this.owners.keys()]) if (day < state.floor) this.disown(day);
      this.floor = state.floor;
    }
    if (!this.matches(state)) {
      this.version = -1;
      return false;
    }
    this.version = state.version;
    return true;
  }

  private matches(state: SharedState): boolean {
    if (this.owners.size !== state.coverage.size) return false;
    for (const [day, entry] of state.coverage) {
      const own = this.owners.get(day);
      if (!own || own.periodId !== entry.periodId || own.fetchedAt !== entry.fetchedAt || own.sealed !== entry.sealed) return false;
    }
    const ids = new Set([...state.coverage.values()].map((entry) => entry.periodId));
    if (ids.size !== this.held.size) return false;
    for (const id of ids) if ((this.held.get(id)?.meta.rev ?? -1) !== (state.metas.get(id) as PeriodMeta).rev) return false;
    return true;
  }

  /** A new cache from every period held in Redis, each replayed with the days it is the newest copy of. */
  private async rebuild(state: SharedState): Promise<void> {
    const byPeriod = new Map<number, Array<[LocalDay, number, boolean]>>();
    for (const [day, entry] of [...state.coverage].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      let days = byPeriod.get(entry.periodId);
      if (!days) byPeriod.set(entry.periodId, (days = []));
      days.push([day, entry.fetchedAt, entry.sealed]);
    }
    const ids = [...byPeriod.keys()].sort((a, b) => a - b);
    const cache = new MemoryHistoryStore(this.zone);
    this.held.clear();
    this.owners.clear();
    this.version = -1;
    try {
      for (let i = 0; i < ids.length; i += LOAD_BATCH) {
        const batch = ids.slice(i, i + LOAD_BATCH).map((id): [number, PeriodMeta] => [id, state.metas.get(id) as PeriodMeta]);
        for (const period of await this.load(batch)) await this.apply(cache, period, byPeriod.get(period.id) as Array<[LocalDay, number, boolean]>);
      }
    } catch (error) {
      this.held.clear();
      this.owners.clear();
      throw error;
    }
    this.cache = cache;
    this.floor = state.floor;
    this.epoch = state.epoch;
    this.version = state.version;
  }

  private async load(periods: ReadonlyArray<[number, PeriodMeta]>): Promise<LoadedPeriod[]> {
    if (periods.length === 0) return [];
    const values = await this.command('reading periods', () => this.redis.mget(...periods.map(([id]) => this.periodKey(id))));
    return periods.map(([id, meta], i) => {
      const value = values[i];
      if (value === null || value === undefined) throw new PeriodGone();
      return { id, meta, calls: callsOf(value) };
    });
  }

  // --- currency ---

  /** The cache for page and stats: as it is while the subscription vouches for it, else synced first. */
  private async answering(): Promise<MemoryHistoryStore> {
    this.assertOpen();
    if (this.live && !this.stale && !this.syncing && this.version >= 0) return this.cache;
    return this.checked();
  }

  /** The cache after a check of the version in Redis made after this call began. */
  private async checked(): Promise<MemoryHistoryStore> {
    this.assertOpen();
    await this.subscribe();
    await this.syncSoon();
    return this.cache;
  }

  private syncSoon(): Promise<void> {
    if (this.queuedSync) return this.queuedSync;
    const queued: Promise<void> = this.exclusive(async () => {
      if (this.queuedSync === queued) this.queuedSync = null;
      await this.sync();
    });
    this.queuedSync = queued;
    return queued;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Subscribes to the change messages, once. Never rejects: without a subscription the store is
   * only slower (page and stats check the version too), and the command connection decides whether
   * the history can be read.
   */
  private subscribe(): Promise<void> {
    if (this.subscription) return this.subscription;
    const subscriber = this.subscriber;
    if (!this.counted) {
      this.counted = true;
      let counts = subscribers.get(subscriber);
      if (!counts) subscribers.set(subscriber, (counts = new Map()));
      counts.set(this.keys.channel, (counts.get(this.keys.channel) ?? 0) + 1);
      subscriber.on('message', this.onMessage);
      subscriber.on('close', this.onClose);
      subscriber.on('ready', this.onReady);
    }
    const epoch = this.connectionEpoch;
    this.subscription = subscriber.subscribe(this.keys.channel).then(
      () => {
        if (this.closed) return;
        if (epoch === this.connectionEpoch) this.live = true;
        this.stale = true;
      },
      () => {
        // Not live: every read checks the version in Redis, and the next one tries to subscribe again.
        this.subscription = null;
      },
    );
    return this.subscription;
  }

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.keys.channel || this.closed) return;
    const [version, origin] = message.split(' ');
    // This store's own changes are in its cache already.
    if (origin === this.instance) return;
    if (!(Number(version) <= this.version)) this.stale = true;
    this.notify();
  };

  private readonly onClose = (): void => {
    this.connectionEpoch++;
    this.live = false;
    this.stale = true;
  };

  /** The subscriber connection is back: messages may have been missed while it was away. */
  private readonly onReady = (): void => {
    if (this.closed || this.subscription === null || this.live) return;
    const epoch = this.connectionEpoch;
    this.subscriber.subscribe(this.keys.channel).then(
      () => {
        if (this.closed || epoch !== this.connectionEpoch) return;
        this.live = true;
        this.stale = true;
        this.notify();
      },
      () => {
        // Not live: reads check the version in Redis, and the next one tries to subscribe again.
        if (epoch === this.connectionEpoch) this.subscription = null;
      },
    );
  };

  private notify(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  // --- plumbing ---

  private message(version: number): string {
    return `${version} ${this.instance}`;
  }

  private periodKey(id: number): string {
    return `${this.keys.base}period:${id}`;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the shared history store is closed');
  }

  private async command<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toSharedStoreError(error, doing);
    }
  }

  /**
   * A write script: 1 when it applied, 0 when the version had moved. When its answer is lost, it may
   * have applied or not: the cache is marked stale, and the next sync finds out.
   */
  private async write(doing: string, fn: () => Promise<unknown>): Promise<number> {
    try {
      return Number(await fn());
    } catch (error) {
      this.stale = true;
      throw toSharedStoreError(error, doing);
    }
  }
}
