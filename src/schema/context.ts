import type { Settings } from '../config.js';
import type { HistoryService } from '../history/history-service.js';
import type { QuotaAuthority } from '../history/quota-authority.js';
import type { Clock } from '../time/clock.js';
import type { PeriodLoader } from './period-loader.js';

/** What every resolver of one GraphQL request can reach. */
export interface GraphQLContext {
  settings: Settings;
  clock: Clock;
  /** The upstream quota: this process's ledger, or the one replicas share. */
  quota: QuotaAuthority;
  history: HistoryService;
  /** Per request: every period question of the request goes to the history core in one batch. */
  periods: PeriodLoader;
}
