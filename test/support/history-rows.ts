import type { ServiceCall } from '../../src/domain/service-call.js';
import type { DayCoverage } from '../../src/history/fetch-planner.js';
import type { HistoryStore } from '../../src/history/history-store.js';
import { addDays, type LocalDay, startOfDay } from '../../src/time/zone.js';

/** Rows and fetches for the tests of history stores: days and times in Moscow. */

export const ZONE = 'Europe/Moscow';
export const at = (moscow: string): number => Date.parse(`${moscow}+03:00`);
/** When the fetches of these tests were made, unless a test says otherwise. */
export const FETCHED = at('2019-09-28T12:00:00');

/** A row as the upstream returns it: answered at `callTime` (Moscow), or with no time; every ID null unless given. */
export function call(callId: string, callTime: string | null, durationSeconds = 60, more: Partial<ServiceCall> = {}): ServiceCall {
  return {
    callId,
    clientId: null,
    serviceUserId: null,
    serviceId: null,
    callTime: callTime === null ? null : at(callTime),
    callerId: null,
    calleeId: null,
    callResult: 'SUCCESSFUL',
    durationSeconds,
    ...more,
  };
}

/** Stages and commits one fetch of `days` days from `firstDay`: what the upstream answered for them. */
export async function fetchInto(
  store: HistoryStore,
  firstDay: LocalDay,
  days: number,
  calls: ServiceCall[],
  fetchedAt = FETCHED,
  sealed = true,
): Promise<{ duplicateRows: number }> {
  const list = Array.from({ length: days }, (_, i) => addDays(firstDay, i));
  const staged = await store.stage({ days: list, from: startOfDay(firstDay, ZONE), to: startOfDay(addDays(firstDay, days), ZONE) });
  // Rows arrive in batches, as a decoder hands them out.
  for (let i = 0; i < calls.length; i += 2) await staged.add(calls.slice(i, i + 2));
  return staged.commit(list.map((day): DayCoverage => ({ day, fetchedAt, sealed })));
}
