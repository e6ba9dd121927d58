import { afterEach, describe, expect, it } from 'vitest';
import { addDays, startOfDay } from '../../src/time/zone.js';
import { type Harness, startHarness } from '../support/harness.js';

/**
 * Over a simulator that answers like 1C-Connect (periods select calls by when they started ringing;
 * CallTime is when they were answered, or 1C's empty date), an answer holds exactly the calls the
 * fetched periods returned that were answered in the asked period, each once.
 */
const ZONE = 'Europe/Moscow';
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const PAGE = `query($filter: ServiceCallFilter!, $after: String) {
  serviceCalls(filter: $filter, first: 200, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { callId callTime }
  }
}`;

interface Page {
  serviceCalls: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: Array<{ callId: string; callTime: string | null }> };
}

async function allCalls(h: Harness, first: string, days: number): Promise<Array<{ callId: string; callTime: string | null }>> {
  const filter = { periodFrom: `${first}T00:00:00`, periodTo: `${addDays(first, days)}T00:00:00` };
  const calls: Array<{ callId: string; callTime: string | null }> = [];
  let after: string | null = null;
  for (let page = 0; page < 20; page++) {
    const { data, errors }: { data?: Page | null; errors?: unknown } = await h.query<Page, unknown>(PAGE, { filter, after });
    expect(errors).toBeUndefined();
    const connection: Page['serviceCalls'] = (data as Page).serviceCalls;
    calls.push(...connection.nodes);
    expect(connection.totalCount).toBeGreaterThanOrEqual(calls.length);
    if (!connection.pageInfo.hasNextPage) return calls;
    after = connection.pageInfo.endCursor;
  }
  throw new Error('more pages than a test period holds');
}

describe('answer time and start time', () => {
  it('counts the calls the held periods returned by when they were answered; the day before completes the first day', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', simulator: { answerTimes: 'realistic' } }));
    const sim = h.simulator.history;
    const from = startOfDay('2024-03-11', ZONE);
    const to = startOfDay('2024-03-14', ZONE);
    // The call brings the whole grid week of the three days (Monday 2024-03-11 to Sunday 2024-03-17).
    const weekEnd = startOfDay('2024-03-18', ZONE);

    // One upstream call brings the week: calls started in it, wherever they were answered; those
    // never answered (1C's empty date) are placed at the start of the period that returned them.
    const returned = sim.simulatedCallsStartedBetween(from, weekEnd);
    const crossingOut = returned.filter(({ call }) => call.callTime !== null && call.callTime >= to && call.callTime < weekEnd);
    const unanswered = returned.filter(({ call }) => call.callTime === null);
    expect(crossingOut.length).toBeGreaterThan(0);
    expect(unanswered.length).toBeGreaterThan(0);
    const expected = returned.filter(({ call }) => call.callTime === null || call.callTime < to).map(({ call }) => call.callId);

    const answer = await allCalls(h, '2024-03-11', 3);
    expect(answer.map((c) => c.callId).sort()).toEqual([...expected].sort());
    expect(new Set(answer.map((c) => c.callId)).size).toBe(answer.length);
    expect(answer.filter((c) => c.callTime === null)).toHaveLength(unanswered.length);
    expect(h.upstreamCalls()).toBe(1);

    // The day after is in the same week, held already, and holds the calls that crossed its midnight.
    const dayAfter = await allCalls(h, '2024-03-14', 4);
    for (const { call } of crossingOut) expect(dayAfter.map((c) => c.callId)).toContain(call.callId);
    expect(h.upstreamCalls()).toBe(1);

    // Once the day before (the week before) is held, the first day gains the calls that rang before its midnight.
    const crossingIn = sim.simulatedCallsStartedBetween(startOfDay('2024-03-10', ZONE), from).filter(({ call }) => call.callTime !== null && call.callTime >= from);
    expect(crossingIn.length).toBeGreaterThan(0);
    await allCalls(h, '2024-03-10', 1);
    expect(h.upstreamCalls()).toBe(2);
    const completed = await allCalls(h, '2024-03-11', 3);
    expect(completed.map((c) => c.callId).sort()).toEqual([...expected, ...crossingIn.map(({ call }) => call.callId)].sort());
    // Every call answered in the three days, by the simulator's own account, is now there.
    const answered = sim.callsAnsweredBetween(from, to).map((c) => c.callId);
    const listed = new Set(completed.map((c) => c.callId));
    expect(answered.filter((id) => !listed.has(id))).toEqual([]);
    expect(h.upstreamCalls()).toBe(2);
  });
});
