import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { formatLocal, DAY_MS } from '../../src/time/zone.js';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { HISTORY_COLUMNS } from '../../src/upstream/value-table.js';
import { HISTORY_ACTION, SOAP_11_NS, SOAP_12_NS } from '../../src/upstream/history-request.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import { EXTRA_COLUMN } from '../../src/simulator/faults.js';
import {
  basicAuth,
  callIdsOf,
  historyEnvelope,
  parseFault,
  parseHistoryResponse,
  postHistory,
  soapHeaders,
  timeOf,
  type ParamName,
} from './support.js';

const ZONE = 'Europe/Moscow';
const DAY_NOON = Date.parse('2024-03-04T09:00:00Z'); // Monday 12:00 Moscow
const NIGHT = Date.parse('2024-03-04T20:30:00Z'); // 23:30 Moscow
const HOUR = 3_600_000;
const WEEK: Partial<Record<ParamName, string>> = { PeriodFrom: '2024-02-27T00:00:00', PeriodTo: '2024-03-04T00:00:00' };
const WEEK_FROM = Date.parse('2024-02-26T21:00:00Z');
const WEEK_TO = Date.parse('2024-03-03T21:00:00Z');

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function simulator(options: Partial<SimulatorOptions> & { now?: number } = {}): Promise<{ sim: Simulator; clock: ManualClock }> {
  const clock = new ManualClock(options.now ?? DAY_NOON);
  const sim = await startSimulator({ clock, seed: 11, callsPerDay: 150, zone: ZONE, ...options });
  running.push(sim);
  return { sim, clock };
}

/** A generous quota, for tests that are not about the quota. */
const unlimited = { dayLimit: 10_000, nightLimit: 10_000 };

async function history(sim: Simulator, params: Partial<Record<ParamName, string>>, version: '1.2' | '1.1' = '1.2') {
  const res = await postHistory(sim, params, { version });
  expect(res.status).toBe(200);
  return parseHistoryResponse(await res.text());
}

describe('simulator HTTP: authentication and protocol', () => {
  it('answers 401 with WWW-Authenticate without or with wrong credentials, and counts nothing', async () => {
    const { sim } = await simulator();
    for (const authorization of [null, basicAuth(sim.login, 'wrong'), basicAuth('other', sim.password), 'Bearer token', 'Basic !!!']) {
      const res = await postHistory(sim, WEEK, { authorization });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      await res.text();
    }
    expect(sim.callCount()).toBe(0);
    expect(sim.received).toHaveLength(5);
    expect(sim.received.every((r) => !r.authorized && r.outcome === 'unauthorized' && r.httpStatus === 401)).toBe(true);
  });

  it('accepts a password with : & < " (split on the first colon)', async () => {
    const { sim } = await simulator({ login: 'api-user', password: 'p:a&ss<w"o:rd' });
    const res = await postHistory(sim, WEEK);
    expect(res.status).toBe(200);
    await res.text();
    // Only the part before the first colon is the login: a password cut at its own colon is wrong.
    for (const [login, password] of [['api-user', 'p'], ['api-user:p', 'a&ss<w"o'], ['api-user', 'p:a&ss<w"o:rd ']]) {
      const wrong = await postHistory(sim, WEEK, { authorization: basicAuth(login as string, password as string) });
      expect(wrong.status).toBe(401);
      await wrong.text();
    }
    // 1 authenticated call + 3 refused ones, which are received but not counted.
    expect(sim.callCount()).toBe(1);
    expect(sim.received).toHaveLength(4);
    expect(sim.received.map((r) => r.outcome)).toEqual(['success', 'unauthorized', 'unauthorized', 'unauthorized']);
  });

  it('answers SOAP 1.2 and SOAP 1.1 each in its own version', async () => {
    const { sim } = await simulator();
    for (const [version, ns, contentType] of [
      ['1.2', SOAP_12_NS, 'application/soap+xml'],
      ['1.1', SOAP_11_NS, 'text/xml'],
    ] as const) {
      const res = await postHistory(sim, WEEK, { version });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(`${contentType}; charset=utf-8`);
      const parsed = parseHistoryResponse(await res.text());
      expect(parsed.envelopeNs).toBe(ns);
      expect(parsed.resultCode).toBe('SUCCESS');
      expect(parsed.rows).toHaveLength(6 * 150);
    }
    expect(sim.received.map((r) => [r.soapVersion, r.action, r.outcome])).toEqual([
      ['1.2', HISTORY_ACTION, 'success'],
      ['1.1', HISTORY_ACTION, 'success'],
    ]);
    expect(sim.callCount()).toBe(2);
  });

  it('refuses other methods, paths and media types', async () => {
    const { sim } = await simulator();
    const auth = { Authorization: basicAuth(sim.login, sim.password) };
    const get = await fetch(sim.url, { headers: auth });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const elsewhere = await fetch(sim.url.replace('PartnerWebAPI2', 'Other'), { method: 'POST', headers: auth, body: '' });
    expect(elsewhere.status).toBe(404);
    const json = await fetch(sim.url, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    await Promise.all([get.text(), elsewhere.text(), json.text()]);
    expect(sim.received.map((r) => r.outcome)).toEqual(['method-not-allowed', 'not-found', 'unsupported-media-type']);
    expect(sim.callCount()).toBe(0);
  });

  it('answers unreadable requests with a Client/Sender fault in the right version, and keeps serving', async () => {
    const { sim } = await simulator();
    const cases = [
      { version: '1.2' as const, body: 'not xml at all', code: 'soap:Sender' },
      { version: '1.1' as const, body: '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><x', code: 'soap:Client' },
      { version: '1.2' as const, body: historyEnvelope({ PeriodFrom: '2024-03-01T00:00:00Z' }), code: 'soap:Sender' },
      { version: '1.1' as const, body: historyEnvelope({ CallResult: '7' }, '1.1'), code: 'soap:Client' },
    ];
    for (const { version, body, code } of cases) {
      const res = await postHistory(sim, {}, { version, body });
      expect(res.status).toBe(500);
      const fault = parseFault(await res.text());
      expect(fault.code).toBe(code);
      expect(fault.envelopeNs).toBe(version === '1.2' ? SOAP_12_NS : SOAP_11_NS);
    }
    expect(sim.received.every((r) => r.outcome === 'bad-request' && r.error)).toBe(true);
    const mismatch = await postHistory(sim, {}, { version: '1.2', body: historyEnvelope(WEEK, '1.1') });
    expect(mismatch.status).toBe(500);
    expect(parseFault(await mismatch.text()).code).toBe('soap:VersionMismatch');
    const other = await postHistory(sim, {}, { body: historyEnvelope({}).replace(/GetHistoryOfServiceCalls/g, 'ClientRead') });
    expect(parseFault(await other.text()).code).toBe('soap:Sender');
    expect(sim.received.at(-1)?.outcome).toBe('unknown-operation');
    expect(sim.callCount()).toBe(0);
    expect((await history(sim, WEEK)).rows.length).toBe(900);
    // 4 unreadable + 1 version mismatch + 1 other operation (none counted) + 1 history call.
    expect(sim.callCount()).toBe(1);
    expect(sim.received).toHaveLength(7);
  });

  it('answers PARAM_NOT_EXIST for a parameter the operation does not have', async () => {
    const { sim } = await simulator();
    const body = historyEnvelope(WEEK).replace(
      '</par:Params>',
      '<Property xmlns="http://v8.1c.ru/8.1/data/core" name="Colour"><Value xsi:type="xs:string">red</Value></Property></par:Params>',
    );
    const parsed = parseHistoryResponse(await (await postHistory(sim, {}, { body })).text());
    expect(parsed.resultCode).toBe('PARAM_NOT_EXIST');
    expect(parsed.resultText).toContain('Colour');
    expect(sim.received[0]?.outcome).toBe('param-not-exist');
    expect(sim.callCount()).toBe(1);
    expect(sim.received).toHaveLength(1);
  });
});

describe('simulator HTTP: history and filters', () => {
  it('returns every call of the period with the right cells', async () => {
    const { sim } = await simulator(unlimited);
    const expected = sim.history.callsBetween(WEEK_FROM, WEEK_TO);
    const parsed = await history(sim, WEEK);
    expect(parsed.columns.map((c) => c.name)).toEqual(HISTORY_COLUMNS.map((c) => c.name));
    expect(parsed.rows).toHaveLength(expected.length);
    parsed.rows.forEach((row, i) => {
      const call = expected[i] as ServiceCall;
      const text = (name: string) => (row[name]?.nil ? null : row[name]?.text);
      expect(text('CallID')).toBe(call.callId);
      expect(text('ClientID')).toBe(call.clientId);
      expect(text('ServiceUserID')).toBe(call.serviceUserId);
      expect(text('ServiceID')).toBe(call.serviceId);
      expect(text('CallTime')).toBe(formatLocal(timeOf(call), ZONE));
      expect(text('CallerID')).toBe(call.callerId);
      expect(text('CalleeID')).toBe(call.calleeId);
      expect(text('CallResult')).toBe(call.callResult === 'SUCCESSFUL' ? '1' : '2');
      expect(text('Duration')).toBe(String(call.durationSeconds));
    });
    expect(sim.received[0]).toMatchObject({ outcome: 'success', rows: expected.length, params: { periodFrom: WEEK_FROM, periodTo: WEEK_TO } });
    expect(sim.callCount()).toBe(1);
    expect(sim.received).toHaveLength(1);
  });

  it('applies each filter, and all together, exactly', async () => {
    const { sim } = await simulator(unlimited);
    const all = sim.history.callsBetween(WEEK_FROM, WEEK_TO);
    const sample = all.find((c) => c.clientId && c.serviceId && c.serviceUserId && c.callerId && c.calleeId && c.callResult === 'UNSUCCESSFUL') as ServiceCall;
    const specialist = sim.history.specialists.find((s) => s.specialistId === sample.calleeId || s.specialistId === sample.callerId)?.specialistId as string;
    const cases: [Partial<Record<ParamName, string>>, (c: ServiceCall) => boolean][] = [
      [{ ClientID: sample.clientId as string }, (c) => c.clientId === sample.clientId],
      [{ ServiceUserID: sample.serviceUserId as string }, (c) => c.serviceUserId === sample.serviceUserId],
      [{ ServiceID: sample.serviceId as string }, (c) => c.serviceId === sample.serviceId],
      [{ SpecialistID: specialist }, (c) => c.callerId === specialist || c.calleeId === specialist],
      [{ CallResult: '1' }, (c) => c.callResult === 'SUCCESSFUL'],
      [{ CallResult: '2' }, (c) => c.callResult === 'UNSUCCESSFUL'],
      [{ ClientID: '00000000-0000-4000-8000-000000000000' }, () => false],
      [
        { ClientID: sample.clientId as string, ServiceID: sample.serviceId as string, SpecialistID: specialist, CallResult: '2' },
        (c) => c.clientId === sample.clientId && c.serviceId === sample.serviceId && (c.callerId === specialist || c.calleeId === specialist) && c.callResult === 'UNSUCCESSFUL',
      ],
    ];
    for (const [filter, predicate] of cases) {
      const expected = all.filter(predicate).map((c) => c.callId);
      const got = callIdsOf(await history(sim, { ...WEEK, ...filter }));
      expect(got, JSON.stringify(filter)).toEqual(expected);
      if (!filter.ClientID?.startsWith('0000')) expect(got.length, JSON.stringify(filter)).toBeGreaterThan(0);
    }
    expect(cases).toHaveLength(8);
    expect(sim.callCount()).toBe(8); // one call per case
    expect(sim.received).toHaveLength(8);
  });

  it('takes PeriodFrom inclusive and PeriodTo exclusive, in the zone’s wall time', async () => {
    const { sim } = await simulator(unlimited);
    const call = sim.history.callsBetween(WEEK_FROM, WEEK_TO)[100] as ServiceCall;
    const at = formatLocal(timeOf(call), ZONE);
    const next = formatLocal(timeOf(call) + 1000, ZONE);
    expect(callIdsOf(await history(sim, { PeriodFrom: at, PeriodTo: at }))).toEqual([]);
    expect(callIdsOf(await history(sim, { PeriodFrom: at, PeriodTo: next }))).toContain(call.callId);
    expect(callIdsOf(await history(sim, { PeriodFrom: next, PeriodTo: '2024-03-04T00:00:00' }))).not.toContain(call.callId);
    expect(sim.callCount()).toBe(3);
    expect(sim.received).toHaveLength(3);
  });

  it('has no calls in the future of its clock', async () => {
    const { sim, clock } = await simulator(unlimited);
    const today = { PeriodFrom: '2024-03-04T00:00:00', PeriodTo: '2024-03-05T00:00:00' };
    const morning = callIdsOf(await history(sim, today));
    expect(morning.length).toBeGreaterThan(0);
    expect(morning.length).toBeLessThan(150);
    clock.advance(6 * HOUR);
    const evening = callIdsOf(await history(sim, today));
    expect(evening.length).toBeGreaterThan(morning.length);
    expect(evening.slice(0, morning.length)).toEqual(morning);
    expect(sim.callCount()).toBe(2);
    expect(sim.received).toHaveLength(2);
  });

  it('reads absent PeriodFrom as the start of the history and absent PeriodTo as now', async () => {
    const { sim } = await simulator({ now: NIGHT, firstDay: '2024-02-20' });
    const expected = sim.history.callsBetween(Date.parse('2024-02-19T21:00:00Z'), NIGHT).map((c) => c.callId);
    expect(expected.length).toBeGreaterThan(13 * 150);
    expect(callIdsOf(await history(sim, {}))).toEqual(expected);
    // By day the same request spans more than 7 days and is refused.
    const byDay = await simulator({ firstDay: '2024-02-20' });
    expect((await history(byDay.sim, {})).resultCode).toBe('PERIOD_TOO_LONG');
    // Without a first day, an absent PeriodFrom reaches 30 days back.
    const noStart = await simulator({ now: NIGHT });
    const rows = (await history(noStart.sim, { PeriodTo: '2024-02-10T00:00:00' })).rows;
    expect(rows.length).toBe(noStart.sim.history.callsBetween(NIGHT - 30 * DAY_MS, Date.parse('2024-02-09T21:00:00Z')).length);
    expect(rows.length).toBeGreaterThan(0);
    // One call to each of the three simulators; the refused PERIOD_TOO_LONG call counts too.
    for (const s of [sim, byDay.sim, noStart.sim]) {
      expect(s.callCount()).toBe(1);
      expect(s.received).toHaveLength(1);
    }
    expect(byDay.sim.received[0]?.outcome).toBe('period-too-long');
  });

  it('writes styled answers: shuffled and extra columns, attributes on own lines, empty ValueType', async () => {
    const { sim } = await simulator(unlimited);
    const plain = await history(sim, WEEK);
    sim.setStyle({ shuffleColumns: true, extraColumn: true, attributesOnOwnLines: true, emptyValueType: true });
    const res = await postHistory(sim, WEEK);
    const text = await res.text();
    expect(text).toContain('<ValueType/>');
    expect(text).toMatch(/<Value\n\t+xsi:type="xs:string">/);
    const styled = parseHistoryResponse(text);
    const names = styled.columns.map((c) => c.name);
    expect([...names].sort()).toEqual([...HISTORY_COLUMNS.map((c) => c.name), EXTRA_COLUMN.name].sort());
    expect(names.filter((n) => n !== EXTRA_COLUMN.name)).not.toEqual(HISTORY_COLUMNS.map((c) => c.name));
    const strip = (row: Record<string, { type?: string; nil: boolean; text: string }>) => {
      const { [EXTRA_COLUMN.name]: _extra, ...rest } = row;
      return rest;
    };
    expect(styled.rows.map(strip)).toEqual(plain.rows);
    expect(styled.rows.some((r) => r[EXTRA_COLUMN.name]?.nil === false)).toBe(true);
    // Another answer, another order.
    const again = parseHistoryResponse(await (await postHistory(sim, WEEK)).text());
    expect(again.columns.map((c) => c.name)).not.toEqual(names);
    sim.setStyle({});
    expect((await history(sim, WEEK)).columns.map((c) => c.name)).toEqual(HISTORY_COLUMNS.map((c) => c.name));
    // plain, styled, again, unstyled.
    expect(sim.callCount()).toBe(4);
    expect(sim.received).toHaveLength(4);
  });

  it('streams with backpressure: a reader that does not read holds the writer back', async () => {
    const { sim } = await simulator({ ...unlimited, callsPerDay: 4000, now: NIGHT });
    const total = sim.history.callsBetween(WEEK_FROM, WEEK_TO).length;
    const body = historyEnvelope(WEEK);
    const url = new URL(sim.url);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: { ...soapHeaders('1.2'), Authorization: basicAuth(sim.login, sim.password) } }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    res.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const entry = sim.received[0];
    expect(entry?.rows).toBeGreaterThan(0);
    expect(entry?.rows).toBeLessThan(total / 2);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const parsed = parseHistoryResponse(Buffer.concat(chunks).toString('utf8'));
    expect(parsed.rows).toHaveLength(total);
    expect(entry?.rows).toBe(total);
    expect(sim.callCount()).toBe(1);
    expect(sim.received).toHaveLength(1);
  });
});

describe('simulator HTTP: limits', () => {
  it('answers 10 calls by day, OUT_OF_LIMIT on the 11th, and again after an hour', async () => {
    const { sim, clock } = await simulator();
    for (let i = 0; i < 10; i++) {
      expect((await history(sim, WEEK)).resultCode).toBe('SUCCESS');
      clock.advance(60_000);
    }
    const refused = await history(sim, WEEK);
    expect(refused.resultCode).toBe('OUT_OF_LIMIT');
    expect(refused.resultText).toMatch(/Превышен лимит вызовов операции.*limit reached/);
    clock.set(DAY_NOON + HOUR);
    expect((await history(sim, WEEK)).resultCode).toBe('SUCCESS');
    expect(sim.callCount()).toBe(12);
    expect(sim.received.map((r) => r.outcome)).toEqual([...Array(10).fill('success'), 'out-of-limit', 'success']);
    expect(sim.received[10]?.at).toBe(DAY_NOON + 10 * 60_000);
  });

  it('answers 50 calls at night and refuses the 51st', async () => {
    const { sim } = await simulator({ now: NIGHT, callsPerDay: 5 });
    for (let i = 0; i < 50; i++) expect((await history(sim, WEEK)).resultCode).toBe('SUCCESS');
    expect((await history(sim, WEEK)).resultCode).toBe('OUT_OF_LIMIT');
    expect(sim.callCount()).toBe(51);
    expect(sim.received).toHaveLength(51);
  });

  it('refuses a period over 7 days by day and accepts the same period at night', async () => {
    const long = { PeriodFrom: '2024-02-20T00:00:00', PeriodTo: '2024-02-27T00:00:01' };
    const { sim, clock } = await simulator();
    const refused = await history(sim, long);
    expect(refused.resultCode).toBe('PERIOD_TOO_LONG');
    expect(refused.resultText).toContain('7');
    expect((await history(sim, { ...long, PeriodTo: '2024-02-27T00:00:00' })).resultCode).toBe('SUCCESS');
    expect(sim.rules.callsInWindow()).toBe(2); // the refused period counts towards the quota
    clock.set(NIGHT);
    const accepted = await history(sim, long);
    expect(accepted.resultCode).toBe('SUCCESS');
    expect(accepted.rows.length).toBe(7 * 150);
    expect(sim.received.map((r) => r.outcome)).toEqual(['period-too-long', 'success', 'success']);
    expect(sim.callCount()).toBe(3);
  });

  it('with nightMaxDays, refuses a longer period at night and accepts one of that many days, counting both', async () => {
    const month = { PeriodFrom: '2024-02-02T00:00:00', PeriodTo: '2024-03-04T00:00:00' };
    const unset = await simulator({ now: NIGHT });
    expect((await history(unset.sim, month)).resultCode).toBe('SUCCESS');

    const { sim } = await simulator({ now: NIGHT, nightMaxDays: 7 });
    const refused = await history(sim, month);
    expect(refused.resultCode).toBe('PERIOD_TOO_LONG');
    expect(refused.resultText).toBe('Ночью период не может превышать 7 календарных дней (period too long)');
    expect(refused.rows).toEqual([]);
    const sevenDays = { PeriodFrom: '2024-02-26T00:00:00', PeriodTo: '2024-03-04T00:00:00' };
    expect((await history(sim, { ...sevenDays, PeriodTo: '2024-03-04T00:00:01' })).resultCode).toBe('PERIOD_TOO_LONG');
    const accepted = await history(sim, sevenDays);
    expect(accepted.resultCode).toBe('SUCCESS');
    expect(accepted.rows.length).toBe(7 * 150);
    expect(sim.received.map((r) => r.outcome)).toEqual(['period-too-long', 'period-too-long', 'success']);
    expect(sim.rules.callsInWindow()).toBe(3); // refused periods count towards the quota
    expect(sim.callCount()).toBe(3);
  });
});
