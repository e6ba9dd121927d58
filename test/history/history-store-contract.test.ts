import { describe, expect, it } from 'vitest';
import type { ServiceCall } from '../../src/domain/service-call.js';
import type { DayCoverage } from '../../src/history/fetch-planner.js';
import type { HistoryStore } from '../../src/history/history-store.js';
import { MemoryHistoryStore } from '../../src/history/memory-history-store.js';
import { addDays, type LocalDay, startOfDay } from '../../src/time/zone.js';

/**
 * What every HistoryStore must do, whatever holds the rows: rows are held by the upstream period that
 * returned them, counted once by CallID, and selected by when they were answered.
 */
const ZONE = 'Europe/Moscow';
const at = (moscow: string): number => Date.parse(`${moscow}+03:00`);
const FETCHED = at('2019-09-28T12:00:00');

function call(callId: string, callTime: string | null, durationSeconds = 60): ServiceCall {
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
  };
}

async function fetchInto(store: HistoryStore, firstDay: LocalDay, days: number, calls: ServiceCall[], fetchedAt = FETCHED): Promise<void> {
  const list = Array.from({ length: days }, (_, i) => addDays(firstDay, i));
  const staged = await store.stage({ days: list, from: startOfDay(firstDay, ZONE), to: startOfDay(addDays(firstDay, days), ZONE) });
  await staged.add(calls);
  await staged.commit(list.map((day): DayCoverage => ({ day, fetchedAt, sealed: true })));
}

const ids = async (store: HistoryStore, from: string, to: string): Promise<string[]> =>
  (await store.callsBetween(at(from), at(to))).map((c) => c.callId);

const stores: Array<[string, () => HistoryStore]> = [['MemoryHistoryStore', () => new MemoryHistoryStore(ZONE)]];

describe.each(stores)('%s (history store contract)', (_name, makeStore) => {
  /** The answers for the periods starting on the 26th and the 27th (as in shared/cases/midnight-period-*). */
  const the26th = [call('a', '2019-09-26T09:15:02'), call('b', '2019-09-26T09:15:02'), call('c', '2019-09-26T23:59:59'), call('d', '2019-09-27T00:00:20')];
  const the27th = [call('e', '2019-09-27T10:00:00')];

  it('keeps a call answered after the end of the period that returned it, and selects it by callTime', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-26', 1, the26th);
    await fetchInto(store, '2019-09-27', 1, the27th);
    expect(await ids(store, '2019-09-26T00:00:00', '2019-09-28T00:00:00')).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await ids(store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['d', 'e']);
    expect(await ids(store, '2019-09-26T00:00:00', '2019-09-27T00:00:00')).toEqual(['a', 'b', 'c']);
    // A refetch of the 27th replaces what the 27th brought, and nothing the 26th brought.
    await fetchInto(store, '2019-09-27', 1, the27th, FETCHED + 1000);
    expect(await ids(store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['d', 'e']);
    expect(await ids(store, '2019-09-26T00:00:00', '2019-09-28T00:00:00')).toHaveLength(5);
  });

  it('replaces exactly what a period brought before when it is fetched again', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-27', 1, [call('x', '2019-09-27T10:00:00', 10), call('y', '2019-09-27T11:00:00')]);
    await fetchInto(store, '2019-09-27', 1, [call('x', '2019-09-27T12:00:00', 20), call('z', '2019-09-27T13:00:00')], FETCHED + 1000);
    const held = await store.callsBetween(at('2019-09-27T00:00:00'), at('2019-09-28T00:00:00'));
    expect(held.map((c) => [c.callId, c.durationSeconds, c.placedAt])).toEqual([
      ['x', 20, at('2019-09-27T12:00:00')],
      ['z', 60, at('2019-09-27T13:00:00')],
    ]);
    expect((await store.coverage(['2019-09-27'])).get('2019-09-27')?.fetchedAt).toBe(FETCHED + 1000);
  });

  it('keeps what an older, longer period alone still provides, and drops it once all its days are fetched anew', async () => {
    const store = makeStore();
    // Days 1–3 in one call: y rang late on the 2nd and was answered just after midnight.
    await fetchInto(store, '2019-09-01', 3, [call('w', '2019-09-01T10:00:00'), call('y', '2019-09-03T00:00:20'), call('x', '2019-09-03T10:00:00')]);
    // The 3rd again: y started on the 2nd, so it is not in this answer, and must not be lost.
    await fetchInto(store, '2019-09-03', 1, [call('x', '2019-09-03T10:00:00')], FETCHED + 1000);
    expect(await ids(store, '2019-09-03T00:00:00', '2019-09-04T00:00:00')).toEqual(['y', 'x']);
    // Days 1–2 anew, without y (gone upstream): the first copy covers nothing any more, and goes with y.
    await fetchInto(store, '2019-09-01', 2, [call('w', '2019-09-01T10:00:00')], FETCHED + 2000);
    expect(await ids(store, '2019-09-01T00:00:00', '2019-09-04T00:00:00')).toEqual(['w', 'x']);
  });

  it('counts a call listed by two periods once, as its newest copy says', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-26', 1, [call('d', '2019-09-27T00:00:20', 95)]);
    const staged = await store.stage({ days: ['2019-09-27'], from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00') });
    await staged.add([call('d', '2019-09-27T00:00:25', 96), call('d', '2019-09-27T00:00:26', 97)]);
    expect(await staged.commit([{ day: '2019-09-27', fetchedAt: FETCHED + 1000, sealed: true }])).toEqual({ duplicateRows: 1 });
    const held = await store.callsBetween(at('2019-09-26T00:00:00'), at('2019-09-28T00:00:00'));
    expect(held.map((c) => [c.callId, c.durationSeconds])).toEqual([['d', 96]]);
  });

  it('places a call without CallTime at the start of the first day of its period, and keeps it', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-26', 2, [call('late', '2019-09-26T18:29:37'), call('never', null), call('early', '2019-09-26T00:00:00')]);
    const held = await store.callsBetween(at('2019-09-26T00:00:00'), at('2019-09-27T00:00:00'));
    expect(held.map((c) => [c.callId, c.callTime, c.placedAt])).toEqual([
      ['early', at('2019-09-26T00:00:00'), at('2019-09-26T00:00:00')],
      ['never', null, at('2019-09-26T00:00:00')],
      ['late', at('2019-09-26T18:29:37'), at('2019-09-26T18:29:37')],
    ]);
    expect(await ids(store, '2019-09-26T00:00:01', '2019-09-28T00:00:00')).toEqual(['late']);
  });

  it('records failed days until a complete copy of them is committed', async () => {
    const store = makeStore();
    const failure = { until: FETCHED + 3_600_000, message: 'row 2, column Duration: bad', row: 2, column: 'Duration' };
    await store.markFailed(['2019-09-26', '2019-09-27'], failure);
    expect(await store.failures(['2019-09-26', '2019-09-27', '2019-09-28'])).toEqual(
      new Map([
        ['2019-09-26', failure],
        ['2019-09-27', failure],
      ]),
    );
    await fetchInto(store, '2019-09-27', 1, the27th);
    expect([...(await store.failures(['2019-09-26', '2019-09-27'])).keys()]).toEqual(['2019-09-26']);
  });

  it('leaves no trace of a discarded response', async () => {
    const store = makeStore();
    await fetchInto(store, '2019-09-27', 1, the27th);
    const staged = await store.stage({ days: ['2019-09-27'], from: at('2019-09-27T00:00:00'), to: at('2019-09-28T00:00:00') });
    await staged.add([call('half', '2019-09-27T11:00:00')]);
    await staged.discard();
    expect(await ids(store, '2019-09-27T00:00:00', '2019-09-28T00:00:00')).toEqual(['e']);
    expect((await store.coverage(['2019-09-27'])).get('2019-09-27')?.fetchedAt).toBe(FETCHED);
  });
});
