/**
 * The schema of the history database (DATA_DIR/history.sqlite) and its forward migrations, keyed by
 * `PRAGMA user_version`.
 *
 * What each index costs and why it exists. Every b-tree entry written at commit costs ingest time;
 * measured here on 500k-row commits: ~1 µs a row for an index whose entries arrive in time order,
 * ~4 µs for one in random order (CallIDs are random UUIDs), against ~1 µs for the row itself.
 * - `call_ids` (a table, CallID -> calls.id): a CallID is held once, its newest copy winning. Kept
 *   apart from `calls` so the commit fills it in CallID order (one sort, then neighbouring inserts:
 *   ~2 µs a row) while `calls` and its indexes are filled in time order. A UNIQUE index on
 *   calls.call_id would take its entries in arrival order, at random.
 * - calls.id ranges instead of a fetch index: each commit numbers its rows from a fresh range kept in
 *   `fetches`, and a replaced copy is deleted rather than updated, so a fetch's calls are exactly its
 *   range: dropping it is a range delete on the table itself.
 * - `calls_placed` (placed_at, service, call_result, duration): history order of pages without a
 *   party filter, and covering for the totals of a period's partial first and last day and for
 *   recomputing `day_stats`. The service line rides along: a partner has a handful of lines, so
 *   serviceId totals come from `day_stats` and its pages from this index (the line is checked on the
 *   index entry) instead of an index of its own.
 * - `calls_client`, `calls_service_user`, `calls_specialist` (column, placed_at, call_result,
 *   duration): an equality filter walks its own index in history order (a page stops after `first`
 *   rows) and totals from the covered result and duration without reading the table.
 * - `calls_caller_undirected`, `calls_callee_undirected` (partial, WHERE specialist IS NULL): the
 *   caller-or-callee filters (specialistId, partyId). When a call's direction is known, its caller and
 *   callee are the service user and the derived specialist, both indexed above; only calls of unknown
 *   direction (about 2 %) need the caller and callee themselves, so these indexes stay small.
 * - `day_stats` (a table, per local day and line: calls, successes, durations): totals of long periods
 *   without a party filter, summed from a few rows a day; only a partial first or last day is summed
 *   from `calls_placed`.
 * No index on call_result (two values: `day_stats` and `calls_placed` answer it), none on `staged`
 * (rows are appended as they arrive and read back once, in order; see STAGING_SCHEMA).
 */
import type Database from 'better-sqlite3';
import { migrateSchema } from './schema-migrations.js';

/** New files (and staging files) use 8 KiB pages: half the pages and WAL frames of a large commit. */
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

  -- One committed upstream response: its period's days (for operators), and the range of calls.id
  -- its calls were numbered from (first_row..last_row; empty when last_row < first_row).
  CREATE TABLE fetches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    first_row INTEGER NOT NULL,
    last_row INTEGER NOT NULL
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

  -- Every call held, once per CallID (see call_ids). placed_at: callTime, or the start of the first
  -- day of the period that brought it. specialist: specialistOf(call), derived at commit. Party
  -- columns hold parties.id. call_result: 1 successful, 2 not.
  CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
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
  CREATE INDEX calls_placed ON calls (placed_at, service, call_result, duration);
  CREATE INDEX calls_client ON calls (client, placed_at, call_result, duration);
  CREATE INDEX calls_service_user ON calls (service_user, placed_at, call_result, duration);
  CREATE INDEX calls_specialist ON calls (specialist, placed_at, call_result, duration);
  CREATE INDEX calls_caller_undirected ON calls (caller, placed_at) WHERE specialist IS NULL;
  CREATE INDEX calls_callee_undirected ON calls (callee, placed_at) WHERE specialist IS NULL;

  -- The newest copy of each CallID: the calls row holding it.
  CREATE TABLE call_ids (
    call_id TEXT PRIMARY KEY,
    row INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Totals of the calls placed in one local day, [start of the day, start of the next), by line
  -- (service 0: none). day is the day's number (its wall-clock midnight / 86400000). Recomputed from
  -- calls_placed by every commit and retention for the days they touched, so long periods are summed
  -- from a few rows a day.
  CREATE TABLE day_stats (
    day INTEGER NOT NULL,
    service INTEGER NOT NULL,
    total INTEGER NOT NULL,
    successful INTEGER NOT NULL,
    duration INTEGER NOT NULL,
    successful_duration INTEGER NOT NULL,
    PRIMARY KEY (day, service)
  ) WITHOUT ROWID;

  -- Scratch of one write transaction: the UTC days (placed_at / 86400000) of the calls it deleted,
  -- whose day_stats it then recomputes. Emptied by the transaction that fills it.
  CREATE TABLE touched_days (
    utc_day INTEGER PRIMARY KEY
  ) WITHOUT ROWID;

  -- A newer copy of a CallID takes over: the older row goes.
  CREATE TRIGGER call_ids_replaced AFTER UPDATE OF row ON call_ids
    BEGIN
      DELETE FROM calls WHERE id = old.row;
    END;
  -- A call row goes (replaced, its fetch dropped, or a repeated row of one response): its day's totals
  -- are recomputed, and its CallID is forgotten unless a newer row holds it.
  CREATE TRIGGER calls_deleted AFTER DELETE ON calls
    BEGIN
      INSERT OR IGNORE INTO touched_days (utc_day) VALUES (old.placed_at / 86400000);
      DELETE FROM call_ids WHERE call_id = old.call_id AND row = old.id;
    END;
  `,
];

export const HISTORY_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The staging file of one store instance (next to the history file, deleted at close, or at a later
 * open when a crash left it): responses being received, row batch by row batch. Invisible to every
 * other connection, and kept out of the history file's WAL: staged rows are written once, never
 * checkpointed, and a crash cannot leave them in the history. Created fresh, so it has no versions.
 */
export const STAGING_SCHEMA = `
  CREATE TABLE IF NOT EXISTS staging.staged (
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
`;

/**
 * Brings the schema of an open database to HISTORY_SCHEMA_VERSION in one immediate transaction
 * (all migrations apply, or none). Throws when the file's version is newer than this code knows:
 * an older server must not write a schema it does not understand.
 */
export function migrateHistorySchema(db: Database.Database, file: string): void {
  migrateSchema(
    db,
    MIGRATIONS,
    (version, latest) =>
      new Error(
        `history database ${file} has schema version ${version}, newer than ${latest}, the latest this server knows: ` +
          'run a newer server, or move the file away (its history is then fetched again)',
      ),
  );
}
