import { compareServiceCalls, type ServiceCall } from '../domain/service-call.js';
import { type LocalDay, localDayOf } from '../time/zone.js';
import type { DayCoverage } from './fetch-planner.js';
import { daysOfPeriod } from './fetch-planner.js';
import type { HistoryStore, StagedFetch } from './history-store.js';

/** History held in process memory: lost on restart, not shared between replicas. */
export class MemoryHistoryStore implements HistoryStore {
  private readonly days = new Map<LocalDay, { coverage: DayCoverage; calls: ServiceCall[] }>();

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

  async stage(): Promise<StagedFetch> {
    let staged: ServiceCall[] = [];
    let open = true;
    return {
      add: async (calls) => {
        if (open) for (const call of calls) staged.push(call);
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
