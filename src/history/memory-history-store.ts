import { compareServiceCalls, type ServiceCall } from '../domain/service-call.js';
import { type LocalDay, localDayOf } from '../time/zone.js';
import type { DayCoverage } from './fetch-planner.js';
import { daysOfPeriod } from './fetch-planner.js';
import type { HistoryStore, StagedFetch } from './history-store.js';

/**
 * A copy of a string that shares no memory with the text it was cut from: a decoded value would
 * otherwise keep its whole response chunk alive, and a held week every chunk it came in. Slicing a
 * fresh concatenation flattens it into a string of its own.
 */
function detach(text: string): string {
  return text.length < 13 ? text : (` ${text}`).slice(1);
}

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

/** History held in process memory: lost on restart, not shared between replicas. */
export class MemoryHistoryStore implements HistoryStore {
  private readonly days = new Map<LocalDay, { coverage: DayCoverage; calls: ServiceCall[] }>();
  private readonly pool = new IdPool(ID_POOL_LIMIT);

  constructor(private readonly zone: string) {}

  async coverage(days: readonly LocalDay[]): Promise<Map<LocalDay, DayCoverage>> {
    const result = new Map<LocalDay, DayCoverage>();
    for (const day of days) {
      const held = this.days.get(day);
      if (held) result.set(day, held.coverage);
    }
    return result;
  }

  async callsBetween(from: number, to: number): Promise<ServiceCall[]> {
    if (to <= from) return [];
    const result: ServiceCall[] = [];
    for (const day of daysOfPeriod(from, to, (t) => localDayOf(t, this.zone))) {
      const calls = this.days.get(day)?.calls;
      if (!calls) continue;
      for (const call of calls) if (call.callTime >= from && call.callTime < to) result.push(call);
    }
    return result;
  }

  /** The call as held: its strings copied (the call ID) or pooled (the rest), never cut from a response. */
  private own(call: ServiceCall): ServiceCall {
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
    };
  }

  async stage(): Promise<StagedFetch> {
    let staged: ServiceCall[] = [];
    let open = true;
    return {
      add: async (calls) => {
        if (open) for (const call of calls) staged.push(this.own(call));
      },
      commit: async (coverage) => {
        if (!open) throw new Error('a staged fetch was committed twice or after discard');
        open = false;
        const byDay = new Map<LocalDay, ServiceCall[]>(coverage.map((c) => [c.day, []]));
        const seen = new Set<string>();
        for (const call of staged) {
          // A call listed twice by the upstream is one call.
          if (seen.has(call.callId)) continue;
          seen.add(call.callId);
          byDay.get(localDayOf(call.callTime, this.zone))?.push(call);
        }
        for (const c of coverage) {
          const calls = byDay.get(c.day) ?? [];
          calls.sort(compareServiceCalls);
          this.days.set(c.day, { coverage: c, calls });
        }
        staged = [];
      },
      discard: async () => {
        open = false;
        staged = [];
      },
    };
  }
}
