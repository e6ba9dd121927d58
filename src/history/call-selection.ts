import { type ServiceCall, type ServiceCallFilter, matchesFilter } from '../domain/service-call.js';

export interface CallStats {
  total: number;
  successful: number;
  unsuccessful: number;
  totalDurationSeconds: number;
  /** Average talk time of the successful calls; null when there are none. */
  averageDurationSeconds: number | null;
}

/** The calls of a period that pass a filter, in history order, with their totals. */
export interface CallSelection {
  calls: ServiceCall[];
  stats: CallStats;
}

export function selectCalls(calls: readonly ServiceCall[], filter: ServiceCallFilter): CallSelection {
  const selected: ServiceCall[] = [];
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
  callTime: number;
  callId: string;
}

/** Index of the first call strictly after `position` in a list in history order. */
export function indexAfter(calls: readonly ServiceCall[], position: CallPosition): number {
  let low = 0;
  let high = calls.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const call = calls[mid] as ServiceCall;
    const after = call.callTime > position.callTime || (call.callTime === position.callTime && call.callId > position.callId);
    if (after) high = mid;
    else low = mid + 1;
  }
  return low;
}
