import type { ServiceCall, ServiceCallFilter } from '../domain/service-call.js';
import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import type { PeriodKind } from '../time/day-night.js';
import { addDays, formatIsoWithOffset, type LocalDay, localDayOf, startOfDay } from '../time/zone.js';
import { UpstreamOutOfLimitError, UpstreamProtocolError, ValueConversionError } from '../upstream/errors.js';
import type { HistoryRequest } from '../upstream/history-request.js';
import { type CallSelection, selectCalls } from './call-selection.js';
import { type DayCoverage, daysOfPeriod, dayState, type PlannedCall, planFetches } from './fetch-planner.js';
import { QuotaExhaustedError, UndecodableHistoryError } from './history-errors.js';
import type { DayFailure, HistoryStore } from './history-store.js';
import type { QuotaLedger } from './quota-ledger.js';

/** Where calls come from: the 1C-Connect client, batches of rows as they are decoded. */
export interface HistorySource {
  /** `signal` aborts the call: the iteration then throws and nothing of it is kept. */
  history(request: HistoryRequest, signal?: AbortSignal): AsyncIterable<ServiceCall[]>;
}

export interface HistoryServiceOptions {
  store: HistoryStore;
  source: HistorySource;
  ledger: QuotaLedger;
  clock: Clock;
  zone: string;
  dayMaxDays: number;
  nightMaxDays: number;
  settleHours: number;
  /** How long (ms) days whose complete response could not be decoded are not asked for again. */
  failedRetryMs: number;
  logger?: Logger;
}

/** One question of a GraphQL request: a period, how old a copy it accepts, and a filter. */
export interface PeriodQuery {
  /** Epoch ms, [from, to): calls answered (callTime) in this period. */
  from: number;
  to: number;
  maxAgeMs: number;
  filter: ServiceCallFilter;
}

export interface PeriodAnswer extends CallSelection {
  /** When the oldest copy of the days used was fetched. */
  asOf: number;
  /** Some day used is older than the query accepts, because no upstream call could be made. */
  stale: boolean;
}

/** One string per distinct question: identical questions share it. */
export function periodQueryKey(q: PeriodQuery): string {
  const f = q.filter;
  return [q.from, q.to, q.maxAgeMs, f.clientId, f.serviceUserId, f.serviceId, f.specialistId, f.callResult, f.partyId, f.onCallSpecialistId]
    .map((v) => v ?? '')
    .join('|');
}

const HOUR = 3_600_000;
const SELECTION_CACHE_SIZE = 128;
const SELECTION_CACHE_CALLS = 1_000_000;

/** Serialises the short sections that read coverage and claim days, so two requests never claim the same day. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const inForce = (failure: DayFailure | undefined, now: number): failure is DayFailure => failure !== undefined && failure.until > now;

/**
 * The process-wide history core: answers period questions from the store and fetches only the days
 * that are missing or too old, in the fewest upstream calls the quota allows. Identical fetches in
 * progress are shared (single flight, per day).
 */
export class HistoryService {
  private readonly inFlight = new Map<LocalDay, Promise<void>>();
  /** Aborts every upstream call in flight (shutdown past its time limit). */
  private readonly aborting = new AbortController();
  private readonly lock = new Mutex();
  /** Answers of recent questions; any commit may change any answer, so a commit clears them. */
  private readonly selections = new Map<string, CallSelection>();
  private selectedCalls = 0;

  constructor(private readonly options: HistoryServiceOptions) {}

  private dayOf = (instant: number): LocalDay => localDayOf(instant, this.options.zone);

  /** Answers a batch of questions with at most one plan of upstream calls for all of them. */
  async answer(queries: readonly PeriodQuery[]): Promise<Array<PeriodAnswer | Error>> {
    // The answer is as of the moment it was asked: a day that begins while an upstream call is
    // under way (midnight) stays in the future for this answer, as it was when the call was planned.
    const asked = this.options.clock.now();
    const needs = new Map<LocalDay, number>();
    const daysByQuery = queries.map((q) => daysOfPeriod(q.from, q.to, this.dayOf));
    queries.forEach((q, i) => {
      for (const day of daysByQuery[i] as LocalDay[]) needs.set(day, Math.min(needs.get(day) ?? Infinity, q.maxAgeMs));
    });
    const failures = await this.ensure(needs, asked);
    const coverage = await this.options.store.coverage([...needs.keys()]);
    return Promise.all(
      queries.map(async (query, i) => {
        const days = daysByQuery[i] as LocalDay[];
        let asOf = Number.POSITIVE_INFINITY;
        let stale = false;
        for (const day of days) {
          const state = dayState(day, coverage.get(day), query.maxAgeMs, asked, this.options.zone);
          if (state === 'future') continue;
          if (state === 'missing') {
            // Every day not fetched has its reason recorded; anything else is a bug, not a quota matter.
            return failures.get(day) ?? new Error(`history day ${day} is missing without a recorded failure`);
          }
          if (state === 'stale') stale = true;
          asOf = Math.min(asOf, (coverage.get(day) as DayCoverage).fetchedAt);
        }
        const selection = await this.select(query);
        return { ...selection, asOf: Number.isFinite(asOf) ? asOf : asked, stale };
      }),
    );
  }

  /** Waits for every upstream call in progress: used at shutdown so none is left half-recorded. */
  async drain(): Promise<void> {
    await Promise.allSettled([...new Set(this.inFlight.values())]);
  }

  /**
   * Aborts every upstream call in flight and any started later: nothing of them is kept (their
   * quota is spent all the same). For shutdown past its time limit; `drain()` then settles at once.
   */
  abort(): void {
    this.aborting.abort(new Error('the server is shutting down'));
  }

  private async select(query: PeriodQuery): Promise<CallSelection> {
    const key = periodQueryKey({ ...query, maxAgeMs: 0 });
    const cached = this.selections.get(key);
    if (cached) {
      this.selections.delete(key);
      this.selections.set(key, cached);
      return cached;
    }
    const selection = selectCalls(await this.options.store.callsBetween(query.from, query.to), query.filter);
    this.selections.set(key, selection);
    this.selectedCalls += selection.calls.length;
    // Bounded by entries and by the calls they hold together, oldest use first out.
    while (this.selections.size > SELECTION_CACHE_SIZE || this.selectedCalls > SELECTION_CACHE_CALLS) {
      const [oldest, dropped] = this.selections.entries().next().value as [string, CallSelection];
      this.selections.delete(oldest);
      this.selectedCalls -= dropped.calls.length;
    }
    return selection;
  }

  private forgetSelections(): void {
    this.selections.clear();
    this.selectedCalls = 0;
  }

  private maxDaysPerCall(kind: PeriodKind): number {
    return kind === 'DAY' ? this.options.dayMaxDays : this.options.nightMaxDays;
  }

  /**
   * Why these never-held days could not be fetched: the quota. Says when the calls they need fit the
   * limit together (not merely when one call frees up), so a retry at that time succeeds.
   */
  private quotaExhausted(days: readonly LocalDay[], coverage: ReadonlyMap<LocalDay, DayCoverage>, upstreamCode?: string): QuotaExhaustedError {
    const { ledger, clock, zone } = this.options;
    const now = clock.now();
    const needs = new Map(days.map((d) => [d, 0]));
    const callsFor = (kind: PeriodKind): number =>
      planFetches({ needs, coverage, now, zone, maxDaysPerCall: this.maxDaysPerCall(kind) }).length;
    const fitsAt = ledger.availableAt(callsFor);
    const fits = Number.isFinite(fitsAt);
    const at = fits ? fitsAt : ledger.availableAt(1);
    const retryAfterSeconds = Math.max(1, Math.ceil((at - now) / 1000));
    const kindNow = ledger.kindAt(now);
    const fitsIn = fits ? ledger.kindAt(fitsAt) : null;
    const callsNeeded = callsFor(fitsIn ?? kindNow);
    const when = formatIsoWithOffset(at, zone);
    let message: string;
    if (upstreamCode) {
      message = `1C-Connect refused the call with ${upstreamCode}; the ${callsNeeded} upstream call(s) this request needs fit from ${when} (in ${retryAfterSeconds} s)`;
    } else if (!fits) {
      message =
        `this request needs ${callsNeeded} more upstream calls, more than any hour allows (${ledger.limits.day} by day, ` +
        `${ledger.limits.night} at night): ask for fewer days, or retry from ${when} (in ${retryAfterSeconds} s): ` +
        'each retry fetches what the quota allows then';
    } else if (fitsIn === 'NIGHT' && kindNow === 'DAY' && callsFor('DAY') > ledger.limitAt(now)) {
      message =
        `this request needs ${callsFor('DAY')} more upstream calls, more than the daytime limit of ${ledger.limitAt(now)} an hour: ` +
        `they fit the night limit from ${when} (in ${retryAfterSeconds} s), or ask for fewer days`;
    } else {
      message = `the hourly quota of upstream calls is spent; the ${callsNeeded} call(s) this request needs fit from ${when} (in ${retryAfterSeconds} s)`;
    }
    return new QuotaExhaustedError({ retryAfterSeconds, upstreamCode, callsNeeded, fitsIn }, message);
  }

  private undecodable(failure: DayFailure): UndecodableHistoryError {
    return new UndecodableHistoryError(failure, Math.max(1, Math.ceil((failure.until - this.options.clock.now()) / 1000)));
  }

  /**
   * Makes sure each needed day is held and fresh enough, as far as the quota allows. Returns why the
   * days that could not be fetched were not.
   */
  private async ensure(needs: ReadonlyMap<LocalDay, number>, asked: number): Promise<Map<LocalDay, Error>> {
    const failures = new Map<LocalDay, Error>();
    if (await this.nothingToFetch(needs, asked)) return failures;
    const waits: Array<Promise<void>> = [];
    const waitFor = (days: readonly LocalDay[], fetch: Promise<void>): void => {
      waits.push(fetch.catch((error: Error) => days.forEach((d) => failures.set(d, error))));
    };
    await this.lock.run(async () => {
      const { store, ledger } = this.options;
      const days = [...needs.keys()];
      const coverage = await store.coverage(days);
      const failed = await store.failures(days);
      const now = this.options.clock.now();
      const own = new Map<LocalDay, number>();
      for (const [day, maxAge] of needs) {
        const running = this.inFlight.get(day);
        const failure = failed.get(day);
        if (running) waitFor([day], running);
        else if (inForce(failure, now)) {
          // Asking again would bring the same undecodable response: a held copy is served (stale
          // if old); a day never held fails with the decode error until the failure expires.
          if (!coverage.has(day)) failures.set(day, this.undecodable(failure));
        } else own.set(day, maxAge);
      }
      const plan = planFetches({ needs: own, coverage, now, zone: this.options.zone, maxDaysPerCall: this.maxDaysPerCall(ledger.kindAt(now)) });
      const required = plan.filter((c) => c.required);
      const refreshes = plan.filter((c) => !c.required);

      // Days never held come first: each call made is kept, so a refused remainder costs less on retry.
      const toMake: PlannedCall[] = [];
      const refused: LocalDay[] = [];
      for (const call of required) {
        if (ledger.tryAcquire()) toMake.push(call);
        else refused.push(...call.days.filter((d) => !coverage.has(d)));
      }
      if (refused.length) {
        // While an OUT_OF_LIMIT holds calls back, the upstream's refusal is still the reason.
        const error = this.quotaExhausted(refused, coverage, ledger.state().blockedUntil ? 'OUT_OF_LIMIT' : undefined);
        for (const day of refused) failures.set(day, error);
      }
      // Refreshing stale copies only when the whole answer can be given; otherwise they are served stale.
      if (toMake.length === required.length) {
        for (const call of refreshes) if (ledger.tryAcquire()) toMake.push(call);
      }
      for (const call of toMake) waitFor(call.days, this.startFetch(call, now));
    });
    await Promise.all(waits);
    return failures;
  }

  /** The common case of a held, fresh period: answered without queueing behind other requests. */
  private async nothingToFetch(needs: ReadonlyMap<LocalDay, number>, asked: number): Promise<boolean> {
    const coverage = await this.options.store.coverage([...needs.keys()]);
    for (const [day, maxAge] of needs) {
      const state = dayState(day, coverage.get(day), maxAge, asked, this.options.zone);
      if (state === 'missing' || state === 'stale') return false;
    }
    return true;
  }

  private startFetch(call: PlannedCall, startedAt: number): Promise<void> {
    const fetch = this.fetch(call, startedAt).finally(() => {
      for (const day of call.days) if (this.inFlight.get(day) === fetch) this.inFlight.delete(day);
    });
    for (const day of call.days) this.inFlight.set(day, fetch);
    return fetch;
  }

  private async fetch(call: PlannedCall, startedAt: number): Promise<void> {
    const { store, source, ledger, zone, settleHours } = this.options;
    const staged = await store.stage(call);
    const days = { first: call.days[0], last: call.days[call.days.length - 1] };
    let rows = 0;
    try {
      this.aborting.signal.throwIfAborted();
      for await (const batch of source.history({ periodFrom: call.from, periodTo: call.to }, this.aborting.signal)) {
        rows += batch.length;
        await staged.add(batch);
      }
      this.options.logger?.info('upstream call completed', { ...days, rows, ms: this.options.clock.now() - startedAt });
    } catch (error) {
      await staged.discard();
      this.options.logger?.warn('upstream call failed; nothing of it was kept', {
        ...days,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      if (error instanceof UpstreamOutOfLimitError) {
        ledger.blockAfterOutOfLimit();
        const coverage = await store.coverage(call.days);
        const missing = call.days.filter((d) => !coverage.has(d));
        throw this.quotaExhausted(missing.length ? missing : call.days, coverage, error.resultCode);
      }
      if (error instanceof UpstreamProtocolError && error.complete) {
        // The same request would bring the same response: its days wait before they are asked again.
        const failure: DayFailure = {
          until: this.options.clock.now() + this.options.failedRetryMs,
          message: error.message,
          row: error instanceof ValueConversionError ? error.row : null,
          column: error instanceof ValueConversionError ? error.column : null,
        };
        await this.lock.run(() => store.markFailed(call.days, failure));
        this.options.logger?.warn('upstream response cannot be decoded; its days are not asked for again until the failure expires', {
          ...days,
          until: new Date(failure.until).toISOString(),
        });
        throw this.undecodable(failure);
      }
      throw error;
    }
    // A copy taken when the day had long ended cannot change any more.
    const settleMs = settleHours * HOUR;
    await this.lock.run(async () => {
      const { duplicateRows } = await staged.commit(
        call.days.map((day) => ({
          day,
          fetchedAt: startedAt,
          sealed: startedAt >= startOfDay(addDays(day, 1), zone) + settleMs,
        })),
      );
      this.forgetSelections();
      if (duplicateRows) {
        // Not silent: the upstream listed some CallIDs more than once; each is counted once.
        this.options.logger?.warn('upstream listed calls more than once; each CallID is counted once, its first row kept', {
          ...days,
          duplicateRows,
        });
      }
    });
  }
}
