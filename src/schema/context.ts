import type DataLoader from 'dataloader';
import type { Settings } from '../config.js';
import type { HistoryService, PeriodAnswer, PeriodQuery } from '../history/history-service.js';
import type { QuotaLedger } from '../history/quota-ledger.js';
import type { Clock } from '../time/clock.js';

/** What every resolver of one GraphQL request can reach. */
export interface GraphQLContext {
  settings: Settings;
  clock: Clock;
  ledger: QuotaLedger;
  history: HistoryService;
  /** Per request: every period question of the request goes to the history core in one batch. */
  periods: DataLoader<PeriodQuery, PeriodAnswer, string>;
}
