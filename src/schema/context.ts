import type { Settings } from '../config.js';
import type { HistoryService } from '../history/history-service.js';
import type { QuotaLedger } from '../history/quota-ledger.js';
import type { Clock } from '../time/clock.js';
import type { PeriodLoader } from './period-loader.js';

/** What every resolver of one GraphQL request can reach. */
export interface GraphQLContext {
  settings: Settings;
  clock: Clock;
  ledger: QuotaLedger;
  history: HistoryService;
  /** Per request: every period question of the request goes to the history core in one batch. */
  periods: PeriodLoader;
}
