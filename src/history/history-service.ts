import type { ServiceCallFilter } from '../domain/service-call.js';
import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import type { PeriodKind } from '../time/day-night.js';
import { addDays, formatIsoWithOffset, type LocalDay, localDayOf, startOfDay } from '../time/zone.js';
import {
  ConnectError,
  UpstreamOutOfLimitError,
  UpstreamProtocolError,
  UpstreamResultError,
  UpstreamUnavailableError,
  ValueConversionError,
} from '../upstream/errors.js';
import type { CallPosition, CallStats } from './call-selection.js';
import { type DayCoverage, daysOfPeriod, dayState, gridBlockOf, type PlannedCall, planFetches } from './fetch-planner.js';
import { type AnswerSource, type HistoryEvents, ignoredHistoryEvents, type UpstreamOutcome } from './history-events.js';
import { isStoreError, QuotaExhaustedError, type QuotaRule, StoreUnavailableError, UndecodableHistoryError } from './history-errors.js';
import type { HistoryIngest } from './history-ingest.js';
import type { CallPage, DayFailure, HistoryStore } from './history-store.js';
import { type FetchLock, type FetchLocks, type Leadership, LocalFetchLocks, soleLeader } from './fetch-locks.js';
import type { QuotaAuthority, QuotaReservation } from './quota-authority.js';
import type { CallPriority } from './quota-ledger.js';
import { UpstreamSlots } from './upstream-slots.js';

export type { HistorySource } from './history-ingest.js';

export interface HistoryServiceOptions {
  /** Read by this thread: coverage, failures, pages and totals. */
  store: HistoryStore;
  /** The one writer of the store: fetches, decodes and commits upstream periods. */
  ingest: HistoryIngest;
  /** Where an upstream call is allowed or refused: this process's ledger, or one shared by replicas. */
  ledger: QuotaAuthority;
  /** Single flight across replicas (default: this process only). */
  locks?: FetchLocks;
  /** Whether this process runs background work (default: always). */
  leadership?: Leadership;
  clock: Clock;
  zone: string;
  dayMaxDays: number;
  nightMaxDays: number;
  settleHours: number;
  /** How long (ms) days whose complete response could not be decoded are not asked for again. */
  failedRetryMs: number;
  /** Upstream calls open at once (CONNECT_CONCURRENCY); default 2. */
  concurrency?: number;
  /** Never-held past days (counted back from today) fetched in the background at night; default 0. */
  backfillDays?: number;
  /** Calls one HTTP request may spend (MAX_CALLS_PER_REQUEST); default half the hourly limit in force. */
  maxCallsPerRequest?: number;
  /** API keys configured (API_KEYS): each key may spend its fair share of the hour; 0: no shares. */
  apiKeys?: number;
  /**
   * Background refresh ahead keeps a day at most this fresh (ms; CACHE_MAX_AGE_SECONDS): a question
   * with a smaller maxAge pays its own refreshes from its own share, never the background's. Default 0.
   */
  refreshFloorMs?: number;
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
  /** When the oldest copy of the unsealed days used was fetched (epoch ms); of the sealed ones when all are sealed. */
  asOf: number;
  /** Some day used is older than the query accepts, because no upstream call could be made. */
  stale: boolean;
  /** Up to `first` calls strictly after `after`, in history order. */
  page(after: CallPosition | null, first: number): Promise<CallPage>;
  /** Totals over every call of the question. */
  stats(): Promise<CallStats>;
}

/**
 * Who asks, for the rules that keep one client from draining the hour: the calls one HTTP request
 * (all its operations) has spent, and the API key it came with (a digest, never the key itself).
 */
export class RequestBudget {
  /** Upstream calls planned for this request so far. */
  spent = 0;
  constructor(readonly apiKey?: string) {}
}

/** What `runDueBackgroundWork` did. */
export interface BackgroundRun {
  /** Upstream calls made (each one a whole call of the grid). */
  calls: number;
  /** Calls the work that was due still needed, left for a later run (no quota above the reserve now). */
  deferred: number;
}

/** Result codes that say what is wrong, and it is not the period's length: such a refusal is not split and asked again. */
const NOT_A_PERIOD_REFUSAL = new Set(['PARAM_NOT_EXIST']);

/** How many times a question takes over, or waits again for, a block other replicas failed to fetch. */
const TAKEOVER_ROUNDS = 3;

/** How long no upstream call is made after the shared store (Redis) failed to keep an answer. */
const SHARED_STORE_RETRY_MS = 15_000;

/** Background work runs this often (ms); a refresh ahead of staleness happens within the last interval before it. */
export const BACKGROUND_INTERVAL_MS = 30_000;

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
/** How long after its last question a day is still refreshed ahead of staleness. */
const ASKED_WINDOW_MS = HOUR;

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
  private readonly slots: UpstreamSlots;
  /**
   * Held unsealed days asked for in the last hour: when last asked and the smallest maxAge (ms) asked
   * for them since; background work refreshes them shortly before they would be stale.
   */
  private readonly askedDays = new Map<LocalDay, { at: number; maxAgeMs: number }>();
  private backgroundRunning: Promise<BackgroundRun> | null = null;
  /** When background work is next due (epoch ms), as seen by its last run; null: nothing known. */
  private nextBackground: number | null = null;
  private loggedNightCap = false;
  /** Background work makes no call before then (epoch ms): its last call failed. */
  private backgroundPausedUntil = 0;

  constructor(private readonly options: HistoryServiceOptions) {
    this.events = options.events ?? ignoredHistoryEvents;
    this.slots = new UpstreamSlots(options.concurrency ?? 2);
    // A shared store tells when another replica committed: every kept answer may have changed.
    options.store.onChange?.(() => this.historyChanged());
  }

  /** Upstream calls open now. */
  get openCalls(): number {
    return this.slots.active;
  }

  /** When background work next has a call to make (epoch ms), as its last run saw it; null when none is known. */
  get nextBackgroundAt(): number | null {
    return this.nextBackground;
  }

  /** The longest period of one upstream call now (days): by day, or at night as lowered by the upstream's refusals. */
  maxDaysPerCallAt(instant: number): number {
    return this.maxDaysPerCall(this.options.ledger.kindAt(instant));
  }

  private dayOf = (instant: number): LocalDay => localDayOf(instant, this.options.zone);

  /** Answers a batch of questions with at most one plan of upstream calls for all of them. */
  async answer(queries: readonly PeriodQuery[], budget: RequestBudget = new RequestBudget()): Promise<Array<PeriodAnswer | Error>> {
    // The answer is as of the moment it was asked: a day that begins while an upstream call is
    // under way (midnight) stays in the future for this answer, as it was when the call was planned.
    const asked = this.options.clock.now();
    const needs = new Map<LocalDay, number>();
    const daysByQuery = queries.map((q) => daysOfPeriod(q.from, q.to, this.dayOf));
    queries.forEach((q, i) => {
      for (const day of daysByQuery[i] as LocalDay[]) needs.set(day, Math.min(needs.get(day) ?? Infinity, q.maxAgeMs));
    });
    const { failures, fetched } = await this.ensure(needs, asked, budget);
    const coverage = await this.coverage([...needs.keys()]);
    this.noteAsked(needs, coverage, asked);
    const sources = new Map<AnswerSource, number>();
    const answers = queries.map((query, i): PeriodAnswer | Error => {
      const days = daysByQuery[i] as LocalDay[];
      // Sealed copies never change: their age says nothing of the answer's, unless all are sealed.
      let asOf = Number.POSITIVE_INFINITY;
      let sealedAsOf = Number.POSITIVE_INFINITY;
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
        const fetchedAt = (coverage.get(day) as DayCoverage).fetchedAt;
        if (state === 'sealed') sealedAsOf = Math.min(sealedAsOf, fetchedAt);
        else asOf = Math.min(asOf, fetchedAt);
      }
      if (!Number.isFinite(asOf)) asOf = sealedAsOf;
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
    await this.backgroundRunning?.catch(() => undefined);
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
    if (kind === 'DAY') return this.options.dayMaxDays;
    return Math.min(this.options.nightMaxDays, this.options.ledger.nightMaxDays ?? Number.POSITIVE_INFINITY);
  }

  /** Remembers the held unsealed days just asked for, with the smallest maxAge asked in the last hour. */
  private noteAsked(needs: ReadonlyMap<LocalDay, number>, coverage: ReadonlyMap<LocalDay, DayCoverage>, asked: number): void {
    for (const [day, maxAgeMs] of needs) {
      const held = coverage.get(day);
      if (!held || held.sealed) continue;
      const before = this.askedDays.get(day);
      const recent = before && before.at > asked - ASKED_WINDOW_MS;
      const floored = Math.max(maxAgeMs, this.options.refreshFloorMs ?? 0);
      this.askedDays.set(day, { at: asked, maxAgeMs: recent ? Math.min(before.maxAgeMs, floored) : floored });
    }
  }

  /** The limit in force on one request's calls (MAX_CALLS_PER_REQUEST, default half the hourly limit). */
  private perRequestLimit(now: number): number {
    return this.options.maxCallsPerRequest ?? Math.max(1, Math.floor(this.options.ledger.limitAt(now) / 2));
  }

  /** The calls per hour one API key may spend: an equal share of the limit in force. */
  private keyShare(now: number): number {
    return Math.max(1, Math.floor(this.options.ledger.limitAt(now) / (this.options.apiKeys ?? 1)));
  }

  /** How many calls a question of this request may make now, and the rule that sets that number. */
  private async interactiveBudget(budget: RequestBudget, now: number): Promise<{ calls: number; rule: QuotaRule }> {
    const { ledger } = this.options;
    const state = await ledger.state();
    const limits: Array<{ calls: number; rule: QuotaRule }> = [
      { calls: await ledger.free('interactive'), rule: state.blockedUntil ? 'OUT_OF_LIMIT' : 'HOURLY_LIMIT' },
      { calls: this.perRequestLimit(now) - budget.spent, rule: 'MAX_CALLS_PER_REQUEST' },
    ];
    if ((this.options.apiKeys ?? 0) > 1 && budget.apiKey !== undefined) {
      limits.push({ calls: this.keyShare(now) - (await ledger.usedByKey(budget.apiKey)), rule: 'API_KEY_SHARE' });
    }
    return limits.reduce((a, b) => (b.calls < a.calls ? b : a));
  }

  /**
   * Why these never-held days could not be fetched: a quota rule. For the hourly limit, says when the
   * calls they need fit it together (not merely when one call frees up), so a retry at that time
   * succeeds; for a request's or a key's share, when a retry can make progress.
   */
  private async quotaExhausted(
    days: readonly LocalDay[],
    coverage: ReadonlyMap<LocalDay, DayCoverage>,
    refusal: { rule: QuotaRule; upstreamCode?: string; budget?: RequestBudget },
  ): Promise<QuotaExhaustedError> {
    const { ledger, clock, zone } = this.options;
    const { rule, upstreamCode } = refusal;
    const now = clock.now();
    const needs = new Map(days.map((d) => [d, 0]));
    const callsFor = (kind: PeriodKind): number =>
      planFetches({ needs, coverage, now, zone, maxDaysPerCall: this.maxDaysPerCall(kind) }).length;
    const kindNow = ledger.kindAt(now);
    const retryIn = (at: number): number => Math.max(1, Math.ceil((at - now) / 1000));
    if (rule === 'MAX_CALLS_PER_REQUEST' || rule === 'API_KEY_SHARE') {
      const callsNeeded = callsFor(kindNow);
      let at: number;
      let message: string;
      if (rule === 'MAX_CALLS_PER_REQUEST') {
        const limit = this.perRequestLimit(now);
        at = await ledger.availableAt(Math.min(callsNeeded, limit));
        message =
          `this request needs ${callsNeeded} more upstream calls; one request may spend at most ${limit} ` +
          `(MAX_CALLS_PER_REQUEST${this.options.maxCallsPerRequest ? '' : ': half the hourly limit in force'}): ask for fewer days, ` +
          `or retry from ${formatIsoWithOffset(at, zone)} (in ${retryIn(at)} s): what a retry fetches is kept, so each needs fewer`;
      } else {
        const key = refusal.budget?.apiKey ?? '';
        const share = this.keyShare(now);
        const over = (await ledger.usedByKey(key)) + Math.min(callsNeeded, share) - share;
        at = Math.max(await ledger.keyFreesAt(key, over), await ledger.availableAt(Math.min(callsNeeded, share)));
        message =
          `this API key has spent its share of the hour (${share} upstream calls of ${ledger.limitAt(now)}, shared by ` +
          `${this.options.apiKeys} keys); the ${callsNeeded} call(s) this request needs can start from ${formatIsoWithOffset(at, zone)} (in ${retryIn(at)} s)`;
      }
      return new QuotaExhaustedError({ rule, retryAfterSeconds: retryIn(at), callsNeeded, fitsIn: Number.isFinite(at) ? ledger.kindAt(at) : null }, message);
    }
    const fitsAt = await ledger.availableAt(callsFor);
    const fits = Number.isFinite(fitsAt);
    const at = fits ? fitsAt : await ledger.availableAt(1);
    const retryAfterSeconds = retryIn(at);
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
    return new QuotaExhaustedError({ rule, retryAfterSeconds, upstreamCode, callsNeeded, fitsIn }, message);
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

  /** The days of the grid blocks these days belong to: a call may bring any of them. */
  private blockDays(days: Iterable<LocalDay>, maxDaysPerCall: number): LocalDay[] {
    const all = new Set<LocalDay>();
    const seen = new Set<LocalDay>();
    for (const day of days) {
      all.add(day);
      const block = gridBlockOf(day, maxDaysPerCall);
      if (seen.has(block.first)) continue;
      seen.add(block.first);
      for (let i = 0; i < block.days; i++) all.add(addDays(block.first, i));
    }
    return [...all];
  }

  /** Days no new call may bring: in flight already, or whose undecodable response is not asked for again yet. */
  private excluded(failed: ReadonlyMap<LocalDay, DayFailure>, now: number): Set<LocalDay> {
    const exclude = new Set<LocalDay>(this.inFlight.keys());
    for (const [day, failure] of failed) if (inForce(failure, now)) exclude.add(day);
    return exclude;
  }

  /** A copy taken now of every day of the call would be sealed: it never needs fetching again. */
  private sealedBy(call: PlannedCall, now: number): boolean {
    const last = call.days[call.days.length - 1] as LocalDay;
    return now >= startOfDay(addDays(last, 1), this.options.zone) + this.options.settleHours * HOUR;
  }

  /**
   * Makes sure each needed day is held and fresh enough, as far as the quota and the request's budget
   * allow. Returns why the days that could not be fetched were not, and which days upstream calls
   * were made or awaited for.
   */
  private async ensure(
    needs: ReadonlyMap<LocalDay, number>,
    asked: number,
    budget: RequestBudget,
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
      const now = this.options.clock.now();
      const maxDaysPerCall = this.maxDaysPerCall(ledger.kindAt(now));
      // Fetches in flight are noted before coverage is read: one that ends in between has
      // committed by then (it leaves inFlight only after its commit), so its days read as held.
      const running = new Map([...needs.keys()].flatMap((day) => (this.inFlight.has(day) ? [[day, this.inFlight.get(day) as Promise<void>]] : [])));
      const exclude = new Set(this.inFlight.keys());
      // The whole grid blocks: a call fills itself with their never-held days.
      const days = this.blockDays(needs.keys(), maxDaysPerCall);
      const coverage = await store.coverage(days);
      const failed = await store.failures(days);
      for (const [day, failure] of failed) if (inForce(failure, now)) exclude.add(day);
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
      const plan = planFetches({ needs: own, coverage, now, zone: this.options.zone, maxDaysPerCall, exclude });
      const required = plan.filter((c) => c.required);
      const refreshes = plan.filter((c) => !c.required);
      const allowed = await this.interactiveBudget(budget, now);

      let toMake: PlannedCall[];
      let refused: PlannedCall[] = [];
      if (required.length <= allowed.calls) {
        // Stale copies are refreshed only when the whole answer can be given; otherwise they are served stale.
        toMake = [...required, ...refreshes.slice(0, allowed.calls - required.length)];
      } else {
        // The answer cannot be whole: nothing is sent but the calls whose days will never change once
        // fetched (so a retry needs fewer calls); copies of unsealed days would be stale by the retry.
        toMake = required.filter((call) => this.sealedBy(call, now)).slice(0, Math.max(0, allowed.calls));
        refused = required.filter((call) => !toMake.includes(call));
      }
      for (const call of toMake) {
        const lock = await this.options.locks?.tryAcquire(callKey(call));
        if (lock === null) {
          // Another replica is fetching this block: its answer is read from the shared store.
          waitFor(call.days, this.fetchedElsewhere(call, budget));
          continue;
        }
        if (lock && !(await this.stillNeeded(call, coverage))) {
          // Another replica fetched it between our reading and our lock.
          await lock.release();
          continue;
        }
        const reservation = await ledger.reserve('interactive', budget.apiKey).catch(async (error: unknown) => {
          // The quota could not record the call (fail closed): nothing is fetched, the lock goes back.
          await lock?.release();
          throw error;
        });
        if (!reservation) {
          await lock?.release();
          if (call.required) refused.push(call);
          continue;
        }
        budget.spent++;
        waitFor(call.days, this.startFetch(call, reservation, budget, lock));
      }
      if (refused.length) {
        const missing = refused.flatMap((call) => call.days.filter((d) => !coverage.has(d)));
        const error = await this.quotaExhausted(missing, coverage, {
          rule: allowed.rule,
          upstreamCode: allowed.rule === 'OUT_OF_LIMIT' ? 'OUT_OF_LIMIT' : undefined,
          budget,
        });
        for (const day of missing) failures.set(day, error);
      }
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

  /**
   * Runs the background work that is due now, spending only calls above the reserve kept for
   * interactive questions, and returns once its calls have ended:
   * - refresh ahead: a held unsealed day asked for in the last hour whose copy would be older than the
   *   smallest maxAge asked for it before the next run;
   * - sealing: a held unsealed day that has settled since its copy was taken (fetched once more, sealed);
   * - night backfill: at night, the never-held days among the last `backfillDays`, newest first.
   * The calls are planned on the same grid as questions' (so they fill themselves with never-held
   * days) and wait behind interactive calls for an upstream slot. A run already under way is shared.
   */
  runDueBackgroundWork(): Promise<BackgroundRun> {
    this.backgroundRunning ??= this.backgroundWork().finally(() => {
      this.backgroundRunning = null;
    });
    return this.backgroundRunning;
  }

  private async backgroundWork(): Promise<BackgroundRun> {
    const { ledger, zone, clock } = this.options;
    if (!(this.options.leadership ?? soleLeader).isLeader()) return { calls: 0, deferred: 0 };
    if (clock.now() < this.backgroundPausedUntil) {
      this.nextBackground = this.backgroundPausedUntil;
      return { calls: 0, deferred: 0 };
    }
    const waits: Array<Promise<void>> = [];
    const refreshed: Array<{ day: LocalDay; maxAgeMs: number }> = [];
    let deferred = 0;
    await this.lock.run(async () => {
      const now = clock.now();
      const settleMs = this.options.settleHours * HOUR;
      const today = this.dayOf(now);
      const maxDaysPerCall = this.maxDaysPerCall(ledger.kindAt(now));
      for (const [day, asked] of this.askedDays) if (asked.at <= now - ASKED_WINDOW_MS) this.askedDays.delete(day);
      // Unsealed copies can only be of recent days, or of days the backfill window reaches.
      const lookback = Math.max(this.options.backfillDays ?? 0, 14);
      const recent = Array.from({ length: lookback }, (_, i) => addDays(today, -i));
      const candidates = this.blockDays([...recent, ...this.askedDays.keys()], maxDaysPerCall);
      const coverage = await this.options.store.coverage(candidates);
      const failed = await this.options.store.failures(candidates);
      const needs = new Map<LocalDay, number>();
      let next = Number.POSITIVE_INFINITY;
      for (const [day, asked] of this.askedDays) {
        const held = coverage.get(day);
        if (!held || held.sealed) continue;
        const due = held.fetchedAt + asked.maxAgeMs - BACKGROUND_INTERVAL_MS;
        // A maxAge the copy is already older than: the planner takes it as stale.
        if (now >= due) {
          needs.set(day, Math.max(0, now - held.fetchedAt - 1));
          refreshed.push({ day, maxAgeMs: asked.maxAgeMs });
        }
        else next = Math.min(next, due);
      }
      for (const day of recent) {
        const held = coverage.get(day);
        if (!held || held.sealed) continue;
        const settled = startOfDay(addDays(day, 1), zone) + settleMs;
        if (now >= settled) needs.set(day, -1);
        else next = Math.min(next, settled);
      }
      const backfill = this.options.backfillDays ?? 0;
      if (ledger.kindAt(now) === 'NIGHT') {
        for (const day of recent.slice(0, backfill)) if (!coverage.has(day)) needs.set(day, Number.POSITIVE_INFINITY);
      }
      const plan = planFetches({ needs, coverage, now, zone, maxDaysPerCall, exclude: this.excluded(failed, now) });
      // Newest first: today's and yesterday's blocks, then back in time.
      plan.sort((a, b) => b.from - a.from);
      for (const [i, call] of plan.entries()) {
        const lock = await this.options.locks?.tryAcquire(callKey(call));
        if (lock === null) continue;
        if (lock && !(await this.stillNeeded(call, coverage))) {
          await lock.release();
          continue;
        }
        const reservation = await ledger.reserve('background').catch(async (error: unknown) => {
          await lock?.release();
          throw error;
        });
        if (!reservation) {
          await lock?.release();
          deferred = plan.length - i;
          break;
        }
        waits.push(
          this.startFetch(call, reservation, undefined, lock).catch((error: unknown) => {
            // A failing upstream (down, wrong password) is not asked again by background work every
            // run: it waits FAILED_RETRY_SECONDS (a question still may ask, from its own share).
            if (error instanceof QuotaExhaustedError) return;
            this.backgroundPausedUntil = Math.max(this.backgroundPausedUntil, clock.now() + this.options.failedRetryMs);
            this.options.logger?.warn('background work failed; it pauses until the failure window passes', {
              until: new Date(this.backgroundPausedUntil).toISOString(),
              error: error instanceof Error ? error.message : String(error),
            });
          }),
        );
      }
      if (deferred) next = Math.min(next, Math.max(now + BACKGROUND_INTERVAL_MS, await ledger.availableAt(ledger.reserveAt(now) + 1)));
      this.nextBackground = Number.isFinite(next) ? next : null;
    });
    await Promise.all(waits);
    if (refreshed.length) {
      // The days just refreshed are due again one maxAge after their new copies.
      const coverage = await this.coverage(refreshed.map((r) => r.day));
      for (const { day, maxAgeMs } of refreshed) {
        const held = coverage.get(day);
        if (held && !held.sealed) this.nextBackground = Math.min(this.nextBackground ?? Infinity, held.fetchedAt + maxAgeMs - BACKGROUND_INTERVAL_MS);
      }
    }
    return { calls: waits.length, deferred };
  }

  /**
   * With replicas: whether the call is still needed once its lock is held, i.e. no day of it got a new
   * copy since the coverage it was planned on was read (another replica may have fetched and released
   * the block in between). The store reads its current coverage.
   */
  private async stillNeeded(call: PlannedCall, planned: ReadonlyMap<LocalDay, DayCoverage>): Promise<boolean> {
    const now = await this.options.store.coverage(call.days);
    return call.days.some((day) => now.get(day)?.fetchedAt === planned.get(day)?.fetchedAt);
  }

  /**
   * Waits for another replica's fetch of this call (its lock released or lapsed), then reads the
   * shared store anew; a needed day still not held then is a typed error (that fetch failed: retry).
   */
  private async fetchedElsewhere(call: PlannedCall, budget: RequestBudget): Promise<void> {
    const locks = this.options.locks ?? new LocalFetchLocks();
    const key = callKey(call);
    // The holder may fail or die (its lease lapses): the call is then taken over here, as planned.
    // Bounded: each round either ends (held, fetched here) or waits for another holder's release.
    for (let round = 0; round < TAKEOVER_ROUNDS; round++) {
      await locks.released(key);
      this.historyChanged();
      const held = await this.options.store.coverage(call.days);
      const now = this.options.clock.now();
      const missing = call.days.filter((day) => !held.has(day) && startOfDay(day, this.options.zone) <= now);
      if (!missing.length || !call.required) return;
      const lock = await locks.tryAcquire(key);
      if (!lock) continue;
      const reservation = await this.options.ledger.reserve('interactive', budget.apiKey).catch(async (error: unknown) => {
        await lock.release();
        throw error;
      });
      if (!reservation) {
        await lock.release();
        throw await this.quotaExhausted(missing, held, { rule: 'HOURLY_LIMIT', budget });
      }
      budget.spent++;
      this.options.logger?.info('taking over an upstream call another replica did not complete', { first: call.days[0], last: call.days[call.days.length - 1] });
      return this.startFetch(call, reservation, budget, lock);
    }
    throw new UpstreamUnavailableError('network', `other replicas' upstream calls for ${call.days[0]}..${call.days[call.days.length - 1]} did not complete; retry`);
  }

  private startFetch(call: PlannedCall, reservation: QuotaReservation, budget?: RequestBudget, lock?: FetchLock): Promise<void> {
    const fetch = this.slots
      .run(reservation.priority, () => this.fetchPlanned(call, reservation, budget))
      .finally(async () => {
        for (const day of call.days) if (this.inFlight.get(day) === fetch) this.inFlight.delete(day);
        await lock?.release();
      });
    for (const day of call.days) this.inFlight.set(day, fetch);
    return fetch;
  }

  /**
   * Makes one planned call (its slot is open). A period the upstream refuses with a code other than
   * OUT_OF_LIMIT is taken for too long (a night period past the upstream's night cap, a DST week of 169
   * hours): it is split once (7-day grid weeks at night, remembering the lower cap; halves by day)
   * and each piece is asked once, never in a loop.
   */
  private async fetchPlanned(call: PlannedCall, reservation: QuotaReservation, budget?: RequestBudget): Promise<void> {
    const { ledger, zone, dayMaxDays, logger } = this.options;
    // Night periods longer than a cap learnt while this call waited for its slot: cut at once.
    const capNow = this.maxDaysPerCall(ledger.kindAt(this.options.clock.now()));
    if (call.days.length > capNow) {
      await reservation.release();
      return this.fetchPieces(this.gridPieces(call, capNow), reservation.priority, budget);
    }
    try {
      await this.fetch(call, reservation);
    } catch (error) {
      if (!(error instanceof UpstreamResultError) || error instanceof UpstreamOutOfLimitError || call.days.length < 2) throw error;
      const longNight = ledger.kindAt(this.options.clock.now()) === 'NIGHT' && call.days.length > dayMaxDays;
      // By day, a code known to mean something else than a too-long period is passed on as it is.
      if (!longNight && NOT_A_PERIOD_REFUSAL.has(error.resultCode)) throw error;
      let pieces: PlannedCall[];
      if (longNight) {
        if ((await ledger.lowerNightMaxDays(dayMaxDays)) && !this.loggedNightCap) {
          this.loggedNightCap = true;
          logger?.warn('1C-Connect refused a long night period; night calls are now at most the daytime length (remembered across restarts)', {
            days: call.days.length,
            resultCode: error.resultCode,
            nightMaxDays: dayMaxDays,
          });
        }
        pieces = this.gridPieces(call, dayMaxDays);
      } else {
        const half = Math.ceil(call.days.length / 2);
        pieces = [call.days.slice(0, half), call.days.slice(half)].map((days) => ({
          days,
          from: startOfDay(days[0] as LocalDay, zone),
          to: startOfDay(addDays(days[days.length - 1] as LocalDay, 1), zone),
          required: call.required,
        }));
      }
      logger?.warn('1C-Connect refused a period; it is asked once more in shorter pieces', {
        first: call.days[0],
        last: call.days[call.days.length - 1],
        resultCode: error.resultCode,
        pieces: pieces.length,
      });
      await this.fetchPieces(pieces, reservation.priority, budget);
    }
  }

  /** A call's days cut on the grid of a shorter cap; days not yet begun are left out. */
  private gridPieces(call: PlannedCall, maxDaysPerCall: number): PlannedCall[] {
    const needs = new Map(call.days.map((d) => [d, Number.POSITIVE_INFINITY]));
    const now = this.options.clock.now();
    return planFetches({ needs, coverage: new Map(), now, zone: this.options.zone, maxDaysPerCall }).map((p) => ({ ...p, required: call.required }));
  }

  /**
   * The pieces of a cut call, one after another in its slot, each counted by the ledger and, for a
   * question, against its request's share of the hour.
   */
  private async fetchPieces(pieces: readonly PlannedCall[], priority: CallPriority, budget?: RequestBudget): Promise<void> {
    const now = this.options.clock.now();
    for (const piece of pieces) {
      const overShare = budget !== undefined && budget.spent >= this.perRequestLimit(now);
      const next = overShare ? null : await this.options.ledger.reserve(priority, budget?.apiKey);
      if (!next) {
        const held = await this.options.store.coverage(piece.days);
        throw await this.quotaExhausted(piece.days.filter((d) => !held.has(d)), held, { rule: overShare ? 'MAX_CALLS_PER_REQUEST' : 'HOURLY_LIMIT', budget });
      }
      if (budget) budget.spent++;
      await this.fetch(piece, next);
    }
  }

  private async fetch(call: PlannedCall, reservation: QuotaReservation): Promise<void> {
    const { ingest, ledger, zone, settleHours, logger } = this.options;
    const days = { first: call.days[0], last: call.days[call.days.length - 1] };
    const ticket = await reservation.start();
    if (!ticket) {
      // The limit fell while the call waited for a slot (an OUT_OF_LIMIT block, night turned to day).
      const held = await this.options.store.coverage(call.days);
      const blocked = (await ledger.state()).blockedUntil !== null;
      throw await this.quotaExhausted(call.days.filter((d) => !held.has(d)), held, {
        rule: blocked ? 'OUT_OF_LIMIT' : 'HOURLY_LIMIT',
        upstreamCode: blocked ? 'OUT_OF_LIMIT' : undefined,
      });
    }
    const startedAt = this.options.clock.now();
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
        // A disk stays broken until someone acts; a lost Redis comes back by itself: retried sooner.
        const windowMs = error.name === 'SharedStoreError' ? Math.min(this.options.failedRetryMs, SHARED_STORE_RETRY_MS) : this.options.failedRetryMs;
        this.storeFailed = { until: this.options.clock.now() + windowMs, code: error.code };
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
        await ledger.blockAfterOutOfLimit();
        const held = await this.options.store.coverage(call.days);
        const missing = call.days.filter((d) => !held.has(d));
        throw await this.quotaExhausted(missing.length ? missing : call.days, held, { rule: 'OUT_OF_LIMIT', upstreamCode: error.resultCode });
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

/** The name of a planned call every replica gives it: its grid period. */
function callKey(call: PlannedCall): string {
  return `${call.days[0]}+${call.days.length}`;
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
