import DataLoader from 'dataloader';
import type { RequestLimits } from '../config.js';
import { type HistoryService, type PeriodAnswer, type PeriodQuery, periodQueryKey, RequestBudget } from '../history/history-service.js';
import { type RequestWork, tooLarge } from './request-work.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The history questions of one GraphQL request (its fields, aliases and batched operations),
 * collected into one batch for the history core, and the means to wait until all of them are
 * answered: `quota` resolves after them, so one response never contradicts itself.
 */
export class PeriodLoader {
  private readonly loader: DataLoader<PeriodQuery, PeriodAnswer, string>;
  private readonly pending = new Set<Promise<unknown>>();
  /** The work asked for by questions not yet sent to the history core, and by all so far. */
  private readonly asked: RequestWork = { days: 0, calls: 0 };
  private readonly sent: RequestWork = { days: 0, calls: 0 };
  /** The work the request's operations planned before they ran (see request-work.ts). */
  private readonly planned: RequestWork = { days: 0, calls: 0, values: 0 };

  /** The upstream calls this request may still spend (MAX_CALLS_PER_REQUEST, the API key's share). */
  private readonly budget: RequestBudget;

  /** `apiKey`: a digest of the request's API key (never the key itself), for the key's share of the hour. */
  constructor(history: HistoryService, limits: RequestLimits, apiKey?: string) {
    this.budget = new RequestBudget(apiKey);
    this.loader = new DataLoader<PeriodQuery, PeriodAnswer, string>((keys) => {
      this.sent.days += this.asked.days;
      this.sent.calls += this.asked.calls;
      this.asked.days = 0;
      this.asked.calls = 0;
      // Counted again as the questions arrive, in case the plan missed some: the whole batch is
      // refused before anything is fetched.
      const refusal = tooLarge(this.sent, limits);
      return refusal ? Promise.resolve(keys.map(() => refusal)) : history.answer(keys, this.budget);
    }, {
      // Identical questions in one request share one key, so they are answered once.
      cacheKeyFn: periodQueryKey,
      // Waits a turn of the event loop, so the fields of every operation of a batch join in.
      batchScheduleFn: (callback) => setImmediate(callback),
    });
  }

  /** Adds an operation's planned work to the request's: the total, to be checked against the limits. */
  plan(work: RequestWork): RequestWork {
    this.planned.days += work.days;
    this.planned.calls += work.calls;
    this.planned.values = (this.planned.values ?? 0) + (work.values ?? 0);
    return { ...this.planned };
  }

  /**
   * Asks one question: `days` of history (the period's local days) and a page of up to `calls` calls.
   * Counted against the request's limits with every other question of the request.
   */
  load(query: PeriodQuery, cost: { days: number; calls: number }): Promise<PeriodAnswer> {
    this.asked.days += cost.days;
    this.asked.calls += cost.calls;
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
