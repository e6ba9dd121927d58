import { randomUUID } from 'node:crypto';
import { callResultCode, detach } from '../held-values.js';
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { HeldCall, ServiceCall, ServiceCallFilter } from '../../domain/service-call.js';
import { DAY_MS, instantToWall, isValidTimeZone, type LocalDay, startOfDay, wallToInstant } from '../../time/zone.js';
import type { CallPosition, CallStats } from '../call-selection.js';
import type { DayCoverage } from '../fetch-planner.js';
import type { CallPage, CallQuery, DayFailure, FetchedPeriod, HeldSummary, HistoryStore, StagedFetch } from '../history-store.js';
import { HISTORY_PAGE_SIZE, migrateHistorySchema, STAGING_SCHEMA } from './history-schema.js';

export interface SqliteHistoryStoreOptions {
  /** How long a write waits for another connection's write lock (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** Page cache of this connection, MiB (default 64); a large commit raises it for its own length. */
  cacheMb?: number;
}

/** Rows staged per INSERT statement: one call into SQLite per 64 rows instead of per row. */
const STAGE_ROWS_PER_STATEMENT = 64;
const STAGED_COLUMNS = 10;
/** A commit of this many rows, or this many rows since the last one, checkpoints the WAL. */
const CHECKPOINT_ROWS = 50_000;
/**
 * A commit of at least CHECKPOINT_ROWS rows runs with this page cache (KiB), then gives it back: its
 * new pages stay in memory until the transaction ends instead of being spilled to the WAL and read
 * again (measured ~10 % faster on 500k rows).
 */
const LARGE_COMMIT_CACHE_KIB = 160 * 1024;
const STAGING_CACHE_KIB = 16 * 1024;
/** The WAL file is cut back to this after a checkpoint. */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024;
/**
 * Local days touched around each UTC day (placed_at / DAY_MS): a local day lies within a day of the
 * UTC one, and one more covers SQL's truncating division of instants before 1970.
 */
const TOUCHED_MARGIN_DAYS = 2;

const ZERO_STATS: CallStats = { total: 0, successful: 0, unsuccessful: 0, totalDurationSeconds: 0, averageDurationSeconds: null };

type Party = number | null;

/** Sums over some calls, before a callResult filter is applied to them. */
interface Sums {
  total: number;
  successful: number;
  duration: number;
  successful_duration: number;
}

interface CallRow {
  call_id: string;
  client: string | null;
  service_user: string | null;
  service: string | null;
  call_time: number | null;
  caller: string | null;
  callee: string | null;
  call_result: number;
  duration: number;
  placed_at: number;
}

/** One response being received. */
interface Stage {
  id: number;
  period: FetchedPeriod;
  placeholder: number;
  open: boolean;
  /** Rows written to `staged` by adds that committed, and the range of their staged rowids. */
  rows: number;
  firstRowid: number;
  lastRowid: number;
  /** UTC days (placed_at / DAY_MS) of the rows staged: the days a commit recomputes. */
  utcDays: Set<number>;
  /**
   * Party IDs this stage already looked up. Rows of `parties` never change or go, so an id read once
   * stays true whatever another connection writes; cleared when an add fails (its inserts rolled back).
   */
  parties: Map<string, number>;
}

/** A filter with its IDs as party numbers; null when an ID is held by no call (nothing can match). */
interface ResolvedFilter {
  client: number | null;
  serviceUser: number | null;
  service: number | null;
  onCallSpecialist: number | null;
  callResult: 1 | 2 | null;
  specialist: number | null;
  party: number | null;
}

/** Store instances open in this thread: a staging file of this thread naming any other is a leftover. */
const liveInstances = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `<history file>-staging-<pid>-<threadId>-<instance>`: the owner is in the name. */
const stagingFileOf = (file: string, instance: string): string => `${file}-staging-${process.pid}-${threadId}-${instance}`;
const STAGING_NAME = /^-staging-(\d+)-(\d+)-([0-9a-f-]+)(-journal)?$/;

/**
 * A staging file is a crash's leftover when its process is gone, or when it belongs to this thread
 * and no store of this thread has that instance open. One of another live thread or process is kept:
 * it may still be receiving.
 */
function isLeftover(pid: number, thread: number, instance: string): boolean {
  if (pid !== process.pid) return !processAlive(pid);
  if (thread !== threadId) return false;
  return !liveInstances.has(instance);
}

function removeFile(file: string): void {
  rmSync(file, { force: true });
  rmSync(`${file}-journal`, { force: true });
}



function statsOf(sums: Sums, callResult: 1 | 2 | null): CallStats {
  let { total, successful, duration, successful_duration: successfulDuration } = sums;
  if (callResult === 1) {
    total = successful;
    duration = successfulDuration;
  } else if (callResult === 2) {
    total -= successful;
    duration -= successfulDuration;
    successful = 0;
    successfulDuration = 0;
  }
  return {
    total,
    successful,
    unsuccessful: total - successful,
    totalDurationSeconds: duration,
    averageDurationSeconds: successful ? successfulDuration / successful : null,
  };
}

function addSums(a: Sums, b: Sums): Sums {
  return {
    total: a.total + b.total,
    successful: a.successful + b.successful,
    duration: a.duration + b.duration,
    successful_duration: a.successful_duration + b.successful_duration,
  };
}

/**
 * The four sums in as few operations per row as SQLite allows (a year of one client is ~200k rows):
 * with call_result 1 or 2, sum(call_result) = 2·total − successful and
 * sum(duration·call_result) = 2·duration − successful duration. A CASE per row cost 50 % more.
 */
const SUMS = `count(*) AS total, 2 * count(*) - coalesce(sum(call_result), 0) AS successful, coalesce(sum(duration), 0) AS duration,
  2 * coalesce(sum(duration), 0) - coalesce(sum(duration * call_result), 0) AS successful_duration`;

const CALL_COLUMNS = `c.call_id, c.call_time, c.placed_at, c.call_result, c.duration,
  (SELECT uuid FROM parties WHERE id = c.client) AS client,
  (SELECT uuid FROM parties WHERE id = c.service_user) AS service_user,
  (SELECT uuid FROM parties WHERE id = c.service) AS service,
  (SELECT uuid FROM parties WHERE id = c.caller) AS caller,
  (SELECT uuid FROM parties WHERE id = c.callee) AS callee`;

/**
 * The history in an SQLite file (`STORE=sqlite`): survives restarts, answers from indexes and
 * per-day totals without loading calls into memory. One connection per instance; the ingest worker
 * opens its own on the same file and writes while the serving thread reads (WAL). Nothing read from
 * the database is kept between calls, so another connection's commits are seen at once.
 *
 * Every write is one short immediate transaction: `add` (a batch of rows into the instance's staging
 * file, see STAGING_SCHEMA), `commit` (the whole response moved into `calls` at once, after its
 * envelope closed, so a crash at any point leaves the previous copy whole), `markFailed`,
 * `dropBefore`. The writer checkpoints the WAL after large commits.
 */
export class SqliteHistoryStore implements HistoryStore {
  private readonly instance = randomUUID();
  private readonly statements = new Map<string, Database.Statement>();
  /** The staging file once attached (at the first stage), and the stages open in it. */
  private staging: string | null = null;
  private readonly openStages = new Set<number>();
  private nextStage = 1;
  private readonly stageArgs: Array<string | number | null> = new Array(STAGE_ROWS_PER_STATEMENT * STAGED_COLUMNS).fill(null);
  private rowsSinceCheckpoint = 0;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    private readonly zone: string,
    private readonly cacheKib: number,
  ) {
    liveInstances.add(this.instance);
  }

  /**
   * Opens (creating it when missing) the history file: WAL, schema migrated forward, and the staging
   * files of responses that a crash left half-received deleted. Throws when the file's schema is newer
   * than this code knows.
   */
  static open(file: string, zone: string, options: SqliteHistoryStoreOptions = {}): SqliteHistoryStore {
    if (!isValidTimeZone(zone)) throw new RangeError(`${zone} is not an IANA time zone`);
    const db = new Database(file);
    let store: SqliteHistoryStore | undefined;
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      // Takes effect only on a new file, before its first table.
      db.pragma(`page_size = ${HISTORY_PAGE_SIZE}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`history database ${file}: journal_mode is ${String(mode)}, not wal`);
      // In WAL, NORMAL loses at most the last commits on a power cut, never the file's consistency.
      db.pragma('synchronous = NORMAL');
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
      const cacheKib = Math.max(1, Math.trunc((options.cacheMb ?? 64) * 1024));
      db.pragma(`cache_size = ${-cacheKib}`);
      migrateHistorySchema(db, file);
      store = new SqliteHistoryStore(db, file, zone, cacheKib);
      store.removeLeftovers();
      return store;
    } catch (error) {
      if (store) liveInstances.delete(store.instance);
      db.close();
      throw error;
    }
  }

  async coverage(days: readonly LocalDay[]): Promise<Map<LocalDay, DayCoverage>> {
    const select = this.statement<[string], { fetched_at: number; sealed: number }>('SELECT fetched_at, sealed FROM days WHERE day = ?');
    return this.read(() => {
      const result = new Map<LocalDay, DayCoverage>();
      for (const day of days) {
        const row = select.get(day);
        if (row) result.set(day, { day, fetchedAt: row.fetched_at, sealed: row.sealed === 1 });
      }
      return result;
    });
  }

  async failures(days: readonly LocalDay[]): Promise<Map<LocalDay, DayFailure>> {
    const select = this.statement<[string], { until: number; message: string; row_number: number | null; column_name: string | null }>(
      'SELECT until, message, row_number, column_name FROM failures WHERE day = ?',
    );
    return this.read(() => {
      const result = new Map<LocalDay, DayFailure>();
      for (const day of days) {
        const row = select.get(day);
        if (row) result.set(day, { until: row.until, message: row.message, row: row.row_number, column: row.column_name });
      }
      return result;
    });
  }

  async markFailed(days: readonly LocalDay[], failure: DayFailure): Promise<void> {
    const upsert = this.statement<[string, number, string, number | null, string | null]>(
      `INSERT INTO failures (day, until, message, row_number, column_name) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (day) DO UPDATE SET until = excluded.until, message = excluded.message,
         row_number = excluded.row_number, column_name = excluded.column_name`,
    );
    this.write(() => {
      for (const day of days) upsert.run(day, failure.until, failure.message, failure.row ?? null, failure.column ?? null);
    });
  }

  async page(query: CallQuery, after: CallPosition | null, first: number): Promise<CallPage> {
    const limit = Math.max(0, Math.trunc(first));
    return this.read(() => {
      const filter = this.resolve(query.filter);
      if (filter === null || !(query.to > query.from)) return { calls: [], hasNextPage: false, hasPreviousPage: false };
      // The page starts at the later of the period's start and the cursor: one lower bound to seek.
      const params: Record<string, number | string> = { from: after ? Math.max(query.from, after.placedAt) : query.from, to: query.to, limit: limit + 1 };
      const conditions = this.conditions(filter, params);
      if (after) {
        params.afterAt = after.placedAt;
        params.afterId = after.callId;
        conditions.push('(placed_at, call_id) > (@afterAt, @afterId)');
      }
      const where = conditions.join(' AND ');
      const arms = this.orArms(filter, params);
      // The page's rows are chosen first and described after: calls placed at the same instant (a
      // period's calls without CallTime, ~1000 a week) are sorted by callId, and describing each of
      // them before the sort cost twice as much.
      let ids: string;
      if (arms.length === 0) {
        ids = `SELECT id FROM calls WHERE ${where} ORDER BY placed_at, call_id LIMIT @limit`;
      } else {
        // Each arm walks its own index in history order and stops after the page; their union holds
        // the page, sorted once. An OR over the whole period would gather and sort every match.
        ids = arms
          .map((arm) => `SELECT id FROM (SELECT id FROM calls WHERE ${where} AND ${arm} ORDER BY placed_at, call_id LIMIT @limit)`)
          .join(' UNION ALL ');
      }
      const sql = `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.id IN (${ids}) ORDER BY c.placed_at, c.call_id LIMIT @limit`;
      const rows = this.statement<[Record<string, number | string>], CallRow>(sql).all(params);
      let hasPreviousPage = false;
      if (after) {
        const previous: Record<string, number | string> = { from: query.from, to: query.to, afterAt: after.placedAt, afterId: after.callId };
        const previousConditions = [...this.conditions(filter, previous), this.anyArm(filter, previous)].filter((c) => c !== '');
        const exists = this.statement<[Record<string, number | string>], { found: number }>(
          `SELECT EXISTS (SELECT 1 FROM calls WHERE ${previousConditions.join(' AND ')}
             AND placed_at <= @afterAt AND (placed_at, call_id) <= (@afterAt, @afterId)) AS found`,
        );
        hasPreviousPage = exists.get(previous)?.found === 1;
      }
      return {
        calls: rows.slice(0, limit).map(heldCallOf),
        hasNextPage: rows.length > limit,
        hasPreviousPage,
      };
    });
  }

  async stats(query: CallQuery): Promise<CallStats> {
    return this.read(() => {
      const filter = this.resolve(query.filter);
      if (filter === null || !(query.to > query.from)) return ZERO_STATS;
      const f = filter;
      // The line and the result are in day_stats: whole days are summed from a few rows each.
      const byDay = f.client === null && f.serviceUser === null && f.onCallSpecialist === null && f.specialist === null && f.party === null;
      if (byDay) return statsOf(this.periodSums(query.from, query.to, f.service), f.callResult);
      const params: Record<string, number | string> = { from: query.from, to: query.to };
      const conditions = [...this.conditions(f, params), this.anyArm(f, params)].filter((c) => c !== '');
      const sums = this.statement<[Record<string, number | string>], Sums>(`SELECT ${SUMS} FROM calls WHERE ${conditions.join(' AND ')}`).get(params);
      return statsOf(sums as Sums, f.callResult);
    });
  }

  async stage(period: FetchedPeriod): Promise<StagedFetch> {
    const firstDay = period.days[0];
    if (firstDay === undefined) throw new RangeError('a fetched period has at least one day');
    // A call without a CallTime is placed at the start of the period's first day.
    const placeholder = startOfDay(firstDay, this.zone);
    this.attachStaging();
    const id = this.nextStage++;
    this.openStages.add(id);
    const stage: Stage = {
      id,
      period,
      placeholder,
      open: true,
      rows: 0,
      firstRowid: Number.POSITIVE_INFINITY,
      lastRowid: 0,
      utcDays: new Set(),
      parties: new Map(),
    };
    return {
      add: async (calls) => this.addStaged(stage, calls),
      commit: async (coverage) => this.commitStaged(stage, coverage),
      discard: async () => this.discardStaged(stage),
    };
  }

  async dropBefore(day: LocalDay): Promise<{ days: number; calls: number }> {
    const result = this.write(() => {
      const fetchIds = this.statement<[string], number>('SELECT DISTINCT fetch_id FROM days WHERE day < ?').pluck().all(day);
      const days = this.statement<[string]>('DELETE FROM days WHERE day < ?').run(day).changes;
      this.statement<[string]>('DELETE FROM failures WHERE day < ?').run(day);
      let calls = 0;
      for (const fetchId of fetchIds) calls += this.dropIfUncovered(fetchId);
      this.recomputeDays(new Set());
      return { days, calls };
    });
    this.afterWrite(result.calls);
    return result;
  }

  async summary(now: number): Promise<HeldSummary> {
    return this.read(() => {
      const days = this.statement<[], { held: number; sealed: number | null }>('SELECT count(*) AS held, sum(sealed) AS sealed FROM days').get();
      const failed = this.statement<[number], number>('SELECT count(*) FROM failures WHERE until > ?').pluck().get(now);
      // Every call lies in one day's totals: a row a day instead of counting a year of calls.
      const calls = this.statement<[], number | null>('SELECT sum(total) FROM day_stats').pluck().get();
      return { daysHeld: days?.held ?? 0, daysSealed: days?.sealed ?? 0, daysFailed: failed ?? 0, calls: calls ?? 0 };
    });
  }

  /** Closes the connection and deletes the staging file: a stage still open is dropped. */
  async close(): Promise<void> {
    liveInstances.delete(this.instance);
    if (this.db.open) this.db.close();
    if (this.staging !== null) removeFile(this.staging);
  }

  // --- staging ---

  private addStaged(stage: Stage, calls: readonly ServiceCall[]): void {
    if (!stage.open || calls.length === 0) return;
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    // Each statement's rows get consecutive rowids ending at lastInsertRowid (staged rows are only
    // ever numbered by SQLite): the stage's rows lie in first..last, other stages' rows filtered out.
    const note = (rows: number, lastInsertRowid: number | bigint): void => {
      last = Number(lastInsertRowid);
      first = Math.min(first, last - rows + 1);
    };
    try {
      this.write(() => {
        for (let i = 0; i < calls.length; i += STAGE_ROWS_PER_STATEMENT) {
          const rows = Math.min(STAGE_ROWS_PER_STATEMENT, calls.length - i);
          const args = rows === STAGE_ROWS_PER_STATEMENT ? this.stageArgs : new Array<string | number | null>(rows * STAGED_COLUMNS);
          for (let j = 0; j < rows; j++) this.fillStaged(args, j * STAGED_COLUMNS, stage, calls[i + j] as ServiceCall);
          note(rows, this.stageStatement(rows).run(args).lastInsertRowid);
        }
      });
    } catch (error) {
      stage.parties.clear();
      throw error;
    }
    stage.firstRowid = Math.min(stage.firstRowid, first);
    stage.lastRowid = Math.max(stage.lastRowid, last);
    stage.rows += calls.length;
  }

  /** INSERT of `rows` staged rows (one statement per batch size: prepared once, kept by the statement cache). */
  private stageStatement(rows: number): Database.Statement<[Array<string | number | null>]> {
    return this.statement<[Array<string | number | null>]>(
      `INSERT INTO staging.staged (stage, call_id, client, service_user, service, call_time, caller, callee, call_result, duration) VALUES ${Array.from(
        { length: rows },
        () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).join(', ')}`,
    );
  }

  /** One staged row's values, converted where they enter the store (SQLite binds no booleans, undefined as NULL). */
  private fillStaged(args: Array<string | number | null>, at: number, stage: Stage, call: ServiceCall): void {
    if (typeof call.callId !== 'string') throw new TypeError(`callId must be a string, got ${typeof call.callId}`);
    const callTime = call.callTime ?? null;
    if (callTime !== null && typeof callTime !== 'number') throw new TypeError(`callTime must be epoch ms or null, got ${typeof callTime}`);
    if (typeof call.durationSeconds !== 'number') throw new TypeError(`durationSeconds must be a number, got ${typeof call.durationSeconds}`);
    args[at] = stage.id;
    args[at + 1] = call.callId;
    const serviceUser = this.party(stage, call.serviceUserId);
    args[at + 2] = this.party(stage, call.clientId);
    args[at + 3] = serviceUser;
    args[at + 4] = this.party(stage, call.serviceId);
    args[at + 5] = callTime;
    // Most calls are between the service user and one other party: a lookup saved.
    args[at + 6] = call.callerId === call.serviceUserId ? serviceUser : this.party(stage, call.callerId);
    args[at + 7] = call.calleeId === call.serviceUserId ? serviceUser : this.party(stage, call.calleeId);
    args[at + 8] = callResultCode(call.callResult);
    args[at + 9] = call.durationSeconds;
    stage.utcDays.add(Math.trunc((callTime ?? stage.placeholder) / DAY_MS));
  }

  private party(stage: Stage, uuid: string | null | undefined): Party {
    if (uuid === null || uuid === undefined) return null;
    const known = stage.parties.get(uuid);
    if (known !== undefined) return known;
    if (typeof uuid !== 'string') throw new TypeError(`an ID must be a string or null, got ${typeof uuid}`);
    const id =
      this.statement<[string], number>('SELECT id FROM parties WHERE uuid = ?').pluck().get(uuid) ??
      Number(this.statement<[string]>('INSERT INTO parties (uuid) VALUES (?)').run(uuid).lastInsertRowid);
    stage.parties.set(detach(uuid), id);
    return id;
  }

  private commitStaged(stage: Stage, coverage: readonly DayCoverage[]): { duplicateRows: number } {
    if (!stage.open) throw new Error('a staged fetch was committed twice or after discard');
    if (coverage.length === 0) throw new Error('a fetch covers at least one day');
    if (!this.db.open) throw new Error(`the history store on ${this.file} is closed: its staged fetch is gone`);
    const large = stage.rows >= CHECKPOINT_ROWS;
    if (large) this.db.pragma(`cache_size = ${-LARGE_COMMIT_CACHE_KIB}`);
    try {
      return this.commitTransaction(stage, coverage);
    } finally {
      if (large && this.db.open) {
        this.db.pragma(`cache_size = ${-this.cacheKib}`);
        this.db.pragma('shrink_memory');
      }
    }
  }

  private commitTransaction(stage: Stage, coverage: readonly DayCoverage[]): { duplicateRows: number } {
    const duplicateRows = this.write(() => {
      // The response's calls are numbered from a range no held fetch has used: calls.id = base + the
      // row's offset in staged. A fetch's calls then lie in its range and nowhere else.
      const base = (this.statement<[], number>('SELECT coalesce(max(last_row), 0) FROM fetches').pluck().get() ?? 0) + 1;
      const staged = stage.rows > 0;
      const lastRow = staged ? base + stage.lastRowid - stage.firstRowid : base - 1;
      const days = stage.period.days;
      const fetchId = Number(
        this.statement<[string, string, number, number]>('INSERT INTO fetches (first_day, last_day, first_row, last_row) VALUES (?, ?, ?, ?)').run(
          days[0] as string,
          days[days.length - 1] as string,
          base,
          lastRow,
        ).lastInsertRowid,
      );
      const previousFetch = this.statement<[string], number>('SELECT fetch_id FROM days WHERE day = ?').pluck();
      const upsertDay = this.statement<[string, number, number, number]>(
        `INSERT INTO days (day, fetch_id, fetched_at, sealed) VALUES (?, ?, ?, ?)
         ON CONFLICT (day) DO UPDATE SET fetch_id = excluded.fetch_id, fetched_at = excluded.fetched_at, sealed = excluded.sealed`,
      );
      const clearFailure = this.statement<[string]>('DELETE FROM failures WHERE day = ?');
      const replaced = new Set<number>();
      for (const c of coverage) {
        const previous = previousFetch.get(c.day);
        if (previous !== undefined && previous !== fetchId) replaced.add(previous);
        upsertDay.run(c.day, fetchId, Math.trunc(c.fetchedAt), c.sealed ? 1 : 0);
        clearFailure.run(c.day);
      }
      let distinct = 0;
      if (staged) {
        const params = { stage: stage.id, offset: base - stage.firstRowid, placeholder: stage.placeholder };
        // Time order, as the rows came: every index of calls is appended to near its end.
        this.statement<[typeof params]>(
          `INSERT INTO calls (id, call_id, placed_at, call_time, client, service_user, service, caller, callee, specialist, call_result, duration)
           SELECT rowid + @offset, call_id, coalesce(call_time, @placeholder), call_time, client, service_user, service, caller, callee,
             CASE WHEN service_user IS NULL THEN NULL WHEN caller = service_user THEN callee WHEN callee = service_user THEN caller END,
             call_result, duration
           FROM staging.staged WHERE stage = @stage ORDER BY rowid`,
        ).run(params);
        // CallID order: the newest copy of each CallID. A CallID held from an older fetch points here
        // now (its old row is deleted by call_ids_replaced); a CallID listed twice in this response
        // keeps its first row (the later one conflicts with a row of this range and is skipped).
        distinct = this.statement<[{ stage: number; offset: number; base: number }]>(
          `INSERT INTO call_ids (call_id, row)
           SELECT call_id, rowid + @offset FROM staging.staged WHERE stage = @stage ORDER BY call_id, rowid
           ON CONFLICT (call_id) DO UPDATE SET row = excluded.row WHERE call_ids.row < @base`,
        ).run({ stage: stage.id, offset: params.offset, base }).changes;
        if (distinct < stage.rows) {
          // The later rows of a CallID listed twice: numbered, but not the CallID's row.
          this.statement<[{ stage: number; offset: number }]>(
            `DELETE FROM calls WHERE id IN (
               SELECT rowid + @offset FROM (
                 SELECT rowid, row_number() OVER (PARTITION BY call_id ORDER BY rowid) AS n FROM staging.staged WHERE stage = @stage
               ) WHERE n > 1)`,
          ).run({ stage: stage.id, offset: params.offset });
        }
      }
      // A copy none of whose days it is the newest copy of any more goes, with the calls it alone
      // still provides (the memory store's rule).
      for (const older of replaced) this.dropIfUncovered(older);
      this.recomputeDays(stage.utcDays);
      return stage.rows - distinct;
    });
    stage.open = false;
    stage.parties.clear();
    this.write(() => this.removeStage(stage.id));
    this.afterWrite(stage.rows);
    return { duplicateRows };
  }

  private discardStaged(stage: Stage): void {
    stage.open = false;
    stage.parties.clear();
    if (!this.db.open || !this.openStages.has(stage.id)) return;
    this.write(() => this.removeStage(stage.id));
  }

  private removeStage(id: number): void {
    this.openStages.delete(id);
    // Alone, the table is emptied whole, far faster than deleting its rows one by one.
    if (this.openStages.size === 0) this.statement('DELETE FROM staging.staged').run();
    else this.statement<[number]>('DELETE FROM staging.staged WHERE stage = ?').run(id);
  }

  /** At the first stage: this instance's staging file, created empty. */
  private attachStaging(): void {
    if (this.staging !== null) return;
    const file = stagingFileOf(this.file, this.instance);
    removeFile(file);
    this.db.prepare('ATTACH DATABASE ? AS staging').run(file);
    this.staging = file;
    // Nothing in it outlives a crash (the file goes at the next open): no fsync, the rollback journal
    // in memory (a failed add still rolls back).
    this.db.pragma(`staging.page_size = ${HISTORY_PAGE_SIZE}`);
    this.db.pragma('staging.journal_mode = MEMORY');
    this.db.pragma('staging.synchronous = OFF');
    // The commit reads the staged rows twice (into calls, then in CallID order): from memory.
    this.db.pragma(`staging.cache_size = ${-STAGING_CACHE_KIB}`);
    this.db.exec(STAGING_SCHEMA);
  }

  /** At open: the staging files of crashed processes and of closed instances of this thread go. */
  private removeLeftovers(): void {
    const prefix = basename(this.file);
    let names: string[];
    try {
      names = readdirSync(dirname(this.file));
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const match = STAGING_NAME.exec(name.slice(prefix.length));
      if (match && isLeftover(Number(match[1]), Number(match[2]), match[3] as string)) removeFile(join(dirname(this.file), name));
    }
  }

  // --- fetches and day totals ---

  /**
   * Drops a fetch that is no longer the newest copy of any day, with the calls it still holds: those
   * left in its range (calls_deleted notes their days and forgets their CallIDs).
   */
  private dropIfUncovered(fetchId: number): number {
    if (this.statement<[number], number>('SELECT EXISTS (SELECT 1 FROM days WHERE fetch_id = ?)').pluck().get(fetchId) === 1) return 0;
    const range = this.statement<[number], { first_row: number; last_row: number }>('SELECT first_row, last_row FROM fetches WHERE id = ?').get(fetchId);
    if (!range) return 0;
    const calls = this.statement<[number, number]>('DELETE FROM calls WHERE id BETWEEN ? AND ?').run(range.first_row, range.last_row).changes;
    this.statement<[number]>('DELETE FROM fetches WHERE id = ?').run(fetchId);
    return calls;
  }

  /**
   * Recomputes day_stats for every local day that may hold calls placed in these UTC days or in the
   * UTC days of the calls deleted by this transaction (touched_days), then empties touched_days.
   */
  private recomputeDays(utcDays: ReadonlySet<number>): void {
    const all = new Set(utcDays);
    for (const day of this.statement<[], number>('SELECT utc_day FROM touched_days').pluck().all()) all.add(day);
    this.statement('DELETE FROM touched_days').run();
    const days = new Set<number>();
    for (const u of all) for (let d = u - TOUCHED_MARGIN_DAYS; d <= u + TOUCHED_MARGIN_DAYS; d++) days.add(d);
    const remove = this.statement<[number]>('DELETE FROM day_stats WHERE day = ?');
    const insert = this.statement<[number, number, number]>(
      `INSERT INTO day_stats (day, service, total, successful, duration, successful_duration)
       SELECT ?, coalesce(service, 0), ${SUMS} FROM calls WHERE placed_at >= ? AND placed_at < ? GROUP BY service`,
    );
    for (const day of [...days].sort((a, b) => a - b)) {
      remove.run(day);
      insert.run(day, this.dayStart(day), this.dayStart(day + 1));
    }
  }

  /** The instant local day number `day` (its wall-clock midnight / DAY_MS) starts. */
  private dayStart(day: number): number {
    return wallToInstant(day * DAY_MS, this.zone);
  }

  /**
   * Sums over [from, to), of one line or all: whole days from day_stats, the partial first and last
   * day from calls_placed (which covers the line, result and duration).
   */
  private periodSums(from: number, to: number, service: number | null): Sums {
    const line = service === null ? '' : ' AND service = @service';
    const range = this.statement<[{ from: number; to: number; service?: number }], Sums>(
      `SELECT ${SUMS} FROM calls WHERE placed_at >= @from AND placed_at < @to${line}`,
    );
    const params = (a: number, b: number): { from: number; to: number; service?: number } => (service === null ? { from: a, to: b } : { from: a, to: b, service });
    let first: number;
    let last: number;
    try {
      first = Math.floor(instantToWall(from, this.zone) / DAY_MS);
      for (let i = 0; i < 3 && this.dayStart(first) < from; i++) first++;
      last = Math.floor(instantToWall(to, this.zone) / DAY_MS) - 1;
      for (let i = 0; i < 3 && this.dayStart(last + 1) > to; i++) last--;
      if (this.dayStart(first) < from || this.dayStart(last + 1) > to) throw new RangeError('no whole days');
    } catch {
      // Instants outside the calendar the zone knows: no whole days, the calls are summed directly.
      return range.get(params(from, to)) as Sums;
    }
    if (first > last) return range.get(params(from, to)) as Sums;
    const whole = this.statement<[{ from: number; to: number; service?: number }], Sums>(
      `SELECT coalesce(sum(total), 0) AS total, coalesce(sum(successful), 0) AS successful, coalesce(sum(duration), 0) AS duration,
         coalesce(sum(successful_duration), 0) AS successful_duration FROM day_stats WHERE day BETWEEN @from AND @to${line}`,
    ).get(params(first, last)) as Sums;
    const head = range.get(params(from, this.dayStart(first))) as Sums;
    const tail = range.get(params(this.dayStart(last + 1), to)) as Sums;
    return addSums(addSums(whole, head), tail);
  }

  // --- queries ---

  /** The filter's IDs as party numbers, or null when one of them is held by no call. */
  private resolve(filter: ServiceCallFilter): ResolvedFilter | null {
    const lookup = this.statement<[string], number>('SELECT id FROM parties WHERE uuid = ?').pluck();
    let unknown = false;
    const id = (uuid: string | null | undefined): number | null => {
      if (uuid === null || uuid === undefined) return null;
      const found = lookup.get(uuid);
      if (found === undefined) unknown = true;
      return found ?? null;
    };
    const resolved: ResolvedFilter = {
      client: id(filter.clientId),
      serviceUser: id(filter.serviceUserId),
      service: id(filter.serviceId),
      onCallSpecialist: id(filter.onCallSpecialistId),
      callResult: filter.callResult == null ? null : callResultCode(filter.callResult),
      specialist: id(filter.specialistId),
      party: id(filter.partyId),
    };
    return unknown ? null : resolved;
  }

  /** The period and the equality filters, each an indexed column. */
  private conditions(f: ResolvedFilter, params: Record<string, number | string>): string[] {
    const conditions = ['placed_at >= @from', 'placed_at < @to'];
    const equal = (column: string, value: number | null, name: string): void => {
      if (value === null) return;
      conditions.push(`${column} = @${name}`);
      params[name] = value;
    };
    equal('client', f.client, 'client');
    equal('service_user', f.serviceUser, 'serviceUser');
    equal('service', f.service, 'service');
    equal('specialist', f.onCallSpecialist, 'onCall');
    equal('call_result', f.callResult, 'result');
    return conditions;
  }

  /**
   * The caller-or-callee filters as disjoint-enough arms, each served by an index. When the call's
   * direction is known (specialist not null) its caller and callee are the service user and the
   * specialist; otherwise they are looked up in the partial indexes of undirected calls.
   * specialistId X: caller = X or callee = X. partyId X: the service user, caller or callee is X.
   * With both, the arms are specialistId's and partyId becomes a condition of each (see anyArm).
   */
  private orArms(f: ResolvedFilter, params: Record<string, number | string>): string[] {
    if (f.party !== null) params.party = f.party;
    if (f.specialist !== null) {
      params.specialist = f.specialist;
      return [
        'service_user = @specialist AND specialist IS NOT NULL',
        'specialist = @specialist',
        'caller = @specialist AND specialist IS NULL',
        'callee = @specialist AND specialist IS NULL',
      ].map((arm) => (f.party !== null ? `${arm} AND (${PARTY_OR})` : arm));
    }
    if (f.party !== null) return PARTY_ARMS;
    return [];
  }

  /** The caller-or-callee filters as one condition (an OR SQLite answers from several indexes). */
  private anyArm(f: ResolvedFilter, params: Record<string, number | string>): string {
    const parts: string[] = [];
    if (f.specialist !== null) {
      params.specialist = f.specialist;
      parts.push(`(${SPECIALIST_OR})`);
    }
    if (f.party !== null) {
      params.party = f.party;
      parts.push(`(${PARTY_OR})`);
    }
    return parts.join(' AND ');
  }

  // --- plumbing ---

  private statement<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }

  /** A read transaction: the statements of one answer see one snapshot. */
  private read<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Every write begins IMMEDIATE: a deferred one that read first fails with SQLITE_BUSY_SNAPSHOT under WAL. */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Large or many commits checkpoint the WAL back to nothing, so it never keeps a large commit's size. */
  private afterWrite(rows: number): void {
    this.rowsSinceCheckpoint += rows;
    if (this.rowsSinceCheckpoint < CHECKPOINT_ROWS) return;
    this.rowsSinceCheckpoint = 0;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}

const PARTY_ARMS = [
  'service_user = @party',
  'specialist = @party',
  'caller = @party AND specialist IS NULL',
  'callee = @party AND specialist IS NULL',
];
const PARTY_OR = PARTY_ARMS.map((arm) => `(${arm})`).join(' OR ');
const SPECIALIST_OR = [
  'service_user = @specialist AND specialist IS NOT NULL',
  'specialist = @specialist',
  'caller = @specialist AND specialist IS NULL',
  'callee = @specialist AND specialist IS NULL',
]
  .map((arm) => `(${arm})`)
  .join(' OR ');

function heldCallOf(row: CallRow): HeldCall {
  return {
    callId: row.call_id,
    clientId: row.client,
    serviceUserId: row.service_user,
    serviceId: row.service,
    callTime: row.call_time,
    callerId: row.caller,
    calleeId: row.callee,
    callResult: row.call_result === 1 ? 'SUCCESSFUL' : 'UNSUCCESSFUL',
    durationSeconds: row.duration,
    placedAt: row.placed_at,
  };
}
