import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceCall } from '../../src/domain/service-call.js';
import type { CallQuery, FetchedPeriod } from '../../src/history/history-store.js';
import { HISTORY_SCHEMA_VERSION } from '../../src/history/sqlite/history-schema.js';
import { SqliteHistoryStore } from '../../src/history/sqlite/sqlite-history-store.js';
import { addDays, type LocalDay, startOfDay } from '../../src/time/zone.js';

const ZONE = 'Europe/Moscow';
const STORE_MODULE = pathToFileURL(join(import.meta.dirname, '../../src/history/sqlite/sqlite-history-store.ts')).href;
const DAY: LocalDay = '2024-03-04';

const id = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** `count` calls through the day, of a few clients and accounts. */
function calls(prefix: string, count: number, day = DAY): ServiceCall[] {
  const from = startOfDay(day, ZONE);
  return Array.from({ length: count }, (_, i) => ({
    callId: `${prefix}-${String(i).padStart(7, '0')}`,
    clientId: id(1 + (i % 5)),
    serviceUserId: id(10 + (i % 7)),
    serviceId: id(20 + (i % 3)),
    callTime: i % 50 === 0 ? null : from + Math.floor((i * 86_000_000) / count),
    callerId: id(10 + (i % 7)),
    calleeId: id(30 + (i % 4)),
    callResult: i % 6 === 0 ? 'UNSUCCESSFUL' : 'SUCCESSFUL',
    durationSeconds: i % 600,
  }));
}

function periodOf(day: LocalDay, days = 1): FetchedPeriod {
  const list = Array.from({ length: days }, (_, i) => addDays(day, i));
  return { days: list, from: startOfDay(day, ZONE), to: startOfDay(addDays(day, days), ZONE) };
}

async function commit(store: SqliteHistoryStore, rows: ServiceCall[], period = periodOf(DAY), fetchedAt = Date.parse('2024-03-10T00:00:00Z')): Promise<void> {
  const staged = await store.stage(period);
  for (let i = 0; i < rows.length; i += 100) await staged.add(rows.slice(i, i + 100));
  await staged.commit(period.days.map((day) => ({ day, fetchedAt, sealed: true })));
}

const dayQuery = (filter = {}): CallQuery => ({ from: startOfDay(DAY, ZONE), to: startOfDay(addDays(DAY, 1), ZONE), filter });

/** The call IDs a store holds for DAY, all of them, sorted. */
async function heldIds(store: SqliteHistoryStore): Promise<string[]> {
  const page = await store.page(dayQuery(), null, 1_000_000);
  return page.calls.map((c) => c.callId).sort();
}

/** The staging files beside a history file, and the rows staged in them. */
function staging(file: string): { files: number; rows: number } {
  const names = readdirSync(dirname(file)).filter((name) => name.startsWith(`${basename(file)}-staging-`) && !name.endsWith('-journal'));
  let rows = 0;
  for (const name of names) rows += raw(join(dirname(file), name), (db) => db.prepare('SELECT count(*) FROM staged').pluck().get() as number);
  return { files: names.length, rows };
}

function raw<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file);
  try {
    return read(db);
  } finally {
    db.close();
  }
}

describe('SqliteHistoryStore (SQLite only)', () => {
  let dir = '';
  let file = '';
  const opened: SqliteHistoryStore[] = [];
  const children: ChildProcessWithoutNullStreams[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sqlite-history-store-'));
    file = join(dir, 'history.sqlite');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    for (const store of opened.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const open = (): SqliteHistoryStore => {
    const store = SqliteHistoryStore.open(file, ZONE);
    opened.push(store);
    return store;
  };

  /**
   * Runs `body` (an async function body with `store`, `period`, `rows` and `say` in scope) in a
   * process of its own on the file, and resolves with that process once it has said `word`.
   */
  function child(body: string, rows: ServiceCall[], word: string): Promise<ChildProcessWithoutNullStreams> {
    const data = join(dir, `rows-${children.length}.json`);
    writeFileSync(data, JSON.stringify({ rows, period: periodOf(DAY) }));
    const code = `
      import { readFileSync } from 'node:fs';
      const { SqliteHistoryStore } = await import(${JSON.stringify(STORE_MODULE)});
      const { rows, period } = JSON.parse(readFileSync(${JSON.stringify(data)}, 'utf8'));
      const store = SqliteHistoryStore.open(${JSON.stringify(file)}, ${JSON.stringify(ZONE)});
      const say = (text) => process.stdout.write(text + '\\n');
      ${body}
      setInterval(() => {}, 60_000);
    `;
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: 'pipe' });
    children.push(proc);
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      proc.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.split('\n').includes(word)) resolve(proc);
      });
      proc.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
      });
      proc.on('exit', (code) => reject(new Error(`child exited (${code}) before saying ${word}: ${err}`)));
    });
  }

  const killed = (proc: ChildProcessWithoutNullStreams): Promise<void> =>
    new Promise((resolve) => {
      proc.removeAllListeners('exit');
      proc.on('exit', () => resolve());
      proc.kill('SIGKILL');
    });

  it('creates its schema in an empty file, and opens it again as it is', async () => {
    writeFileSync(file, '');
    const store = open();
    expect(raw(file, (db) => db.pragma('user_version', { simple: true }))).toBe(HISTORY_SCHEMA_VERSION);
    const tables = raw(file, (db) => db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all());
    expect(tables).toEqual(expect.arrayContaining(['call_ids', 'calls', 'day_stats', 'days', 'failures', 'fetches', 'parties']));
    await commit(store, calls('a', 10));
    await store.close();
    const again = open();
    expect(await heldIds(again)).toHaveLength(10);
    expect(raw(file, (db) => db.pragma('user_version', { simple: true }))).toBe(HISTORY_SCHEMA_VERSION);
  });

  it('refuses a file whose schema is newer than it knows, naming the file and both versions, and leaves it as it was', () => {
    raw(file, (db) => db.pragma(`user_version = ${HISTORY_SCHEMA_VERSION + 1}`));
    let error: unknown;
    try {
      SqliteHistoryStore.open(file, ZONE);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain(file);
    expect(message).toContain(`version ${HISTORY_SCHEMA_VERSION + 1}`);
    expect(message).toContain(`newer than ${HISTORY_SCHEMA_VERSION}`);
    expect(raw(file, (db) => db.pragma('user_version', { simple: true }))).toBe(HISTORY_SCHEMA_VERSION + 1);
    expect(raw(file, (db) => db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get())).toBe(0);
  });

  it('runs in WAL mode, and a large commit leaves no large WAL behind', async () => {
    const store = open();
    expect(raw(file, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
    await commit(store, calls('big', 60_000));
    expect(existsSync(`${file}-wal`)).toBe(true);
    // A commit of more than 50k rows checkpoints the WAL back to nothing.
    expect(statSync(`${file}-wal`).size).toBe(0);
    expect((await store.summary(0)).calls).toBe(60_000);
  });

  it('keeps the previous copy whole when the process receiving a response is killed, and the staged rows go at the next open', async () => {
    const first = calls('old', 300);
    const store = open();
    await commit(store, first);
    const proc = await child(
      `const staged = await store.stage(period);
       for (let i = 0; i < rows.length; i += 100) await staged.add(rows.slice(i, i + 100));
       say('staged');`,
      calls('new', 500),
      'staged',
    );
    // Staged by another live process: not seen, and not removed by an open meanwhile.
    expect(await heldIds(store)).toEqual(first.map((c) => c.callId).sort());
    const meanwhile = open();
    expect(staging(file)).toEqual({ files: 2, rows: 500 }); // this store's (empty) and the child's
    await meanwhile.close();
    await killed(proc);
    await store.close();
    const after = open();
    expect(await heldIds(after)).toEqual(first.map((c) => c.callId).sort());
    expect((await after.stats(dayQuery())).total).toBe(300);
    expect(staging(file)).toEqual({ files: 0, rows: 0 });
    // And the file takes the next copy as usual.
    await commit(after, calls('next', 50), periodOf(DAY), Date.parse('2024-03-11T00:00:00Z'));
    expect(await heldIds(after)).toHaveLength(50);
  });

  it('holds either the previous copy or the new one, whole, when the process is killed during its commit', async () => {
    const first = calls('old', 200);
    const second = calls('new', 30_000);
    const store = open();
    await commit(store, first);
    await store.close();
    const proc = await child(
      `const staged = await store.stage(period);
       for (let i = 0; i < rows.length; i += 1000) await staged.add(rows.slice(i, i + 1000));
       say('committing');
       await staged.commit(period.days.map((day) => ({ day, fetchedAt: Date.parse('2024-03-11T00:00:00Z'), sealed: true })));
       say('committed');`,
      second,
      'committing',
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await killed(proc);
    const after = open();
    const held = await heldIds(after);
    const stats = await after.stats(dayQuery());
    if (held.length === first.length) {
      expect(held).toEqual(first.map((c) => c.callId).sort());
    } else {
      expect(held).toEqual(second.map((c) => c.callId).sort());
    }
    expect(stats.total).toBe(held.length);
    expect((await after.summary(0)).calls).toBe(held.length);
    expect(staging(file)).toEqual({ files: 0, rows: 0 });
  });

  it('drops what a store of this thread staged and never committed, and keeps another live store\'s stage, at an open', async () => {
    const store = open();
    await commit(store, calls('old', 20));
    const staged = await store.stage(periodOf(DAY));
    await staged.add(calls('new', 30));
    // Another store of this thread opened meanwhile keeps the live stage: it still commits.
    const other = open();
    expect(staging(file)).toEqual({ files: 1, rows: 30 });
    await staged.commit([{ day: DAY, fetchedAt: Date.parse('2024-03-11T00:00:00Z'), sealed: true }]);
    expect(await heldIds(other)).toHaveLength(30);
    expect(staging(file)).toEqual({ files: 1, rows: 0 });
    // A stage whose store is gone (closed here; a crash leaves its file behind, see above) is dropped.
    const left = await other.stage(periodOf(DAY));
    await left.add(calls('lost', 40));
    expect(staging(file)).toEqual({ files: 2, rows: 40 });
    await other.close();
    await store.close();
    const after = open();
    expect(await heldIds(after)).toHaveLength(30);
    expect(staging(file)).toEqual({ files: 0, rows: 0 });
    await expect(left.commit([{ day: DAY, fetchedAt: 1, sealed: true }])).rejects.toThrow();
  });

  describe('query plans', () => {
    /** The SQL a fresh store prepares while answering, with the plan SQLite picks for each. */
    async function plans(ask: (store: SqliteHistoryStore) => Promise<unknown>): Promise<Array<{ sql: string; plan: string[] }>> {
      const store = open();
      await commit(store, calls('p', 3000), periodOf(DAY, 3));
      const prepared: string[] = [];
      const prepare = Database.prototype.prepare;
      const fresh = SqliteHistoryStore.open(file, ZONE);
      opened.push(fresh);
      Database.prototype.prepare = function (this: Database.Database, source: string) {
        prepared.push(source);
        return prepare.call(this, source);
      } as typeof prepare;
      try {
        await ask(fresh);
      } finally {
        Database.prototype.prepare = prepare;
      }
      return raw(file, (db) =>
        prepared
          .filter((sql) => /\bFROM calls\b/.test(sql))
          .map((sql) => {
            const named = Object.fromEntries([...sql.matchAll(/@(\w+)/g)].map((m) => [m[1] as string, 0]));
            const positional = [...sql.matchAll(/\?/g)].map(() => 0);
            const statement = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
            const rows = (Object.keys(named).length ? statement.all(named) : statement.all(...positional)) as Array<{ detail: string }>;
            return { sql, plan: rows.map((r) => r.detail) };
          }),
      );
    }

    const fullScans = (found: Array<{ plan: string[] }>): string[] => found.flatMap((p) => p.plan).filter((d) => /^SCAN (calls|c)\b/.test(d));

    it('answers a period question (from mid-day, over whole days) from indexes and day totals, never scanning calls', async () => {
      const query: CallQuery = { from: startOfDay(DAY, ZONE) + 3_600_000, to: startOfDay(addDays(DAY, 3), ZONE), filter: {} };
      const found = await plans(async (store) => {
        const page = await store.page(query, null, 100);
        await store.page(query, { placedAt: page.calls[99]?.placedAt ?? 0, callId: page.calls[99]?.callId ?? '' }, 100);
        await store.stats(query);
      });
      expect(found.length).toBeGreaterThan(0);
      expect(fullScans(found)).toEqual([]);
      const details = found.flatMap((p) => p.plan);
      expect(details).toContainEqual(expect.stringMatching(/SEARCH calls USING (COVERING )?INDEX calls_placed \(placed_at>\? AND placed_at<\?\)/));
      expect(details).toContainEqual(expect.stringMatching(/SEARCH calls USING COVERING INDEX calls_placed/));
    });

    it('answers a clientId question from the client index, its totals without reading the table', async () => {
      const query: CallQuery = { from: startOfDay(DAY, ZONE), to: startOfDay(addDays(DAY, 3), ZONE), filter: { clientId: id(2) } };
      const found = await plans(async (store) => {
        await store.page(query, null, 100);
        await store.stats(query);
      });
      expect(fullScans(found)).toEqual([]);
      const details = found.flatMap((p) => p.plan);
      expect(details).toContainEqual(expect.stringMatching(/SEARCH calls USING (COVERING )?INDEX calls_client \(client=\? AND placed_at>\? AND placed_at<\?\)/));
      expect(details).toContainEqual(expect.stringMatching(/SEARCH calls USING COVERING INDEX calls_client/));
    });

    it('answers the other party filters from their indexes too', async () => {
      const filters = [
        { serviceUserId: id(11) },
        { onCallSpecialistId: id(31) },
        { specialistId: id(31) },
        { partyId: id(12) },
        { serviceId: id(21) },
        { serviceId: id(21), callResult: 'UNSUCCESSFUL' as const },
      ];
      const found = await plans(async (store) => {
        for (const filter of filters) {
          const query: CallQuery = { from: startOfDay(DAY, ZONE), to: startOfDay(addDays(DAY, 3), ZONE), filter };
          const page = await store.page(query, null, 10);
          const last = page.calls[page.calls.length - 1];
          await store.page(query, last ? { placedAt: last.placedAt, callId: last.callId } : null, 10);
          await store.stats(query);
        }
      });
      expect(fullScans(found)).toEqual([]);
    });
  });
});
