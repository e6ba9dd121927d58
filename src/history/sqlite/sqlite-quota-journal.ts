import Database from 'better-sqlite3';
import { migrateSchema } from './schema-migrations.js';
import type { UpstreamOutcome } from '../history-events.js';
import {
  checkedNightMaxDays,
  JOURNAL_KEEP_MS,
  type JournalCall,
  type LedgerOutcome,
  type QuotaJournal,
  QuotaJournalError,
} from '../quota-journal.js';

const HOUR = 3_600_000;

const OUTCOMES: readonly LedgerOutcome[] = ['pending', 'ok', 'out_of_limit', 'refused', 'undecodable', 'unavailable', 'aborted'];

/**
 * Forward migrations: entry i takes the schema from version i to i + 1 (`PRAGMA user_version`).
 * Append only; never edit a released entry.
 */
const MIGRATIONS: readonly string[] = [
  // 0 -> 1: the calls (AUTOINCREMENT: an id is never reused after a prune) and the one-row block.
  `CREATE TABLE calls (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     outcome TEXT NOT NULL DEFAULT 'pending' CHECK (outcome IN (${OUTCOMES.map((o) => `'${o}'`).join(', ')}))
   );
   CREATE INDEX calls_at ON calls (at);
   CREATE TABLE block (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     until INTEGER NOT NULL
   );`,
  // 1 -> 2: values learnt about the upstream that must survive a restart, by name
  // ('night_max_days': the night period cap, see QuotaJournal.nightMaxDays).
  `CREATE TABLE remembered (
     name TEXT PRIMARY KEY,
     value INTEGER NOT NULL
   ) STRICT;`,
];

const NIGHT_MAX_DAYS = 'night_max_days';

export const QUOTA_JOURNAL_VERSION = MIGRATIONS.length;

export interface SqliteQuotaJournalOptions {
  /** How long a write waits for another connection's write lock (ms). */
  busyTimeoutMs?: number;
  /** The time of the prune at open (calls older than a day are deleted). */
  now?: () => number;
}

/**
 * The quota journal in its own SQLite file (DATA_DIR/quota.sqlite), apart from the history database:
 * a long history commit in the ingest worker never makes a quota check wait for its write lock.
 * WAL with `synchronous = FULL`: a recorded call survives a power cut, since it is the quota. Every
 * write is one short immediate transaction. Calls are kept a day (for operators) and pruned at open
 * and, as calls are recorded, at most once an hour. A night period cap learnt from the upstream is
 * kept in `remembered`, written like the block.
 */
export class SqliteQuotaJournal implements QuotaJournal {
  private lastPrune = Number.NEGATIVE_INFINITY;
  private readonly insertCall: Database.Statement<[number]>;
  private readonly deleteBefore: Database.Statement<[number]>;
  private readonly settleCall: Database.Statement<[string, number]>;
  private readonly upsertBlock: Database.Statement<[number]>;
  private readonly selectCalls: Database.Statement<[number], JournalCall>;
  private readonly selectBlock: Database.Statement<[], { until: number }>;
  private readonly upsertRemembered: Database.Statement<[string, number]>;
  private readonly selectRemembered: Database.Statement<[string], { value: number }>;
  private readonly recordTx: (at: number) => number;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {
    this.insertCall = db.prepare('INSERT INTO calls (at) VALUES (?)');
    this.deleteBefore = db.prepare('DELETE FROM calls WHERE at < ?');
    this.settleCall = db.prepare("UPDATE calls SET outcome = ? WHERE id = ? AND outcome = 'pending'");
    this.upsertBlock = db.prepare('INSERT INTO block (id, until) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET until = max(until, excluded.until)');
    this.selectCalls = db.prepare('SELECT id, at, outcome FROM calls WHERE at > ? ORDER BY at, id');
    this.selectBlock = db.prepare('SELECT until FROM block WHERE id = 1');
    this.upsertRemembered = db.prepare('INSERT INTO remembered (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
    this.selectRemembered = db.prepare('SELECT value FROM remembered WHERE name = ?');
    const record = db.transaction((at: number): number => {
      if (at - this.lastPrune >= HOUR) {
        this.deleteBefore.run(at - JOURNAL_KEEP_MS);
        this.lastPrune = at;
      }
      return Number(this.insertCall.run(at).lastInsertRowid);
    });
    this.recordTx = (at) => record.immediate(at);
  }

  /**
   * Opens (creating it when missing) the journal file and migrates its schema forward in one
   * transaction. Throws a QuotaJournalError when the file has a newer schema than this code knows.
   */
  static open(file: string, options: SqliteQuotaJournalOptions = {}): SqliteQuotaJournal {
    const db = new Database(file);
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 2000))}`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw new QuotaJournalError(`quota journal ${file}: journal_mode is ${mode}, not wal`);
      db.pragma('synchronous = FULL');
      db.pragma('journal_size_limit = 1048576');
      // One server per DATA_DIR: the ledger reads the journal only at start, so a second live server
      // on it would allow the whole limit again. The first write (the migration transaction below)
      // takes an OS file lock that this connection keeps until it closes or the process dies; a
      // second server's open then fails with SQLITE_BUSY after busy_timeout.
      db.pragma('locking_mode = EXCLUSIVE');
      migrateSchema(
        db,
        MIGRATIONS,
        (version, latest) =>
          new QuotaJournalError(
            `quota journal ${file} has schema version ${version}, newer than ${latest}, the latest this server knows: ` +
              'run a newer server, or move the file away (its calls then no longer count)',
          ),
      );
      const journal = new SqliteQuotaJournal(db, file);
      journal.prune((options.now ?? Date.now)() - JOURNAL_KEEP_MS);
      return journal;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  load(since: number): { calls: JournalCall[]; blockedUntil: number } {
    // One read transaction: the calls and the block from the same snapshot.
    return this.db.transaction(() => ({
      calls: this.selectCalls.all(since),
      blockedUntil: this.selectBlock.get()?.until ?? 0,
    }))();
  }

  record(at: number): number {
    return this.recordTx(Math.trunc(at));
  }

  settle(id: number, outcome: UpstreamOutcome): boolean {
    return this.db.transaction(() => this.settleCall.run(outcome, id).changes === 1).immediate();
  }

  block(until: number): void {
    this.db.transaction(() => this.upsertBlock.run(Math.trunc(until))).immediate();
  }

  prune(before: number): void {
    this.db.transaction(() => this.deleteBefore.run(Math.trunc(before))).immediate();
  }

  nightMaxDays(): number | null {
    return this.selectRemembered.get(NIGHT_MAX_DAYS)?.value ?? null;
  }

  rememberNightMaxDays(days: number): void {
    const value = checkedNightMaxDays(days);
    this.db.transaction(() => this.upsertRemembered.run(NIGHT_MAX_DAYS, value)).immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
