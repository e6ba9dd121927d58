import type { Settings } from '../config.js';
import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import { ConnectClient } from '../upstream/connect-client.js';
import { HistoryService, type HistorySource } from './history-service.js';
import { MemoryHistoryStore } from './memory-history-store.js';
import { QuotaLedger } from './quota-ledger.js';

/**
 * The history core as the settings describe it: store, quota ledger and the service over them,
 * fetching from the 1C-Connect endpoint of the settings unless another source is given.
 */
export function createHistory(
  settings: Settings,
  clock: Clock,
  options: { logger?: Logger; source?: HistorySource } = {},
): { history: HistoryService; ledger: QuotaLedger } {
  const c = settings.connect;
  if (!options.source && !c.url) throw new Error('createHistory needs CONNECT_URL or a source');
  const source =
    options.source ??
    new ConnectClient({ url: c.url as string, login: c.login, password: c.password, zone: c.timeZone, timeoutMs: c.timeoutMs });
  const ledger = new QuotaLedger(
    { zone: c.timeZone, dayHours: c.dayHours, dayLimit: c.dayLimit, nightLimit: c.nightLimit },
    clock,
  );
  const history = new HistoryService({
    store: new MemoryHistoryStore(c.timeZone),
    source,
    ledger,
    clock,
    zone: c.timeZone,
    dayMaxDays: c.dayMaxDays,
    nightMaxDays: c.nightMaxDays,
    settleHours: settings.cacheSettleHours,
    failedRetryMs: settings.failedRetrySeconds * 1000,
    logger: options.logger,
  });
  return { history, ledger };
}
