import { type HeldCall, type ServiceCallFilter, matchesFilter } from '../domain/service-call.js';

export interface CallStats {
  total: number;
  successful: number;
  unsuccessful: number;
  /**
   * Talk time of all calls, seconds. A double: exact up to 2⁵³, so a sum of any number of
   * Int-sized durations that a year could hold never overflows (GraphQL Int would at 2³¹).
   */
  totalDurationSeconds: number;
  /** Average talk time of the successful calls, seconds; null when there are none. */
  averageDurationSeconds: number | null;
}

/** The calls of a period that pass a filter, in history order, with their totals. */
export interface CallSelection {
  calls: HeldCall[];
  stats: CallStats;
}

export function selectCalls(calls: readonly HeldCall[], filter: ServiceCallFilter): CallSelection {
  const selected: HeldCall[] = [];
  let successful = 0;
  let totalDurationSeconds = 0;
  let successfulDuration = 0;
  for (const call of calls) {
    if (!matchesFilter(call, filter)) continue;
    selected.push(call);
    totalDurationSeconds += call.durationSeconds;
    if (call.callResult === 'SUCCESSFUL') {
      successful++;
      successfulDuration += call.durationSeconds;
    }
  }
  return {
    calls: selected,
    stats: {
      total: selected.length,
      successful,
      unsuccessful: selected.length - successful,
      totalDurationSeconds,
      averageDurationSeconds: successful ? successfulDuration / successful : null,
    },
  };
}

/** A position in history order; pages continue strictly after it. */
export interface CallPosition {
  /** Epoch ms: the call's placement (its callTime, or the placeholder when 1C sent none). */
  placedAt: number;
  callId: string;
}

/** Index of the first call strictly after `position` in a list in history order. */
export function indexAfter(calls: readonly HeldCall[], position: CallPosition): number {
  let low = 0;
  let high = calls.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const call = calls[mid] as HeldCall;
    const after = call.placedAt > position.placedAt || (call.placedAt === position.placedAt && call.callId > position.callId);
    if (after) high = mid;
    else low = mid + 1;
  }
  return low;
}
