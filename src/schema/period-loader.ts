import DataLoader from 'dataloader';
import { type HistoryService, type PeriodAnswer, type PeriodQuery, periodQueryKey } from '../history/history-service.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The history questions of one GraphQL request (its fields, aliases and batched operations),
 * collected into one batch for the history core, and the means to wait until all of them are
 * answered: `quota` resolves after them, so one response never contradicts itself.
 */
export class PeriodLoader {
  private readonly loader: DataLoader<PeriodQuery, PeriodAnswer, string>;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(history: HistoryService) {
    this.loader = new DataLoader<PeriodQuery, PeriodAnswer, string>((keys) => history.answer(keys), {
      // Identical questions in one request share one key, so they are answered once.
      cacheKeyFn: periodQueryKey,
      // Waits a turn of the event loop, so the fields of every operation of a batch join in.
      batchScheduleFn: (callback) => setImmediate(callback),
    });
  }

  load(query: PeriodQuery): Promise<PeriodAnswer> {
    const answer = this.loader.load(query);
    const tracked = answer.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(tracked);
    void tracked.then(() => this.pending.delete(tracked));
    return answer;
  }

  /**
   * Resolves once every question this request has asked is answered, including those asked while
   * waiting. Fields resolved in the same turn ask theirs before the first wait ends.
   */
  async settled(): Promise<void> {
    await nextTurn();
    while (this.pending.size) {
      await Promise.all([...this.pending]);
      await nextTurn();
    }
  }
}
