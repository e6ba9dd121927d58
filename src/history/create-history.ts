import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Settings } from '../config.js';
import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import { ConnectClient } from '../upstream/connect-client.js';
import type { HistoryEvents } from './history-events.js';
import { type HistoryIngest, type HistorySource, InProcessIngest } from './history-ingest.js';
import { HistoryService, type HistoryServiceOptions } from './history-service.js';
import type { HistoryStore } from './history-store.js';
import { MemoryHistoryStore } from './memory-history-store.js';
import { LocalQuota, type QuotaAuthority } from './quota-authority.js';
import { QuotaLedger, type QuotaRules } from './quota-ledger.js';
import { SqliteHistoryStore } from './sqlite/sqlite-history-store.js';
import { SqliteQuotaJournal } from './sqlite/sqlite-quota-journal.js';
import { WorkerIngest } from './sqlite/worker-ingest.js';

export interface History {
  history: HistoryService;
  /** Where an upstream call is allowed or refused (this process's ledger here). */
  quota: QuotaAuthority;
  store: HistoryStore;
  /** False while a shared store (Redis) is unreachable: /ready answers 503. Absent: always ready. */
  ready?: () => boolean;
  /** Stops the writer and closes the store and the ledger's journal; call after `history.drain()`. */
  close(): Promise<void>;
}

/** DATA_DIR or one of its files cannot be opened: start-up stops with this, naming the variable. */
export class StoreOpenError extends Error {
  /** The setting to look at: DATA_DIR, or REDIS_URL for the shared store. */
  readonly variable: 'DATA_DIR' | 'REDIS_URL';
  constructor(message: string, options?: { cause?: unknown; variable?: 'DATA_DIR' | 'REDIS_URL' }) {
    super(message, options);
    this.name = 'StoreOpenError';
    this.variable = options?.variable ?? 'DATA_DIR';
  }
}

/** Runs `open`, naming the file in what it throws (SQLite's own messages do not: "file is not a database"). */
function inFile<T>(file: string, open: () => T): T {
  try {
    return open();
  } catch (error) {
    if (error instanceof Error && !error.message.includes(file)) error.message = `${file}: ${error.message}`;
    throw error;
  }
}

/**
 * Creates DATA_DIR and its missing parents one level at a time: Node 20's recursive mkdirSync never
 * returns for a path under /proc. A path that exists and is not a directory is refused by name.
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  let current = resolve(dir);
  while (!existsSync(current)) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  if (!missing.length && !statSync(current).isDirectory()) throw new Error(`${dir} is not a directory`);
  for (const level of missing) mkdirSync(level);
}

/** What the history service takes from the settings, whatever its store and quota. */
export function serviceSettings(settings: Settings) {
  const c = settings.connect;
  return {
    zone: c.timeZone,
    dayMaxDays: c.dayMaxDays,
    nightMaxDays: c.nightMaxDays,
    settleHours: settings.cacheSettleHours,
    failedRetryMs: settings.failedRetrySeconds * 1000,
    concurrency: settings.economy.concurrency,
    backfillDays: settings.economy.backfillDays,
    maxCallsPerRequest: settings.economy.maxCallsPerRequest,
    apiKeys: settings.apiKeys.length,
    refreshFloorMs: settings.cacheMaxAgeSeconds * 1000,
  } satisfies Partial<HistoryServiceOptions>;
}

/** The quota rules of the settings (limits, day hours, the reserve). */
export function quotaRules(settings: Settings): QuotaRules {
  const c = settings.connect;
  return { zone: c.timeZone, dayHours: c.dayHours, dayLimit: c.dayLimit, nightLimit: c.nightLimit, reserve: settings.economy.reserve };
}

/** The files of the SQLite store in DATA_DIR. */
export const dataFiles = (dataDir: string) => ({ history: join(dataDir, 'history.sqlite'), quota: join(dataDir, 'quota.sqlite') });

/**
 * The history core as the settings describe it: store, quota ledger, writer and the service over
 * them, fetching from the 1C-Connect endpoint of the settings unless another source is given.
 *
 * With STORE=sqlite (the default) history and ledger live in DATA_DIR (created if missing), and the
 * upstream calls are made, decoded and committed by a worker thread (`ingest: 'worker'`); tests may
 * ask for `ingest: 'in-process'`, and a given `source` always runs in-process.
 */
export function createHistory(
  settings: Settings,
  clock: Clock,
  options: { logger?: Logger; source?: HistorySource; events?: HistoryEvents; ingest?: 'worker' | 'in-process' } = {},
): History {
  const c = settings.connect;
  if (!options.source && !c.url) throw new Error('createHistory needs CONNECT_URL or a source');
  const client = (): ConnectClient =>
    new ConnectClient({ url: c.url as string, login: c.login, password: c.password, zone: c.timeZone, timeoutMs: c.timeoutMs });
  const rules = quotaRules(settings);

  let store: HistoryStore;
  let ledger: QuotaLedger;
  let ingest: HistoryIngest;
  let journal: SqliteQuotaJournal | undefined;
  if (settings.store === 'memory') {
    store = new MemoryHistoryStore(c.timeZone);
    ledger = new QuotaLedger(rules, clock);
    ingest = new InProcessIngest(options.source ?? client(), store);
  } else {
    const files = dataFiles(settings.dataDir);
    try {
      makeDirectory(settings.dataDir);
      journal = inFile(files.quota, () => SqliteQuotaJournal.open(files.quota));
      ledger = new QuotaLedger(rules, clock, {
        journal,
        onJournalError: (error) => options.logger?.error('the quota journal failed to store an outcome or block', { error: error.message }),
      });
      store = inFile(files.history, () => SqliteHistoryStore.open(files.history, c.timeZone));
    } catch (error) {
      journal?.close();
      const reason =
        (error as { code?: unknown }).code === 'SQLITE_BUSY'
          ? `${files.quota} is in use by another server (one server per DATA_DIR)`
          : error instanceof Error
            ? error.message
            : String(error);
      throw new StoreOpenError(`cannot open the SQLite store in ${settings.dataDir}: ${reason}`, { cause: error });
    }
    ingest =
      options.source || options.ingest === 'in-process'
        ? new InProcessIngest(options.source ?? client(), store)
        : new WorkerIngest({
            file: files.history,
            zone: c.timeZone,
            connect: { url: c.url as string, login: c.login, password: c.password, timeoutMs: c.timeoutMs },
          });
  }
  const quota = new LocalQuota(ledger);
  const history = new HistoryService({ ...serviceSettings(settings), store, ingest, ledger: quota, clock, logger: options.logger, events: options.events });
  return {
    history,
    quota,
    store,
    async close() {
      await ingest.close();
      await store.close();
      await quota.close();
    },
  };
}
