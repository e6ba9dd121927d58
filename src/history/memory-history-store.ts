import { compareHeldCalls, type HeldCall, type ServiceCall } from '../domain/service-call.js';
import { type LocalDay, localDayOf, startOfDay } from '../time/zone.js';
import { type CallPosition, type CallSelection, type CallStats, indexAfter, selectCalls } from './call-selection.js';
import { type DayCoverage, daysOfPeriod } from './fetch-planner.js';
import { detach } from './held-values.js';
import type { CallPage, CallQuery, DayFailure, FetchedPeriod, HeldSummary, HistoryStore, StagedFetch } from './history-store.js';


/** One copy of each ID held: a week of calls names the same clients, lines and accounts again and again. */
class IdPool {
  private readonly ids = new Map<string, string>();

  constructor(private readonly limit: number) {}

  keep(id: string | null): string | null {
    if (id === null) return null;
    const known = this.ids.get(id);
    if (known !== undefined) return known;
    const copy = detach(id);
    if (this.ids.size < this.limit) this.ids.set(copy, copy);
    return copy;
  }
}

/** Distinct client, line and account IDs pooled; a partner has thousands, not millions. */
const ID_POOL_LIMIT = 200_000;

/** One upstream response as held: the days it is still the newest copy of, and the calls it brought. */
interface HeldFetch {
  id: number;
  callIds: string[];
  /** Days of its period not yet covered by a newer copy; at 0 the fetch is dropped. */
  daysCovered: number;
}

/** The calls placed in one local day, by CallID, with their history order computed when first asked. */
interface DayBucket {
  calls: Map<string, HeldCall>;
  sorted: HeldCall[] | null;
}

const SELECTION_CACHE_SIZE = 128;
const SELECTION_CACHE_CALLS = 1_000_000;

/** One string per distinct selection: identical questions share it. */
function selectionKey(q: CallQuery): string {
  const f = q.filter;
  return [q.from, q.to, f.clientId, f.serviceUserId, f.serviceId, f.specialistId, f.callResult, f.partyId, f.onCallSpecialistId]
    .map((v) => v ?? '')
    .join('|');
}

/**
 * History held in process memory (`STORE=memory`): lost on restart, not shared between replicas,
 * and growing with the history held. For tests and short-lived demos.
 */
export class MemoryHistoryStore implements HistoryStore {
  private readonly fetches = new Map<number, HeldFetch>();
  private readonly days = new Map<LocalDay, { coverage: DayCoverage; fetchId: number }>();
  private readonly dayFailures = new Map<LocalDay, DayFailure>();
  /** The newest copy of every call held, and the fetch it came from. */
  private readonly current = new Map<string, { call: HeldCall; fetchId: number }>();
  private readonly buckets = new Map<LocalDay, DayBucket>();
  private readonly pool = new IdPool(ID_POOL_LIMIT);
  private nextFetchId = 1;
  /** Filtered lists of recent questions; any commit may change any of them, so a commit clears them. */
  private readonly selections = new Map<string, CallSelection>();
  private selectedCalls = 0;

  constructor(private readonly zone: string) {}

  async coverage(days: readonly LocalDay[]): Promise<Map<LocalDay, DayCoverage>> {
    const result = new Map<LocalDay, DayCoverage>();
    for (const day of days) {
      const held = this.days.get(day);
      if (held) result.set(day, held.coverage);
    }
    return result;
  }

  async failures(days: readonly LocalDay[]): Promise<Map<LocalDay, DayFailure>> {
    const result = new Map<LocalDay, DayFailure>();
    for (const day of days) {
      const failure = this.dayFailures.get(day);
      if (failure) result.set(day, failure);
    }
    return result;
  }

  async markFailed(days: readonly LocalDay[], failure: DayFailure): Promise<void> {
    for (const day of days) this.dayFailures.set(day, failure);
  }

  async page(query: CallQuery, after: CallPosition | null, first: number): Promise<CallPage> {
    const { calls } = this.select(query);
    const start = after ? indexAfter(calls, after) : 0;
    const end = Math.min(calls.length, start + first);
    return { calls: calls.slice(start, end), hasNextPage: end < calls.length, hasPreviousPage: start > 0 };
  }

  async stats(query: CallQuery): Promise<CallStats> {
    return this.select(query).stats;
  }

  async dropBefore(day: LocalDay): Promise<{ days: number; calls: number }> {
    const callsBefore = this.current.size;
    let days = 0;
    for (const held of [...this.days.keys()]) {
      if (held >= day) continue;
      const entry = this.days.get(held) as { fetchId: number };
      this.days.delete(held);
      days++;
      const fetch = this.fetches.get(entry.fetchId);
      if (fetch && --fetch.daysCovered === 0) this.dropFetch(fetch);
    }
    for (const failed of [...this.dayFailures.keys()]) if (failed < day) this.dayFailures.delete(failed);
    this.forgetSelections();
    return { days, calls: callsBefore - this.current.size };
  }

  async summary(now: number): Promise<HeldSummary> {
    let daysSealed = 0;
    for (const { coverage } of this.days.values()) if (coverage.sealed) daysSealed++;
    let daysFailed = 0;
    for (const failure of this.dayFailures.values()) if (failure.until > now) daysFailed++;
    return { daysHeld: this.days.size, daysSealed, daysFailed, calls: this.current.size };
  }

  async close(): Promise<void> {}

  private select(query: CallQuery): CallSelection {
    const key = selectionKey(query);
    const cached = this.selections.get(key);
    if (cached) {
      this.selections.delete(key);
      this.selections.set(key, cached);
      return cached;
    }
    const selection = selectCalls(this.callsBetween(query.from, query.to), query.filter);
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

  private dropFetch(fetch: HeldFetch): void {
    for (const callId of fetch.callIds) if (this.current.get(callId)?.fetchId === fetch.id) this.unplace(callId);
    this.fetches.delete(fetch.id);
  }

  private callsBetween(from: number, to: number): HeldCall[] {
    if (to <= from) return [];
    const result: HeldCall[] = [];
    for (const day of daysOfPeriod(from, to, this.dayOf)) {
      const bucket = this.buckets.get(day);
      if (!bucket) continue;
      bucket.sorted ??= [...bucket.calls.values()].sort(compareHeldCalls);
      for (const call of bucket.sorted) if (call.placedAt >= from && call.placedAt < to) result.push(call);
    }
    return result;
  }

  private dayOf = (instant: number): LocalDay => localDayOf(instant, this.zone);

  /** The call as held: its strings copied (the call ID) or pooled (the rest), never cut from a response. */
  private own(call: ServiceCall, placeholder: number): HeldCall {
    const pool = this.pool;
    return {
      callId: detach(call.callId),
      clientId: pool.keep(call.clientId),
      serviceUserId: pool.keep(call.serviceUserId),
      serviceId: pool.keep(call.serviceId),
      callTime: call.callTime,
      callerId: pool.keep(call.callerId),
      calleeId: pool.keep(call.calleeId),
      callResult: call.callResult,
      durationSeconds: call.durationSeconds,
      placedAt: call.callTime ?? placeholder,
    };
  }

  private place(call: HeldCall, fetchId: number): void {
    this.unplace(call.callId);
    this.current.set(call.callId, { call, fetchId });
    const day = this.dayOf(call.placedAt);
    let bucket = this.buckets.get(day);
    if (!bucket) {
      bucket = { calls: new Map(), sorted: null };
      this.buckets.set(day, bucket);
    }
    bucket.calls.set(call.callId, call);
    bucket.sorted = null;
  }

  private unplace(callId: string): void {
    const held = this.current.get(callId);
    if (!held) return;
    this.current.delete(callId);
    const day = this.dayOf(held.call.placedAt);
    const bucket = this.buckets.get(day);
    if (!bucket) return;
    bucket.calls.delete(callId);
    bucket.sorted = null;
    if (bucket.calls.size === 0) this.buckets.delete(day);
  }

  async stage(period: FetchedPeriod): Promise<StagedFetch> {
    // A call without a CallTime is placed at the start of the period's first day.
    const placeholder = startOfDay(period.days[0] as LocalDay, this.zone);
    let staged: HeldCall[] = [];
    let open = true;
    return {
      add: async (calls) => {
        if (open) for (const call of calls) staged.push(this.own(call, placeholder));
      },
      commit: async (coverage) => {
        if (!open) throw new Error('a staged fetch was committed twice or after discard');
        if (coverage.length === 0) throw new Error('a fetch covers at least one day');
        open = false;
        const fetch: HeldFetch = { id: this.nextFetchId++, callIds: [], daysCovered: 0 };
        this.fetches.set(fetch.id, fetch);
        const replaced = new Set<HeldFetch>();
        for (const c of coverage) {
          const previous = this.days.get(c.day);
          const older = previous && this.fetches.get(previous.fetchId);
          if (older) {
            older.daysCovered--;
            replaced.add(older);
          }
          this.days.set(c.day, { coverage: c, fetchId: fetch.id });
          this.dayFailures.delete(c.day);
          fetch.daysCovered++;
        }
        const seen = new Set<string>();
        let duplicateRows = 0;
        for (const call of staged) {
          // A call listed twice in one response is one call.
          if (seen.has(call.callId)) {
            duplicateRows++;
            continue;
          }
          seen.add(call.callId);
          fetch.callIds.push(call.callId);
          this.place(call, fetch.id);
        }
        // A copy none of whose days it is the newest copy of any more is dropped with the calls it
        // alone still provides: each of those started on one of its days, and the newer copy of that
        // day would have brought it again.
        for (const older of replaced) if (older.daysCovered === 0) this.dropFetch(older);
        staged = [];
        this.forgetSelections();
        return { duplicateRows };
      },
      discard: async () => {
        open = false;
        staged = [];
      },
    };
  }
}
