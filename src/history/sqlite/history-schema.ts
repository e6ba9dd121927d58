/**
 * The schema of the history database (DATA_DIR/history.sqlite) and its forward migrations, keyed by
 * `PRAGMA user_version`.
 *
 * Why each index exists (every index costs ingest time: measured here, an index whose entries arrive
 * in time order costs ~0.5 µs a row, one in random order ~2-3 µs, against ~0.7 µs for the row):
 * - `calls_call_id` (UNIQUE): a CallID is held once, its newest copy winning; the commit's upsert
 *   needs it. The one index in random order, and the largest cost of a commit; unavoidable.
 * - `calls_placed` (placed_at, call_result, duration): history order of unfiltered and
 *   callResult-only pages, and covering for the totals of a period's partial first and last day
 *   and for recomputing `day_stats` without touching the table.
 * - `calls_fetch` (fetch_id): dropping a superseded or retired fetch with the calls it still holds.
 *   Appended in order (fetch ids grow), so nearly free.
 * - `calls_client`, `calls_service`, `calls_service_user`, `calls_specialist`
 *   (column, placed_at, call_result, duration): an equality filter walks its own index in history
 *   order (a page stops after `first` rows) and sums the covered result and duration (totals never
 *   read the table). Each is appended at one point per distinct value, so cheap to maintain.
 * - `calls_caller_undirected`, `calls_callee_undirected` (partial, WHERE specialist IS NULL): the
 *   caller-or-callee filters (specialistId, partyId). When the call's direction is known, its caller
 *   and callee are the service user and the derived specialist, both indexed above; only calls of
 *   unknown direction (about 2 %) need the caller and callee themselves. Full caller and callee
 *   indexes would cost ~1.5 µs a row for that.
 * No index on call_result: two values; its totals come from `day_stats`, its pages from `calls_placed`.
 * `staged` has no index at all: rows are appended as they arrive and read back once, in order.
 */
import type Database from 'better-sqlite3';

/** New files use 8 KiB pages: fewer pages per large commit and checkpoint (measured ~15% faster). */
export const HISTORY_PAGE_SIZE = 8192;

/**
 * Forward migrations: entry i takes the schema from version i to i + 1. Append only; never edit a
 * released entry.
 */
const MIGRATIONS: readonly string[] = [
  // 0 -> 1
  `
  -- Client, line and account IDs, each stored once: a call row holds small integers instead of
  -- five 36-character UUIDs. Rows are never updated or deleted, so an id once read stays true.
  CREATE TABLE parties (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE
  );

  -- One committed upstream response (its period's days, for operators).
  CREATE TABLE fetches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL
  );

  -- The newest copy of each day held, and the fetch that brought it.
  CREATE TABLE days (
    day TEXT PRIMARY KEY,
    fetch_id INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,
    sealed INTEGER NOT NULL CHECK (sealed IN (0, 1))
  ) WITHOUT ROWID;
  CREATE INDEX days_fetch ON days (fetch_id);

  CREATE TABLE failures (
    day TEXT PRIMARY KEY,
    until INTEGER NOT NULL,
    message TEXT NOT NULL,
    row_number INTEGER,
    column_name TEXT
  ) WITHOUT ROWID;

  -- Every call held, once per CallID. placed_at: callTime, or the start of the first day of the
  -- period that brought it. specialist: specialistOf(call), derived at commit. call_result: 1 or 2.
  CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    fetch_id INTEGER NOT NULL,
    placed_at INTEGER NOT NULL,
    call_time INTEGER,
    client INTEGER,
    service_user INTEGER,
    service INTEGER,
    caller INTEGER,
    callee INTEGER,
    specialist INTEGER,
    call_result INTEGER NOT NULL,
    duration INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX calls_call_id ON calls (call_id);
  CREATE INDEX calls_placed ON calls (placed_at, call_result, duration);
  CREATE INDEX calls_fetch ON calls (fetch_id);
  CREATE INDEX calls_client ON calls (client, placed_at, call_result, duration);
  CREATE INDEX calls_service ON calls (service, placed_at, call_result, duration);
  CREATE INDEX calls_service_user ON calls (service_user, placed_at, call_result, duration);
  CREATE INDEX calls_specialist ON calls (specialist, placed_at, call_result, duration);
  CREATE INDEX calls_caller_undirected ON calls (caller, placed_at) WHERE specialist IS NULL;
  CREATE INDEX calls_callee_undirected ON calls (callee, placed_at) WHERE specialist IS NULL;

  -- Totals of the calls placed in one local day, [start of the day, start of the next): day is the
  -- day's number (its wall-clock midnight / 86400000). Recomputed from calls_placed by every commit
  -- and retention for the days it touched, so long periods are summed from a row a day.
  CREATE TABLE day_stats (
    day INTEGER PRIMARY KEY,
    total INTEGER NOT NULL,
    successful INTEGER NOT NULL,
    duration INTEGER NOT NULL,
    successful_duration INTEGER NOT NULL
  );

  -- Responses being received: a stage's rows are invisible until its commit moves them into calls.
  -- owner names the process, thread and store instance, so that an open tells a crash's leftovers
  -- from another live connection's stage.
  CREATE TABLE stages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL
  );
  CREATE TABLE staged (
    stage INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    client INTEGER,
    service_user INTEGER,
    service INTEGER,
    call_time INTEGER,
    caller INTEGER,
    callee INTEGER,
    call_result INTEGER NOT NULL,
    duration INTEGER NOT NULL
  );

  -- Scratch of one commit: the UTC days (placed_at / 86400000) that a newer copy moved a call away
  -- from, so their day_stats are recomputed too. Emptied by the commit that fills it.
  CREATE TABLE moved_days (
    utc_day INTEGER PRIMARY KEY
  ) WITHOUT ROWID;
  CREATE TRIGGER calls_moved AFTER UPDATE OF placed_at ON calls
    WHEN old.placed_at / 86400000 <> new.placed_at / 86400000
    BEGIN
      INSERT OR IGNORE INTO moved_days (utc_day) VALUES (old.placed_at / 86400000);
    END;
  `,
];

export const HISTORY_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema of an open database to HISTORY_SCHEMA_VERSION in one immediate transaction
 * (all migrations apply, or none). Throws when the file's version is newer than this code knows:
 * an older server must not write a schema it does not understand.
 */
export function migrateHistorySchema(db: Database.Database, file: string): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `history database ${file} has schema version ${version}, newer than ${MIGRATIONS.length}, the latest this server knows: ` +
          'run a newer server, or move the file away (its history is then fetched again)',
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    if (version !== MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}
