import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../config.js';
import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import { ConnectClient } from '../upstream/connect-client.js';
import type { HistoryEvents } from './history-events.js';
import { type HistoryIngest, type HistorySource, InProcessIngest } from './history-ingest.js';
import { HistoryService } from './history-service.js';
import type { HistoryStore } from './history-store.js';
import { MemoryHistoryStore } from './memory-history-store.js';
import { QuotaLedger } from './quota-ledger.js';
import { lockDataDir } from './sqlite/data-dir-lock.js';
import { SqliteHistoryStore } from './sqlite/sqlite-history-store.js';
import { SqliteQuotaJournal } from './sqlite/sqlite-quota-journal.js';
import { WorkerIngest } from './sqlite/worker-ingest.js';

export interface History {
  history: HistoryService;
  ledger: QuotaLedger;
  store: HistoryStore;
  /** Stops the writer and closes the store and the ledger's journal; call after `history.drain()`. */
  close(): Promise<void>;
}

/** DATA_DIR or one of its files cannot be opened: start-up stops with this, naming the variable. */
export class StoreOpenError extends Error {
  readonly variable = 'DATA_DIR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
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
  const rules = { zone: c.timeZone, dayHours: c.dayHours, dayLimit: c.dayLimit, nightLimit: c.nightLimit };

  let store: HistoryStore;
  let ledger: QuotaLedger;
  let ingest: HistoryIngest;
  let journal: SqliteQuotaJournal | undefined;
  let unlock = (): void => undefined;
  if (settings.store === 'memory') {
    store = new MemoryHistoryStore(c.timeZone);
    ledger = new QuotaLedger(rules, clock);
    ingest = new InProcessIngest(options.source ?? client(), store);
  } else {
    const files = dataFiles(settings.dataDir);
    try {
      mkdirSync(settings.dataDir, { recursive: true });
      unlock = lockDataDir(settings.dataDir);
      journal = SqliteQuotaJournal.open(files.quota);
      ledger = new QuotaLedger(rules, clock, {
        journal,
        onJournalError: (error) => options.logger?.error('the quota journal failed to store an outcome or block', { error: error.message }),
      });
      store = SqliteHistoryStore.open(files.history, c.timeZone);
    } catch (error) {
      journal?.close();
      unlock();
      const reason = error instanceof Error ? error.message : String(error);
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
  const history = new HistoryService({
    store,
    ingest,
    ledger,
    clock,
    zone: c.timeZone,
    dayMaxDays: c.dayMaxDays,
    nightMaxDays: c.nightMaxDays,
    settleHours: settings.cacheSettleHours,
    failedRetryMs: settings.failedRetrySeconds * 1000,
    logger: options.logger,
    events: options.events,
  });
  return {
    history,
    ledger,
    store,
    async close() {
      await ingest.close();
      await store.close();
      ledger.close();
      unlock();
    },
  };
}
