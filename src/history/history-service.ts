import type { ServiceCallFilter } from '../domain/service-call.js';
import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import type { PeriodKind } from '../time/day-night.js';
import { addDays, formatIsoWithOffset, type LocalDay, localDayOf, startOfDay } from '../time/zone.js';
import {
  ConnectError,
  UpstreamOutOfLimitError,
  UpstreamProtocolError,
  UpstreamUnavailableError,
  ValueConversionError,
} from '../upstream/errors.js';
import type { CallPosition, CallStats } from './call-selection.js';
import { type DayCoverage, daysOfPeriod, dayState, type PlannedCall, planFetches } from './fetch-planner.js';
import { type AnswerSource, type HistoryEvents, ignoredHistoryEvents, type UpstreamOutcome } from './history-events.js';
import { isStoreError, QuotaExhaustedError, StoreUnavailableError, UndecodableHistoryError } from './history-errors.js';
import type { HistoryIngest } from './history-ingest.js';
import type { CallPage, DayFailure, HistoryStore } from './history-store.js';
import type { LedgerTicket, QuotaLedger } from './quota-ledger.js';

export type { HistorySource } from './history-ingest.js';

export interface HistoryServiceOptions {
  /** Read by this thread: coverage, failures, pages and totals. */
  store: HistoryStore;
  /** The one writer of the store: fetches, decodes and commits upstream periods. */
  ingest: HistoryIngest;
  ledger: QuotaLedger;
  clock: Clock;
  zone: string;
  dayMaxDays: number;
  nightMaxDays: number;
  settleHours: number;
  /** How long (ms) days whose complete response could not be decoded are not asked for again. */
  failedRetryMs: number;
  logger?: Logger;
  events?: HistoryEvents;
}

/** One question of a GraphQL request: a period, how old a copy it accepts, and a filter. */
export interface PeriodQuery {
  /** Epoch ms, [from, to): calls answered (callTime) in this period. */
  from: number;
  to: number;
  maxAgeMs: number;
  filter: ServiceCallFilter;
}

/**
 * The answer to one question: how fresh its days are, and its calls, read from the store when asked
 * (a field that asks only for totals reads no page, and one that asks for a page computes no totals).
 */
export interface PeriodAnswer {
  /** When the oldest copy of the days used was fetched (epoch ms). */
  asOf: number;
  /** Some day used is older than the query accepts, because no upstream call could be made. */
  stale: boolean;
  /** Up to `first` calls strictly after `after`, in history order. */
  page(after: CallPosition | null, first: number): Promise<CallPage>;
  /** Totals over every call of the question. */
  stats(): Promise<CallStats>;
}

/** One string per distinct question: identical questions share it. */
export function periodQueryKey(q: PeriodQuery): string {
  const f = q.filter;
  return [q.from, q.to, q.maxAgeMs, f.clientId, f.serviceUserId, f.serviceId, f.specialistId, f.callResult, f.partyId, f.onCallSpecialistId]
    .map((v) => v ?? '')
    .join('|');
}

const HOUR = 3_600_000;
/** Totals and pages of recent questions kept: a dashboard asks the same ones again and again. */
const STATS_CACHE_SIZE = 512;
const PAGE_CACHE_SIZE = 256;
/** Days whose coverage is kept between commits (a year and then some). */
const COVERAGE_CACHE_DAYS = 4096;

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
  /** Totals of recent questions; any commit may change any of them, so a commit clears them. */
  private readonly statsCache = new Map<string, CallStats>();
  /** Pages of recent questions (by question, cursor and size); cleared with the totals. */
  private readonly pageCache = new Map<string, CallPage>();
  /** The store's coverage of recently asked days (null: not held); cleared with the totals. */
  private readonly coverageCache = new Map<LocalDay, DayCoverage | null>();
  /** Counts commits: totals computed while a commit landed are not kept. */
  private generation = 0;
  private readonly events: HistoryEvents;
  /** Set when a commit failed on the store's disk: no upstream call is made before then (epoch ms). */
  private storeFailed: { until: number; code: string | undefined } | null = null;

  constructor(private readonly options: HistoryServiceOptions) {
    this.events = options.events ?? ignoredHistoryEvents;
  }

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
    const { failures, fetched } = await this.ensure(needs, asked);
    const coverage = await this.coverage([...needs.keys()]);
    const sources = new Map<AnswerSource, number>();
    const answers = queries.map((query, i): PeriodAnswer | Error => {
      const days = daysByQuery[i] as LocalDay[];
      let asOf = Number.POSITIVE_INFINITY;
      let stale = false;
      for (const day of days) {
        const state = dayState(day, coverage.get(day), query.maxAgeMs, asked, this.options.zone);
        if (state === 'future') continue;
        if (state === 'missing') {
          sources.set('failed', (sources.get('failed') ?? 0) + 1);
          // Every day not fetched has its reason recorded; anything else is a bug, not a quota matter.
          return failures.get(day) ?? new Error(`history day ${day} is missing without a recorded failure`);
        }
        if (state === 'stale') stale = true;
        asOf = Math.min(asOf, (coverage.get(day) as DayCoverage).fetchedAt);
      }
      const source: AnswerSource = days.some((d) => fetched.has(d)) ? 'fetched' : 'held';
      sources.set(source, (sources.get(source) ?? 0) + 1);
      return this.answerOf(query, Number.isFinite(asOf) ? asOf : asked, stale);
    });
    for (const [source, count] of sources) this.events.answered(source, count);
    return answers;
  }

  private answerOf(query: PeriodQuery, asOf: number, stale: boolean): PeriodAnswer {
    const { from, to, filter } = query;
    const store = this.options.store;
    return {
      asOf,
      stale,
      page: (after, first) =>
        this.cached(this.pageCache, PAGE_CACHE_SIZE, `${periodQueryKey({ ...query, maxAgeMs: 0 })}|${after?.placedAt ?? ''}|${after?.callId ?? ''}|${first}`, () =>
          store.page({ from, to, filter }, after, first),
        ),
      stats: () => this.stats(query),
    };
  }

  private stats(query: PeriodQuery): Promise<CallStats> {
    const { from, to, filter } = query;
    return this.cached(this.statsCache, STATS_CACHE_SIZE, periodQueryKey({ ...query, maxAgeMs: 0 }), () => this.options.store.stats({ from, to, filter }));
  }

  /** An answer read from the store once per commit: the newest use kept, the oldest dropped first. */
  private async cached<T>(cache: Map<string, T>, size: number, key: string, read: () => Promise<T>): Promise<T> {
    const hit = cache.get(key);
    if (hit !== undefined) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const generation = this.generation;
    const value = await read();
    // Read while a commit landed, it may mix the two copies: served once, never kept.
    if (generation === this.generation) {
      cache.set(key, value);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
    }
    return value;
  }

  /** The store's coverage of these days, read once per commit. */
  private async coverage(days: readonly LocalDay[]): Promise<Map<LocalDay, DayCoverage>> {
    const result = new Map<LocalDay, DayCoverage>();
    const unknown = days.filter((day) => !this.coverageCache.has(day));
    const generation = this.generation;
    const read = unknown.length ? await this.options.store.coverage(unknown) : new Map<LocalDay, DayCoverage>();
    const keep = generation === this.generation && this.coverageCache.size + unknown.length <= COVERAGE_CACHE_DAYS;
    for (const day of unknown) if (keep) this.coverageCache.set(day, read.get(day) ?? null);
    for (const day of days) {
      const held = this.coverageCache.has(day) ? this.coverageCache.get(day) : read.get(day);
      if (held) result.set(day, held);
    }
    return result;
  }

  /** Every committed change to the history (a fetch, retention) may change any answer. */
  private historyChanged(): void {
    this.generation++;
    this.statsCache.clear();
    this.pageCache.clear();
    this.coverageCache.clear();
  }

  /**
   * Retention: forgets the history before `day` (its coverage, failures, and the periods and calls
   * that lie wholly before it). Returns what was dropped.
   */
  async dropBefore(day: LocalDay): Promise<{ days: number; calls: number }> {
    const dropped = await this.lock.run(() => this.options.ingest.dropBefore(day));
    this.historyChanged();
    return dropped;
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

  private storeUnavailable(failed: { until: number; code: string | undefined }): StoreUnavailableError {
    const retryAfterSeconds = Math.max(1, Math.ceil((failed.until - this.options.clock.now()) / 1000));
    return new StoreUnavailableError(
      failed.code,
      retryAfterSeconds,
      `the server's history store failed${failed.code ? ` (${failed.code})` : ''}: upstream answers cannot be kept, so no upstream call is made for ${retryAfterSeconds} s`,
    );
  }

  private undecodable(failure: DayFailure): UndecodableHistoryError {
    return new UndecodableHistoryError(failure, Math.max(1, Math.ceil((failure.until - this.options.clock.now()) / 1000)));
  }

  /**
   * Makes sure each needed day is held and fresh enough, as far as the quota allows. Returns why the
   * days that could not be fetched were not, and which days upstream calls were made or awaited for.
   */
  private async ensure(
    needs: ReadonlyMap<LocalDay, number>,
    asked: number,
  ): Promise<{ failures: Map<LocalDay, Error>; fetched: Set<LocalDay> }> {
    const failures = new Map<LocalDay, Error>();
    const fetched = new Set<LocalDay>();
    if (await this.nothingToFetch(needs, asked)) return { failures, fetched };
    const waits: Array<Promise<void>> = [];
    const waitFor = (days: readonly LocalDay[], fetch: Promise<void>): void => {
      for (const day of days) fetched.add(day);
      waits.push(fetch.catch((error: Error) => days.forEach((d) => failures.set(d, error))));
    };
    await this.lock.run(async () => {
      const { store, ledger } = this.options;
      const days = [...needs.keys()];
      // Fetches in flight are noted before coverage is read: one that ends in between has
      // committed by then (it leaves inFlight only after its commit), so its days read as held.
      const running = new Map(days.flatMap((day) => (this.inFlight.has(day) ? [[day, this.inFlight.get(day) as Promise<void>]] : [])));
      const coverage = await store.coverage(days);
      const failed = await store.failures(days);
      const now = this.options.clock.now();
      const own = new Map<LocalDay, number>();
      for (const [day, maxAge] of needs) {
        const fetch = running.get(day);
        const failure = failed.get(day);
        if (fetch) waitFor([day], fetch);
        else if (inForce(failure, now)) {
          // Asking again would bring the same undecodable response: a held copy is served (stale
          // if old); a day never held fails with the decode error until the failure expires.
          if (!coverage.has(day)) failures.set(day, this.undecodable(failure));
        } else own.set(day, maxAge);
      }
      const broken = this.storeFailed && this.storeFailed.until > now ? this.storeFailed : null;
      if (broken) {
        // What an upstream call brings could not be kept: days never held fail, held ones are served stale.
        const error = this.storeUnavailable(broken);
        for (const day of own.keys()) if (!coverage.has(day)) failures.set(day, error);
        own.clear();
      }
      const plan = planFetches({ needs: own, coverage, now, zone: this.options.zone, maxDaysPerCall: this.maxDaysPerCall(ledger.kindAt(now)) });
      const required = plan.filter((c) => c.required);
      const refreshes = plan.filter((c) => !c.required);

      // Days never held come first: each call made is kept, so a refused remainder costs less on retry.
      const toMake: Array<{ call: PlannedCall; ticket: LedgerTicket }> = [];
      const refused: LocalDay[] = [];
      for (const call of required) {
        const ticket = ledger.acquire();
        if (ticket) toMake.push({ call, ticket });
        else refused.push(...call.days.filter((d) => !coverage.has(d)));
      }
      if (refused.length) {
        // While an OUT_OF_LIMIT holds calls back, the upstream's refusal is still the reason.
        const error = this.quotaExhausted(refused, coverage, ledger.state().blockedUntil ? 'OUT_OF_LIMIT' : undefined);
        for (const day of refused) failures.set(day, error);
      }
      // Refreshing stale copies only when the whole answer can be given; otherwise they are served stale.
      if (toMake.length === required.length) {
        for (const call of refreshes) {
          const ticket = ledger.acquire();
          if (ticket) toMake.push({ call, ticket });
        }
      }
      for (const { call, ticket } of toMake) waitFor(call.days, this.startFetch(call, ticket, now));
    });
    await Promise.all(waits);
    return { failures, fetched };
  }

  /** The common case of a held, fresh period: answered without queueing behind other requests. */
  private async nothingToFetch(needs: ReadonlyMap<LocalDay, number>, asked: number): Promise<boolean> {
    const coverage = await this.coverage([...needs.keys()]);
    for (const [day, maxAge] of needs) {
      const state = dayState(day, coverage.get(day), maxAge, asked, this.options.zone);
      if (state === 'missing' || state === 'stale') return false;
    }
    return true;
  }

  private startFetch(call: PlannedCall, ticket: LedgerTicket, startedAt: number): Promise<void> {
    const fetch = this.fetch(call, ticket, startedAt).finally(() => {
      for (const day of call.days) if (this.inFlight.get(day) === fetch) this.inFlight.delete(day);
    });
    for (const day of call.days) this.inFlight.set(day, fetch);
    return fetch;
  }

  private async fetch(call: PlannedCall, ticket: LedgerTicket, startedAt: number): Promise<void> {
    const { ingest, ledger, zone, settleHours, logger } = this.options;
    const days = { first: call.days[0], last: call.days[call.days.length - 1] };
    const started = performance.now();
    const ended = (outcome: UpstreamOutcome): void => {
      ticket.settle(outcome);
      this.events.upstreamCall(outcome, (performance.now() - started) / 1000);
    };
    // A copy taken when the day had long ended cannot change any more.
    const settleMs = settleHours * HOUR;
    const coverage = call.days.map((day) => ({
      day,
      fetchedAt: startedAt,
      sealed: startedAt >= startOfDay(addDays(day, 1), zone) + settleMs,
    }));
    let result;
    try {
      result = await ingest.fetch({ period: call, coverage }, this.aborting.signal, (count) => this.events.rowsDecoded(count));
    } catch (error) {
      if (isStoreError(error)) {
        // The upstream answered; the disk under DATA_DIR could not keep it. Until the failure window
        // passes, no call is made whose answer would be thrown away the same way.
        ended('ok');
        this.storeFailed = { until: this.options.clock.now() + this.options.failedRetryMs, code: error.code };
        logger?.error('the history store could not keep an upstream answer; no upstream call is made until the failure window passes', {
          ...days,
          code: error.code,
          error: error.message,
          until: new Date(this.storeFailed.until).toISOString(),
        });
        throw this.storeUnavailable(this.storeFailed);
      }
      ended(outcomeOf(error, this.aborting.signal.aborted));
      logger?.warn('upstream call failed; nothing of it was kept', {
        ...days,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      if (error instanceof UpstreamOutOfLimitError) {
        ledger.blockAfterOutOfLimit();
        const held = await this.options.store.coverage(call.days);
        const missing = call.days.filter((d) => !held.has(d));
        throw this.quotaExhausted(missing.length ? missing : call.days, held, error.resultCode);
      }
      if (error instanceof UpstreamProtocolError && error.complete) {
        // The same request would bring the same response: its days wait before they are asked again.
        const failure: DayFailure = {
          until: this.options.clock.now() + this.options.failedRetryMs,
          message: error.message,
          row: error instanceof ValueConversionError ? error.row : null,
          column: error instanceof ValueConversionError ? error.column : null,
        };
        await ingest.markFailed(call.days, failure);
        logger?.warn('upstream response cannot be decoded; its days are not asked for again until the failure expires', {
          ...days,
          until: new Date(failure.until).toISOString(),
        });
        throw this.undecodable(failure);
      }
      throw error;
    }
    this.historyChanged();
    ended('ok');
    logger?.info('upstream call completed', { ...days, rows: result.rows, ms: Math.round(performance.now() - started) });
    if (result.duplicateRows) {
      // Not silent: the upstream listed some CallIDs more than once; each is counted once.
      logger?.warn('upstream listed calls more than once; each CallID is counted once, its first row kept', {
        ...days,
        duplicateRows: result.duplicateRows,
      });
    }
  }
}

/** How a failed upstream call ended, for the ledger and metrics. */
function outcomeOf(error: unknown, aborted: boolean): UpstreamOutcome {
  if (aborted) return 'aborted';
  if (error instanceof UpstreamOutOfLimitError) return 'out_of_limit';
  if (error instanceof UpstreamProtocolError) return error.complete ? 'undecodable' : 'unavailable';
  if (error instanceof UpstreamUnavailableError) return 'unavailable';
  if (error instanceof ConnectError) return 'refused';
  return 'unavailable';
}
