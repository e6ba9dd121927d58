import type { Settings } from '../config.js';
import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import { HistoryService, type HistorySource } from './history-service.js';
import { MemoryHistoryStore } from './memory-history-store.js';
import { QuotaLedger } from './quota-ledger.js';

/** The history core as the settings describe it: store, quota ledger and the service over them. */
export function createHistory(
  settings: Settings,
  source: HistorySource,
  clock: Clock,
  logger?: Logger,
): { history: HistoryService; ledger: QuotaLedger } {
  const c = settings.connect;
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
    logger,
  });
  return { history, ledger };
}
