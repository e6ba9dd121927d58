/** The simulator over HTTP with the opt-in realism: answer times, empty dates. */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { formatLocal, startOfDay, DAY_MS } from '../../src/time/zone.js';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import { EMPTY_DATE_TEXT } from '../../src/simulator/value-table-writer.js';
import { callIdsOf, parseHistoryResponse, postHistory, timeOf, type ParamName } from './support.js';

const ZONE = 'Europe/Moscow';
const NOW = Date.parse('2024-03-06T09:00:00Z'); // Wednesday 12:00 Moscow, daytime
const WEEK: Partial<Record<ParamName, string>> = { PeriodFrom: '2024-02-26T00:00:00', PeriodTo: '2024-03-04T00:00:00' };
const unlimited = { dayLimit: 10_000, nightLimit: 10_000 };

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function simulator(options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ clock: new ManualClock(NOW), seed: 42, callsPerDay: 200, zone: ZONE, ...unlimited, ...options });
  running.push(sim);
  return sim;
}

const wall = (instant: number): string => formatLocal(instant, ZONE);
const day = (localDay: string): Partial<Record<ParamName, string>> => ({
  PeriodFrom: `${localDay}T00:00:00`,
  PeriodTo: wall(startOfDay(localDay, ZONE) + DAY_MS),
});

async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

describe('simulator with realism off (the default)', () => {
  // The bytes answered before callTime could be null (commit ddac5a5), pinned: tests elsewhere rely on them.
  it('answers exactly the bytes of before, in UTF-8 without a declaration', async () => {
    const sim = await startSimulator({ clock: new ManualClock(NOW), seed: 42, callsPerDay: 200, zone: ZONE });
    running.push(sim);
    for (const [version, contentType, length, digest] of [
      ['1.2', 'application/soap+xml; charset=utf-8', 929093, '7d49edcfd54bca3d5ccb3844a46f0fcb791038fb87c20c3b585d112621d6a074'],
      ['1.1', 'text/xml; charset=utf-8', 929095, 'aab45e090db0dc3fb6b721b43522e3797767321908cecafb853bef64e3b80c23'],
    ] as const) {
      const res = await postHistory(sim, WEEK, { version });
      expect(res.headers.get('content-type')).toBe(contentType);
      const bytes = await bytesOf(res);
      expect(bytes.subarray(0, 14).toString('utf8')).toBe('<soap:Envelope');
      expect(bytes.length).toBe(length);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(digest);
    }
    expect(sim.callCount()).toBe(2);
    expect(sim.received).toHaveLength(2);
  });
});

describe("simulator with answerTimes: 'realistic'", () => {
  it('selects periods by start: rang in the period and answered after it is in; answered in it but rang before is out', async () => {
    const sim = await simulator({ answerTimes: 'realistic' });
    const dayEnd = startOfDay('2024-02-29', ZONE);
    const crossing = sim.history
      .simulatedCallsStartedBetween(dayEnd - DAY_MS, dayEnd)
      .find((c) => c.call.callTime !== null && c.call.callTime >= dayEnd);
    if (!crossing) throw new Error('no call crossing into the 29th');
    const { call } = crossing;

    // The 28th's answer holds the call, written with its answer time on the 29th.
    const the28th = parseHistoryResponse(await (await postHistory(sim, day('2024-02-28'))).text());
    expect(callIdsOf(the28th)).toEqual(sim.history.callsStartedBetween(dayEnd - DAY_MS, dayEnd).map((c) => c.callId));
    const row = the28th.rows.find((r) => r['CallID']?.text === call.callId);
    expect(row?.['CallTime']?.text).toBe(wall(timeOf(call)));
    expect(row?.['CallTime']?.text.startsWith('2024-02-29T00:00:')).toBe(true);
    // The 29th's answer does not, though the call was answered on the 29th.
    const the29th = callIdsOf(parseHistoryResponse(await (await postHistory(sim, day('2024-02-29'))).text()));
    expect(the29th).not.toContain(call.callId);
    expect(the29th).toEqual(sim.history.callsStartedBetween(dayEnd, dayEnd + DAY_MS).map((c) => c.callId));

    // Inside a day too: a period holding only the second a call started returns it; one holding
    // its answer but not its start does not.
    const ringing = sim.history
      .simulatedCallsStartedBetween(dayEnd - DAY_MS, dayEnd - 3600_000)
      .find((c) => c.call.callTime !== null && c.call.callTime - c.startedAt >= 5000);
    if (!ringing) throw new Error('no call ringing 5 s or more on the 28th');
    const { startedAt } = ringing;
    const answeredAt = timeOf(ringing.call);
    const atStart = callIdsOf(parseHistoryResponse(await (await postHistory(sim, { PeriodFrom: wall(startedAt), PeriodTo: wall(startedAt + 1000) })).text()));
    expect(atStart).toContain(ringing.call.callId);
    const aroundAnswer = callIdsOf(
      parseHistoryResponse(await (await postHistory(sim, { PeriodFrom: wall(startedAt + 1000), PeriodTo: wall(answeredAt + 1000) })).text()),
    );
    expect(aroundAnswer).not.toContain(ringing.call.callId);

    expect(sim.callCount()).toBe(4);
    expect(sim.received).toHaveLength(4);
  });

  it('has calls answered after midnight in the answer of every day', async () => {
    const sim = await simulator({ answerTimes: 'realistic', seed: 7, callsPerDay: 120 });
    const days = ['2024-03-01', '2024-03-02', '2024-03-03'];
    for (const [i, localDay] of days.entries()) {
      const next = days[i + 1] ?? '2024-03-04';
      const parsed = parseHistoryResponse(await (await postHistory(sim, day(localDay))).text());
      expect(parsed.rows.length, localDay).toBe(120);
      expect(parsed.rows.some((r) => r['CallTime']?.text.startsWith(`${next}T`)), localDay).toBe(true);
    }
    expect(sim.callCount()).toBe(3);
    expect(sim.received).toHaveLength(3);
  });

  it("writes a call never answered with 1C's empty date, as an xs:dateTime", async () => {
    const sim = await simulator({ answerTimes: 'realistic' });
    const from = startOfDay('2024-02-26', ZONE);
    const expected = sim.history.callsStartedBetween(from, from + 7 * DAY_MS).filter((c) => c.callTime === null);
    expect(expected.length).toBeGreaterThan(10);
    const parsed = parseHistoryResponse(await (await postHistory(sim, WEEK)).text());
    const empty = parsed.rows.filter((r) => r['CallTime']?.text === EMPTY_DATE_TEXT);
    expect(EMPTY_DATE_TEXT).toBe('0001-01-01T00:00:00');
    expect(empty.map((r) => r['CallID']?.text)).toEqual(expected.map((c: ServiceCall) => c.callId));
    for (const row of empty) {
      expect(row['CallTime']).toEqual({ type: 'xs:dateTime', nil: false, text: '0001-01-01T00:00:00' });
      expect(row['CallResult']?.text).toBe('2');
      expect(row['Duration']?.text).toBe('0');
    }
    expect(sim.callCount()).toBe(1);
    expect(sim.received).toHaveLength(1);
  });
});
