/** The simulator over HTTP with the opt-in realism: answer times, empty dates, windows-1251. */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { formatLocal, startOfDay, DAY_MS } from '../../src/time/zone.js';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import type { ResponseCharset } from '../../src/simulator/charset.js';
import { EMPTY_DATE_TEXT } from '../../src/simulator/value-table-writer.js';
import { basicAuth, callIdsOf, historyEnvelope, parseFault, parseHistoryResponse, postHistory, timeOf, type ParamName } from './support.js';

const ZONE = 'Europe/Moscow';
const NOW = Date.parse('2024-03-06T09:00:00Z'); // Wednesday 12:00 Moscow, daytime
const WEEK: Partial<Record<ParamName, string>> = { PeriodFrom: '2024-02-26T00:00:00', PeriodTo: '2024-03-04T00:00:00' };
const unlimited = { dayLimit: 10_000, nightLimit: 10_000 };
const DECLARATION_1251 = '<?xml version="1.0" encoding="windows-1251"?>\n';

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

describe("simulator with charset: 'windows-1251'", () => {
  const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
  const cp1251 = new TextDecoder('windows-1251');

  it('answers a table in windows-1251: declaration, Content-Type, and otherwise the same document', async () => {
    const sim = await simulator({ charset: 'windows-1251' });
    const utf8 = await simulator();
    const res = await postHistory(sim, WEEK);
    expect(res.headers.get('content-type')).toBe('application/soap+xml; charset=windows-1251');
    const bytes = await bytesOf(res);
    const text = cp1251.decode(bytes);
    expect(text.startsWith(DECLARATION_1251)).toBe(true);
    expect(text.slice(DECLARATION_1251.length)).toBe(await (await postHistory(utf8, WEEK)).text());
    expect(parseHistoryResponse(text).rows).toHaveLength(7 * 200);
    for (const s of [sim, utf8]) {
      expect(s.callCount()).toBe(1);
      expect(s.received).toHaveLength(1);
    }
  });

  it('answers OUT_OF_LIMIT with its Russian text in windows-1251 bytes', async () => {
    const sim = await simulator({ charset: 'windows-1251', dayLimit: 1 });
    await bytesOf(await postHistory(sim, WEEK));
    const res = await postHistory(sim, WEEK);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/soap+xml; charset=windows-1251');
    const bytes = await bytesOf(res);
    // "Превышен" in windows-1251: one byte a letter, not valid UTF-8.
    expect(bytes.includes(Buffer.from([0xcf, 0xf0, 0xe5, 0xe2, 0xfb, 0xf8, 0xe5, 0xed]))).toBe(true);
    expect(() => strictUtf8.decode(bytes)).toThrow(TypeError);
    const text = cp1251.decode(bytes);
    expect(text.startsWith(DECLARATION_1251)).toBe(true);
    const parsed = parseHistoryResponse(text);
    expect(parsed.resultCode).toBe('OUT_OF_LIMIT');
    expect(parsed.resultText).toMatch(/^Превышен лимит вызовов операции GetHistoryOfServiceCalls: 1 в час/);
    expect(sim.received.map((r) => r.outcome)).toEqual(['success', 'out-of-limit']);
    expect(sim.callCount()).toBe(2);
  });

  it('answers Faults and refusals in windows-1251 in either SOAP version', async () => {
    const sim = await simulator({ charset: 'windows-1251' });
    const other = await postHistory(sim, {}, { version: '1.1', body: historyEnvelope({}, '1.1').replace(/GetHistoryOfServiceCalls/g, 'ClientRead') });
    expect(other.status).toBe(500);
    expect(other.headers.get('content-type')).toBe('text/xml; charset=windows-1251');
    const fault = parseFault(cp1251.decode(await bytesOf(other)).slice(DECLARATION_1251.length));
    expect(fault.reason).toBe('Операция ClientRead не поддерживается (not simulated)');

    sim.inject({ kind: 'soap-fault' }, 1);
    const injected = await postHistory(sim, WEEK);
    expect(injected.headers.get('content-type')).toBe('application/soap+xml; charset=windows-1251');
    const bytes = await bytesOf(injected);
    expect(() => strictUtf8.decode(bytes)).toThrow(TypeError);
    expect(parseFault(cp1251.decode(bytes).slice(DECLARATION_1251.length)).reason).toMatch(/^Ошибка при выполнении операции/);

    const unknownParam = historyEnvelope(WEEK).replace(
      '</par:Params>',
      '<Property xmlns="http://v8.1c.ru/8.1/data/core" name="Цвет"><Value xsi:type="xs:string">red</Value></Property></par:Params>',
    );
    const refused = parseHistoryResponse(cp1251.decode(await bytesOf(await postHistory(sim, {}, { body: unknownParam }))));
    expect(refused).toMatchObject({ resultCode: 'PARAM_NOT_EXIST', resultText: 'Параметр не существует: Цвет' });

    // The other operation is received but not counted; the injected fault and the refusal are.
    expect(sim.received.map((r) => r.outcome)).toEqual(['unknown-operation', 'fault-injected', 'param-not-exist']);
    expect(sim.callCount()).toBe(2);
  });

  it('switches charset for the answers that follow; plain-text HTTP errors stay UTF-8', async () => {
    const sim = await simulator();
    const charsetOf = async (res: Response) => {
      await res.arrayBuffer();
      return res.headers.get('content-type');
    };
    expect(await charsetOf(await postHistory(sim, WEEK))).toBe('application/soap+xml; charset=utf-8');
    sim.setCharset('windows-1251');
    expect(await charsetOf(await postHistory(sim, WEEK))).toBe('application/soap+xml; charset=windows-1251');
    expect(await charsetOf(await postHistory(sim, WEEK, { authorization: basicAuth(sim.login, 'wrong') }))).toBe('text/plain; charset=utf-8');
    sim.setCharset('utf-8');
    expect(await charsetOf(await postHistory(sim, WEEK))).toBe('application/soap+xml; charset=utf-8');
    expect(() => sim.setCharset('koi8-r' as ResponseCharset)).toThrow(RangeError);
    expect(sim.received.map((r) => r.outcome)).toEqual(['success', 'success', 'unauthorized', 'success']);
    expect(sim.callCount()).toBe(3);
  });

  it('refuses a charset it cannot write', async () => {
    await expect(startSimulator({ clock: new ManualClock(NOW), charset: 'koi8-r' as ResponseCharset })).rejects.toThrow(RangeError);
  });
});
