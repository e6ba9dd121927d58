import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { localHour, startOfDay, localDayOf, DAY_MS } from '../../src/time/zone.js';
import { directionOf, specialistOf, type ServiceCall } from '../../src/domain/service-call.js';
import { createHash } from 'node:crypto';
import { ANSWER_MIX, CALL_MIX, SimulatedHistory, type AnswerTimes } from '../../src/simulator/dataset.js';
import { timeOf } from './support.js';

const ZONE = 'Europe/Moscow';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Wednesday 2024-03-06 12:00 Moscow; the week before it is complete.
const NOW = Date.parse('2024-03-06T09:00:00Z');
const WEEK_START = startOfDay('2024-02-26', ZONE);
const WEEK_END = startOfDay('2024-03-04', ZONE);

function history(
  options: { seed?: number; callsPerDay?: number; now?: number; zone?: string; firstDay?: string; answerTimes?: AnswerTimes } = {},
) {
  const clock = new ManualClock(options.now ?? NOW);
  const sim = new SimulatedHistory({
    seed: options.seed ?? 42,
    callsPerDay: options.callsPerDay ?? 200,
    zone: options.zone ?? ZONE,
    clock,
    firstDay: options.firstDay,
    answerTimes: options.answerTimes,
  });
  return { sim, clock };
}

describe('SimulatedHistory determinism', () => {
  it('gives the same calls for the same seed and different calls for another seed', () => {
    const a = history({ seed: 7 }).sim.callsBetween(WEEK_START, WEEK_END);
    const b = history({ seed: 7 }).sim.callsBetween(WEEK_START, WEEK_END);
    const c = history({ seed: 8 }).sim.callsBetween(WEEK_START, WEEK_END);
    expect(a).toHaveLength(7 * 200);
    expect(b).toEqual(a);
    const idsOfA = new Set(a.map((x) => x.callId));
    expect(c.some((x) => idsOfA.has(x.callId))).toBe(false);
    expect(history({ seed: 8 }).sim.clients.map((x) => x.clientId)).not.toEqual(history({ seed: 7 }).sim.clients.map((x) => x.clientId));
  });

  it("gives a day's calls identically whether asked alone, within a week, or in pieces", () => {
    const dayStart = startOfDay('2024-02-28', ZONE);
    const dayEnd = startOfDay('2024-02-29', ZONE);
    const alone = history().sim.callsBetween(dayStart, dayEnd);
    const week = history().sim.callsBetween(WEEK_START, WEEK_END).filter((c) => timeOf(c) >= dayStart && timeOf(c) < dayEnd);
    const { sim } = history();
    const noon = dayStart + 12 * 3600_000;
    const pieces = [...sim.callsBetween(noon, dayEnd), ...sim.callsBetween(dayStart, noon)].sort((x, y) => timeOf(x) - timeOf(y) || x.callId.localeCompare(y.callId));
    expect(alone).toHaveLength(200);
    expect(week).toEqual(alone);
    expect(pieces).toEqual(alone);
    // Asking again (from the cache) changes nothing.
    expect(sim.callsBetween(dayStart, dayEnd)).toEqual(alone);
  });

  it('keeps calls in history order and inside [from, to)', () => {
    const { sim } = history();
    const from = WEEK_START + 3 * 3600_000 + 17_000;
    const to = WEEK_END - 5 * 3600_000;
    const calls = sim.callsBetween(from, to);
    for (const [i, call] of calls.entries()) {
      expect(timeOf(call)).toBeGreaterThanOrEqual(from);
      expect(timeOf(call)).toBeLessThan(to);
      const next = calls[i + 1];
      if (next) expect(timeOf(call) < timeOf(next) || (timeOf(call) === timeOf(next) && call.callId < next.callId)).toBe(true);
    }
    expect(sim.callsBetween(to, from)).toEqual([]);
  });
});

describe('SimulatedHistory and the clock', () => {
  it('has no calls at or after the clock, and today grows as the clock moves', () => {
    const { sim, clock } = history();
    const todayStart = startOfDay(localDayOf(NOW, ZONE), ZONE);
    const before = sim.callsBetween(todayStart, todayStart + DAY_MS);
    expect(before.length).toBeGreaterThan(0);
    expect(before.length).toBeLessThan(200);
    expect(before.every((c) => timeOf(c) < NOW)).toBe(true);

    clock.advance(3 * 3600_000);
    const after = sim.callsBetween(todayStart, todayStart + DAY_MS);
    expect(after.length).toBeGreaterThan(before.length);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.every((c) => timeOf(c) < NOW + 3 * 3600_000)).toBe(true);
    // The calls that appeared are the ones of the passed hours.
    expect(after.slice(before.length).every((c) => timeOf(c) >= NOW)).toBe(true);

    // The whole day, once over, has all its calls, the same as a fresh history sees them.
    clock.set(todayStart + 2 * DAY_MS);
    const whole = sim.callsBetween(todayStart, todayStart + DAY_MS);
    expect(whole).toHaveLength(200);
    expect(whole.slice(0, after.length)).toEqual(after);
  });

  it('has nothing before firstDay', () => {
    const { sim } = history({ firstDay: '2024-03-01' });
    const calls = sim.callsBetween(WEEK_START, NOW);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => timeOf(c) >= startOfDay('2024-03-01', ZONE))).toBe(true);
    expect(sim.historyStart()).toBe(startOfDay('2024-03-01', ZONE));
    expect(sim.callsBetween(WEEK_START, startOfDay('2024-03-01', ZONE))).toEqual([]);
  });

  it('keeps each call inside its local day across a DST change', () => {
    const zone = 'Europe/Berlin'; // 2024-03-31 has 23 hours, 2024-10-27 has 25
    for (const day of ['2024-03-31', '2024-10-27']) {
      const { sim } = history({ zone, now: Date.parse('2025-01-01T00:00:00Z') });
      const from = startOfDay(day, zone);
      const calls = sim.callsBetween(from - DAY_MS, from + 2 * DAY_MS).filter((c) => localDayOf(timeOf(c), zone) === day);
      expect(calls).toHaveLength(200);
    }
  });
});

describe('SimulatedHistory realism', () => {
  const { sim } = history({ seed: 3, callsPerDay: 400 });
  const week = sim.callsBetween(WEEK_START, WEEK_END);
  const share = (pick: (c: ServiceCall) => boolean): number => week.filter(pick).length / week.length;

  it('exposes plausible reference lists', () => {
    expect(sim.lines.length).toBeGreaterThanOrEqual(3);
    expect(sim.lines.length).toBeLessThanOrEqual(4);
    expect(sim.clients).toHaveLength(25);
    expect(sim.specialists.length).toBeGreaterThanOrEqual(8);
    expect(sim.specialists.length).toBeLessThanOrEqual(12);
    for (const client of sim.clients) {
      expect(client.serviceUserIds.length).toBeGreaterThanOrEqual(1);
      expect(client.serviceUserIds.length).toBeLessThanOrEqual(4);
    }
    for (const line of sim.lines) expect(line.specialistIds.length).toBeGreaterThan(0);
    const ids = [
      ...sim.lines.map((l) => l.serviceId),
      ...sim.clients.map((c) => c.clientId),
      ...sim.serviceUsers.map((u) => u.serviceUserId),
      ...sim.specialists.map((s) => s.specialistId),
    ];
    expect(ids.every((id) => UUID.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has the expected shares of results, directions and gaps over a week', () => {
    expect(week).toHaveLength(7 * 400);
    const unsuccessful = share((c) => c.callResult === 'UNSUCCESSFUL');
    expect(unsuccessful).toBeGreaterThan(0.1);
    expect(unsuccessful).toBeLessThan(0.25);
    const inbound = share((c) => directionOf(c) === 'INBOUND');
    const outbound = share((c) => directionOf(c) === 'OUTBOUND');
    expect(inbound).toBeGreaterThan(0.6);
    expect(inbound).toBeLessThan(0.78);
    expect(outbound).toBeGreaterThan(0.2);
    expect(share((c) => directionOf(c) === 'UNKNOWN')).toBeGreaterThan(0);
    expect(share((c) => directionOf(c) === 'UNKNOWN')).toBeLessThan(0.05);
    for (const key of ['clientId', 'serviceId', 'serviceUserId'] as const) {
      expect(week.some((c) => c[key] === null), key).toBe(true);
    }
    expect(week.some((c) => c.callerId === null || c.calleeId === null)).toBe(true);
    expect(share((c) => [c.clientId, c.serviceId, c.serviceUserId, c.callerId, c.calleeId].includes(null))).toBeLessThan(0.1);
  });

  it('places calls mostly in working hours, some at night', () => {
    const daytime = share((c) => {
      const hour = localHour(timeOf(c), ZONE);
      return hour >= CALL_MIX.workingHours.from && hour < CALL_MIX.workingHours.to;
    });
    expect(daytime).toBeGreaterThan(0.85);
    expect(daytime).toBeLessThan(1);
  });

  it('writes consistent calls', () => {
    const users = new Map(sim.serviceUsers.map((u) => [u.serviceUserId, u]));
    const specialists = new Set(sim.specialists.map((s) => s.specialistId));
    const lines = new Set(sim.lines.map((l) => l.serviceId));
    for (const call of week) {
      expect(call.callId).toMatch(UUID);
      expect(timeOf(call) % 1000).toBe(0); // whole seconds, like the upstream's dateTime
      if (call.callResult === 'UNSUCCESSFUL') expect(call.durationSeconds).toBe(0);
      else {
        expect(call.durationSeconds).toBeGreaterThanOrEqual(CALL_MIX.durationSeconds.min);
        expect(call.durationSeconds).toBeLessThanOrEqual(CALL_MIX.durationSeconds.max);
      }
      if (call.serviceId !== null) expect(lines.has(call.serviceId)).toBe(true);
      if (call.serviceUserId !== null && call.clientId !== null) expect(users.get(call.serviceUserId)?.clientId).toBe(call.clientId);
      // The party that is not the service user is a specialist, when known.
      const specialist = specialistOf(call);
      if (specialist !== null) expect(specialists.has(specialist)).toBe(true);
    }
    expect(new Set(week.map((c) => c.callId)).size).toBe(week.length);
    const durations = week.filter((c) => c.callResult === 'SUCCESSFUL').map((c) => c.durationSeconds).sort((x, y) => x - y);
    const median = durations[Math.floor(durations.length / 2)] as number;
    expect(median).toBeGreaterThan(60);
    expect(median).toBeLessThan(600);
  });

  it('rejects nonsense options', () => {
    const clock = new ManualClock(NOW);
    expect(() => new SimulatedHistory({ seed: 1.5, callsPerDay: 1, zone: ZONE, clock })).toThrow(RangeError);
    expect(() => new SimulatedHistory({ seed: 1, callsPerDay: -1, zone: ZONE, clock })).toThrow(RangeError);
    expect(() => new SimulatedHistory({ seed: 1, callsPerDay: 1, zone: ZONE, clock, firstDay: '1.3.2024' })).toThrow(RangeError);
  });
});

describe('SimulatedHistory with realism off (the default)', () => {
  // Digests of the week's calls as generated before callTime could be null (commit ddac5a5): every
  // test elsewhere was written against this data, so it must never change.
  it.each([
    [42, 200, 1400, '9a3f8c893809f756d6658c1fb91647e3887117e59838e0ce8ae52c356699fb75', 'fbab7930-41ac-4790-a7cf-c1c4714fb76c', 1708897199000],
    [1, 200, 1400, '57a9313abf59feee76f36d7c4ef0de8b3034d043d856e4707fdbeb2e23f966a1', '84b420d8-37a3-4fb5-9b56-d4efa9cc8a5c', 1708897741000],
    [7, 120, 840, 'dad98d051a383d5a1f38ac64c7a7b3f4c541e941f2870d77f7f87ea77f26c783', 'e704b676-272e-4a6b-b585-ba75db1c637f', 1708900590000],
  ])('gives exactly the data of before for seed %i, %i calls a day', (seed, callsPerDay, count, digest, firstId, firstTime) => {
    for (const answerTimes of [undefined, 'at-start'] as const) {
      const calls = history({ seed, callsPerDay, answerTimes }).sim.callsBetween(WEEK_START, WEEK_END);
      expect(calls).toHaveLength(count);
      expect(calls[0]).toMatchObject({ callId: firstId, callTime: firstTime });
      expect(createHash('sha256').update(JSON.stringify(calls)).digest('hex')).toBe(digest);
    }
  });

  it('answers by start and by answer time alike, and never writes an empty date', () => {
    const { sim } = history();
    expect(sim.answerTimes).toBe('at-start');
    for (const [from, to] of [[WEEK_START, WEEK_END], [WEEK_START + 7 * 3600_000 + 13_000, WEEK_END - 1000]] as const) {
      const byStart = sim.callsStartedBetween(from, to);
      expect(sim.callsBetween(from, to)).toEqual(byStart);
      expect(sim.callsAnsweredBetween(from, to)).toEqual(byStart);
      expect([...sim.iterateCallsBetween(from, to)]).toEqual(byStart);
      expect(sim.simulatedCallsStartedBetween(from, to).every(({ call, startedAt }) => call.callTime === startedAt)).toBe(true);
    }
  });
});

describe("SimulatedHistory with answerTimes: 'realistic'", () => {
  const DAYS = ['2024-02-26', '2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02', '2024-03-03'];
  const { sim } = history({ seed: 3, callsPerDay: 400, answerTimes: 'realistic' });
  const week = sim.simulatedCallsStartedBetween(WEEK_START, WEEK_END);
  const plain = history({ seed: 3, callsPerDay: 400 }).sim;

  it('changes times only: the same calls and parties start on the same days as without realism', () => {
    for (const day of DAYS) {
      const from = startOfDay(day, ZONE);
      const to = from + DAY_MS;
      const withoutTime = ({ callTime: _t, ...rest }: ServiceCall) => rest;
      const byId = (a: { callId: string }, b: { callId: string }) => a.callId.localeCompare(b.callId);
      const realistic = sim.callsStartedBetween(from, to).map(withoutTime).sort(byId);
      expect(realistic).toHaveLength(400);
      expect(realistic).toEqual(plain.callsStartedBetween(from, to).map(withoutTime).sort(byId));
    }
  });

  it('answers successful calls 3–60 s after their start; unanswered ones carry their start or the empty date', () => {
    const { min, max } = ANSWER_MIX.ringSeconds;
    let unsuccessful = 0;
    let empty = 0;
    for (const { call, startedAt } of week) {
      expect(startedAt % 1000).toBe(0);
      if (call.callResult === 'SUCCESSFUL') {
        const ringMs = timeOf(call) - startedAt;
        expect(ringMs % 1000).toBe(0);
        expect(ringMs).toBeGreaterThanOrEqual(min * 1000);
        expect(ringMs).toBeLessThanOrEqual(max * 1000);
      } else {
        unsuccessful += 1;
        if (call.callTime === null) empty += 1;
        else expect(call.callTime).toBe(startedAt);
      }
    }
    expect(empty / unsuccessful).toBeGreaterThan(ANSWER_MIX.emptyDate - 0.1);
    expect(empty / unsuccessful).toBeLessThan(ANSWER_MIX.emptyDate + 0.1);
  });

  it('keeps the upstream order (start, then call ID) and every start inside its day', () => {
    for (const [i, { call, startedAt }] of week.entries()) {
      const next = week[i + 1];
      if (next) expect(startedAt < next.startedAt || (startedAt === next.startedAt && call.callId < next.call.callId)).toBe(true);
    }
    for (const day of DAYS) {
      const from = startOfDay(day, ZONE);
      expect(sim.simulatedCallsStartedBetween(from, from + DAY_MS).every((c) => localDayOf(c.startedAt, ZONE) === day)).toBe(true);
    }
  });

  it('has calls that ring before midnight and are answered after it, every day', () => {
    for (const day of DAYS) {
      const dayEnd = startOfDay(day, ZONE) + DAY_MS;
      const crossing = sim.simulatedCallsStartedBetween(dayEnd - DAY_MS, dayEnd).filter((c) => c.call.callTime !== null && c.call.callTime >= dayEnd);
      expect(crossing.length, day).toBeGreaterThanOrEqual(1);
      for (const { startedAt } of crossing) expect(startedAt).toBeGreaterThanOrEqual(dayEnd - 60_000);
    }
    // Besides the one placed each day, a share of calls falls in the last minute of its day.
    const lastMinute = week.filter((c) => c.startedAt >= startOfDay(localDayOf(c.startedAt, ZONE), ZONE) + DAY_MS - 60_000);
    expect(lastMinute.length).toBeGreaterThan(DAYS.length);
  });

  it('selects by start in callsStartedBetween and by answer in callsAnsweredBetween', () => {
    const dayEnd = startOfDay('2024-02-28', ZONE) + DAY_MS; // midnight into the 29th
    const [crossing] = sim
      .simulatedCallsStartedBetween(dayEnd - DAY_MS, dayEnd)
      .filter((c) => c.call.callTime !== null && c.call.callTime >= dayEnd);
    if (!crossing) throw new Error('no midnight-crossing call on the 28th');
    const { call } = crossing;
    const ids = (calls: ServiceCall[]) => calls.map((c) => c.callId);
    // Started on the 28th, answered on the 29th: the 28th's upstream answer has it, the 29th's has not.
    expect(ids(sim.callsStartedBetween(dayEnd - DAY_MS, dayEnd))).toContain(call.callId);
    expect(ids(sim.callsStartedBetween(dayEnd, dayEnd + DAY_MS))).not.toContain(call.callId);
    expect(ids(sim.callsAnsweredBetween(dayEnd, dayEnd + DAY_MS))).toContain(call.callId);
    expect(ids(sim.callsAnsweredBetween(dayEnd - DAY_MS, dayEnd))).not.toContain(call.callId);
    // callsBetween is the upstream's selection.
    expect(sim.callsBetween(dayEnd - DAY_MS, dayEnd)).toEqual(sim.callsStartedBetween(dayEnd - DAY_MS, dayEnd));
  });

  it('answers by answer time: every call answered in the range, none with an empty date, in answer order', () => {
    const from = startOfDay('2024-02-27', ZONE);
    const to = startOfDay('2024-03-01', ZONE);
    const answered = sim.callsAnsweredBetween(from, to);
    const expected = week
      .map((c) => c.call)
      .filter((c) => c.callTime !== null && c.callTime >= from && c.callTime < to)
      .sort((a, b) => timeOf(a) - timeOf(b) || a.callId.localeCompare(b.callId));
    expect(answered).toEqual(expected);
    expect(answered.length).toBeGreaterThan(3 * 350);
  });

  it('has a call only once the clock has passed its answer', () => {
    const dayEnd = startOfDay('2024-03-02', ZONE) + DAY_MS;
    const [crossing] = sim
      .simulatedCallsStartedBetween(dayEnd - DAY_MS, dayEnd)
      .filter((c) => c.call.callTime !== null && c.call.callTime >= dayEnd);
    if (!crossing) throw new Error('no midnight-crossing call on the 2nd');
    const answeredAt = timeOf(crossing.call);
    const probe = history({ seed: 3, callsPerDay: 400, answerTimes: 'realistic', now: crossing.startedAt + 1000 });
    const has = () => probe.sim.callsStartedBetween(dayEnd - DAY_MS, dayEnd).some((c) => c.callId === crossing.call.callId);
    expect(has()).toBe(false); // ringing, not answered yet
    probe.clock.set(answeredAt);
    expect(has()).toBe(false);
    probe.clock.set(answeredAt + 1000);
    expect(has()).toBe(true);
  });

  it('rejects an unknown answerTimes', () => {
    const clock = new ManualClock(NOW);
    expect(() => new SimulatedHistory({ seed: 1, callsPerDay: 1, zone: ZONE, clock, answerTimes: 'late' as AnswerTimes })).toThrow(RangeError);
  });
});
