import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import type { RequestLimits } from '../config.js';
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
  /** The work asked for by questions not yet sent to the history core, and by all so far. */
  private readonly asked = { days: 0, calls: 0 };
  private readonly sent = { days: 0, calls: 0 };

  constructor(history: HistoryService, limits: RequestLimits) {
    this.loader = new DataLoader<PeriodQuery, PeriodAnswer, string>((keys) => {
      this.sent.days += this.asked.days;
      this.sent.calls += this.asked.calls;
      this.asked.days = 0;
      this.asked.calls = 0;
      // The whole batch is refused before anything is fetched: no upstream call for a request too large.
      const refusal = tooLarge(this.sent, limits);
      return refusal ? Promise.resolve(keys.map(() => refusal)) : history.answer(keys);
    }, {
      // Identical questions in one request share one key, so they are answered once.
      cacheKeyFn: periodQueryKey,
      // Waits a turn of the event loop, so the fields of every operation of a batch join in.
      batchScheduleFn: (callback) => setImmediate(callback),
    });
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

/** REQUEST_TOO_LARGE when the work asked for passes a limit, naming the limit; null otherwise. */
function tooLarge(asked: { days: number; calls: number }, limits: RequestLimits): GraphQLError | null {
  const over = (what: string, setting: string, value: number, limit: number) =>
    new GraphQLError(`the request asks for ${value} ${what}, more than ${setting} (${limit}) allows; ask for fewer days, clients or calls per request`, {
      extensions: { code: 'REQUEST_TOO_LARGE', limit: setting, asked: value, allowed: limit },
    });
  if (asked.days > limits.maxDays) return over('days of history', 'REQUEST_MAX_DAYS', asked.days, limits.maxDays);
  if (asked.calls > limits.maxCalls) return over('calls in its pages', 'REQUEST_MAX_CALLS', asked.calls, limits.maxCalls);
  return null;
}

