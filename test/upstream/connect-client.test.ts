import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { type Simulator, startSimulator } from '../../src/simulator/server.js';
import { ManualClock } from '../../src/time/clock.js';
import { ConnectClient } from '../../src/upstream/connect-client.js';
import {
  ConnectError,
  SoapFaultError,
  UpstreamAuthError,
  UpstreamOutOfLimitError,
  UpstreamProtocolError,
  UpstreamResultError,
  UpstreamUnavailableError,
  ValueConversionError,
} from '../../src/upstream/errors.js';
import type { HistoryRequest } from '../../src/upstream/history-request.js';
import { SEED_RESPONSE } from '../fixtures/seed.js';

const ZONE = 'Europe/Moscow';
const DAY = 86_400_000;
const MONDAY = Date.parse('2024-03-04T00:00:00+03:00');
const WEEK: HistoryRequest = { periodFrom: MONDAY, periodTo: MONDAY + 7 * DAY };

let simulator: Simulator | undefined;
afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function setUp(options: { now: string; password?: string; clientPassword?: string; timeoutMs?: number }) {
  const clock = new ManualClock(Date.parse(options.now));
  simulator = await startSimulator({ clock, seed: 11, callsPerDay: 400, zone: ZONE, password: options.password });
  const client = new ConnectClient({
    url: simulator.url,
    login: simulator.login,
    password: options.clientPassword ?? simulator.password,
    zone: ZONE,
    timeoutMs: options.timeoutMs ?? 2000,
  });
  return { clock, simulator, client };
}

async function collect(client: ConnectClient, request: HistoryRequest): Promise<{ calls: ServiceCall[]; batches: number; error?: ConnectError }> {
  const calls: ServiceCall[] = [];
  let batches = 0;
  try {
    for await (const batch of client.history(request)) {
      batches++;
      calls.push(...batch);
    }
    return { calls, batches };
  } catch (error) {
    if (error instanceof ConnectError) return { calls, batches, error };
    throw error;
  }
}

describe('ConnectClient against the simulator', () => {
  it('streams a week in batches equal to the simulator data, with a password holding : & < "', async () => {
    const password = 'p:a&s<s"w>rd';
    const { client, simulator: sim } = await setUp({ now: '2024-03-20T10:00:00+03:00', password });
    const { calls, batches, error } = await collect(client, WEEK);
    expect(error).toBeUndefined();
    expect(calls).toEqual(sim.history.callsBetween(WEEK.periodFrom as number, WEEK.periodTo as number));
    expect(calls.length).toBe(7 * 400);
    expect(batches).toBeGreaterThan(1);
    expect(sim.callCount()).toBe(1);
    expect(sim.received[0]?.params).toEqual(WEEK);
  });

  it('sends every filter and the simulator applies it', async () => {
    const { client, simulator: sim } = await setUp({ now: '2024-03-20T10:00:00+03:00' });
    const specialist = sim.history.specialists[0]?.specialistId as string;
    const request: HistoryRequest = { ...WEEK, specialistId: specialist, callResult: 'SUCCESSFUL' };
    const { calls, error } = await collect(client, request);
    expect(error).toBeUndefined();
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => (c.callerId === specialist || c.calleeId === specialist) && c.callResult === 'SUCCESSFUL')).toBe(true);
    expect(sim.received[0]?.params).toEqual(request);
    expect(sim.callCount()).toBe(1);
  });

  it('reports wrong credentials as an auth error', async () => {
    const { client, simulator: sim } = await setUp({ now: '2024-03-20T10:00:00+03:00', clientPassword: 'nope' });
    const { error } = await collect(client, WEEK);
    expect(error).toBeInstanceOf(UpstreamAuthError);
    expect(error).toMatchObject({ httpStatus: 401 });
    expect(error?.message).not.toContain('nope');
    expect(sim.received.length).toBe(1);
  });

  it.each([
    ['HTTP 500', { kind: 'http-status', status: 500 } as const, UpstreamUnavailableError, { reason: 'http-status', httpStatus: 500 }],
    ['HTTP 503', { kind: 'http-status', status: 503 } as const, UpstreamUnavailableError, { httpStatus: 503 }],
    ['HTTP 403', { kind: 'http-status', status: 403 } as const, UpstreamAuthError, { httpStatus: 403 }],
    ['SOAP 1.2 Fault', { kind: 'soap-fault', version: '1.2' } as const, SoapFaultError, { httpStatus: 500 }],
    ['SOAP 1.1 Fault', { kind: 'soap-fault', version: '1.1' } as const, SoapFaultError, { httpStatus: 500 }],
    ['a truncated body', { kind: 'truncate', afterBytes: 50_000 } as const, UpstreamProtocolError, { truncated: true, complete: false }],
    ['malformed XML', { kind: 'malformed' } as const, UpstreamProtocolError, { truncated: false, complete: true }],
    ['ResultCode PARAM_NOT_EXIST', { kind: 'result-code', code: 'PARAM_NOT_EXIST', text: 'x' } as const, UpstreamResultError, { resultCode: 'PARAM_NOT_EXIST' }],
  ])('turns %s into its typed error', async (_name, fault, type, fields) => {
    const { client, simulator: sim } = await setUp({ now: '2024-03-20T10:00:00+03:00' });
    sim.inject(fault, 1);
    const { error } = await collect(client, WEEK);
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject(fields);
    expect(sim.callCount()).toBe(1);
    // The fault was for one call only: the next succeeds.
    expect((await collect(client, WEEK)).error).toBeUndefined();
    expect(sim.callCount()).toBe(2);
  });

  it('times out on a body that stalls half way, after handing out only complete rows', async () => {
    const { client, simulator: sim } = await setUp({ now: '2024-03-20T10:00:00+03:00', timeoutMs: 300 });
    sim.inject({ kind: 'stall', afterBytes: 200_000 }, 1);
    const { error, calls } = await collect(client, WEEK);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error).toMatchObject({ reason: 'timeout' });
    // What came before the stall were whole, correct rows: the start of the week, nothing more.
    const week = sim.history.callsBetween(WEEK.periodFrom as number, WEEK.periodTo as number);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThan(week.length);
    expect(calls).toEqual(week.slice(0, calls.length));
    expect(sim.callCount()).toBe(1);
  });

  it('times out when the response does not start in time, and fails fast on a closed port', async () => {
    const { client, simulator: sim } = await setUp({ now: '2024-03-20T10:00:00+03:00', timeoutMs: 200 });
    sim.inject({ kind: 'delay', ms: 1000 }, 1);
    expect((await collect(client, WEEK)).error).toMatchObject({ kind: 'unavailable', reason: 'timeout' });
    expect(sim.callCount()).toBe(1);
    const closed = new ConnectClient({ url: 'http://127.0.0.1:9/cus/ws/PartnerWebAPI2', login: 'a', password: 'b', zone: ZONE, timeoutMs: 1000 });
    expect((await collect(closed, WEEK)).error).toMatchObject({ kind: 'unavailable', reason: 'network' });
    expect(sim.callCount()).toBe(1);
  });

  it('meets OUT_OF_LIMIT after 10 daytime calls in an hour, and succeeds an hour later', async () => {
    const { client, clock, simulator: sim } = await setUp({ now: '2024-03-20T10:00:00+03:00' });
    const day: HistoryRequest = { periodFrom: MONDAY, periodTo: MONDAY + DAY };
    for (let i = 0; i < 10; i++) {
      expect((await collect(client, day)).error).toBeUndefined();
      clock.advance(60_000);
    }
    const { error } = await collect(client, day);
    expect(error).toBeInstanceOf(UpstreamOutOfLimitError);
    expect(error).toMatchObject({ resultCode: 'OUT_OF_LIMIT', kind: 'out-of-limit' });
    clock.set(Date.parse('2024-03-20T11:00:00+03:00'));
    expect((await collect(client, day)).error).toBeUndefined();
    expect(sim.callCount()).toBe(12);
  });

  it('is refused a period over 7 days by day, and served it at night', async () => {
    const { client, clock, simulator: sim } = await setUp({ now: '2024-03-20T12:00:00+03:00' });
    const tenDays: HistoryRequest = { periodFrom: MONDAY, periodTo: MONDAY + 10 * DAY };
    const { error } = await collect(client, tenDays);
    expect(error).toBeInstanceOf(UpstreamResultError);
    expect(error).not.toBeInstanceOf(UpstreamOutOfLimitError);
    clock.set(Date.parse('2024-03-20T22:00:00+03:00'));
    const night = await collect(client, tenDays);
    expect(night.error).toBeUndefined();
    expect(night.calls.length).toBe(10 * 400);
    expect(sim.callCount()).toBe(2);
  });
});

describe('ConnectClient body streaming', () => {
  /** A fetch that answers `body` cut into pieces of `size` bytes, so characters are split across chunks. */
  function chunkedFetch(body: string, size: number, status = 200): { fetch: typeof fetch; requests: Request[] } {
    const requests: Request[] = [];
    const bytes = Buffer.from(body, 'utf8');
    const fakeFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      requests.push(new Request(input, init));
      let offset = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= bytes.length) return controller.close();
          controller.enqueue(new Uint8Array(bytes.subarray(offset, offset + size)));
          offset += size;
        },
      });
      return new Response(stream, { status, headers: { 'content-type': 'application/soap+xml; charset=utf-8' } });
    };
    return { fetch: fakeFetch as typeof fetch, requests };
  }

  it('decodes UTF-8 characters split across chunks, and sends the documented headers', async () => {
    const text = 'Превышен лимит вызовов — 😀 & <ok>';
    const body = `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><m:R xmlns:m="x"><m:return>
      <Property name="ResultCode"><Value>PARAM_NOT_EXIST</Value></Property>
      <Property name="ResultData"><Value>${text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}</Value></Property>
      </m:return></m:R></soap:Body></soap:Envelope>`;
    for (const size of [1, 2, 3, 5]) {
      const { fetch, requests } = chunkedFetch(body, size);
      const client = new ConnectClient({ url: 'http://upstream.test/ws', login: 'api', password: 'p:w&<"', zone: ZONE, timeoutMs: 1000, fetch });
      const { error } = await collect(client, WEEK);
      expect(error).toBeInstanceOf(UpstreamResultError);
      expect(error).toMatchObject({ resultCode: 'PARAM_NOT_EXIST', resultText: text });
      const request = requests[0] as Request;
      expect(request.method).toBe('POST');
      expect(request.headers.get('content-type')).toBe(
        'application/soap+xml; charset=utf-8; action="http://buhphone.com/PartnerWebAPI2#PartnerWebAPI2:GetHistoryOfServiceCalls"',
      );
      expect(request.headers.get('authorization')).toBe(`Basic ${Buffer.from('api:p:w&<"').toString('base64')}`);
      expect(requests).toHaveLength(1);
    }
  });

  /** A client whose upstream answers every request with this 200 body, counting the requests. */
  function answering(body: string | Uint8Array<ArrayBuffer>, contentType: string): { client: ConnectClient; requests: () => number } {
    let requests = 0;
    const fakeFetch = (async () => {
      requests++;
      return new Response(body, { status: 200, headers: { 'content-type': contentType } });
    }) as typeof fetch;
    const client = new ConnectClient({ url: 'http://upstream.test/ws', login: 'a', password: 'b', zone: ZONE, timeoutMs: 1000, fetch: fakeFetch });
    return { client, requests: () => requests };
  }

  it('reports a cut body that is not UTF-8 as a cut protocol error naming the charset', async () => {
    const good = Buffer.from('<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>', 'utf8');
    const body = Buffer.concat([good, Buffer.from([0xff, 0xfe, 0x41])]).toString('latin1');
    const upstream = answering(new Uint8Array(Buffer.from(body, 'latin1')), 'application/soap+xml');
    const { error } = await collect(upstream.client, WEEK);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error?.message).toContain('not valid utf-8');
    expect(error).toMatchObject({ truncated: true, complete: false });
    expect(upstream.requests()).toBe(1);
  });

  const table = (callId: Buffer): Buffer =>
    Buffer.concat([
      Buffer.from(SEED_RESPONSE.slice(0, SEED_RESPONSE.indexOf('5f99f58f-2003-4e1c-a049-2cf58efc68a1')), 'utf8'),
      callId,
      Buffer.from(SEED_RESPONSE.slice(SEED_RESPONSE.indexOf('5f99f58f-2003-4e1c-a049-2cf58efc68a1') + 36), 'utf8'),
    ]);

  it('reports a whole SUCCESS table with bytes not in its charset as complete, naming the charset, with no rows', async () => {
    // windows-1251 bytes (АБВ) in a body said to be UTF-8.
    const upstream = answering(new Uint8Array(table(Buffer.from([0xc0, 0xc1, 0xc2]))), 'text/xml; charset=utf-8');
    const { error, calls } = await collect(upstream.client, WEEK);
    expect(calls).toEqual([]);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error?.message).toContain('not valid utf-8 (from the HTTP Content-Type)');
    expect(error).toMatchObject({ complete: true, truncated: false });
    expect(upstream.requests()).toBe(1);
  });

  it('reports a charset it cannot decode as a complete protocol error naming it', async () => {
    const upstream = answering(new Uint8Array(table(Buffer.from('x'))), 'text/xml; charset=x-no-such-charset');
    const { error } = await collect(upstream.client, WEEK);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error?.message).toContain('"x-no-such-charset" (from the HTTP Content-Type) is not one this server can decode');
    expect(error).toMatchObject({ complete: true });
    expect(upstream.requests()).toBe(1);
  });

  it('decodes a windows-1251 table by its charset, Cyrillic intact', async () => {
    const upstream = answering(new Uint8Array(table(Buffer.from([0xc0, 0xc1, 0xc2]))), 'text/xml; charset=windows-1251');
    const { error, calls } = await collect(upstream.client, WEEK);
    expect(error).toBeUndefined();
    expect(calls[0]?.callId).toBe('АБВ');
    expect(upstream.requests()).toBe(1);
  });

  it('reports a complete response with a bad value as complete, naming row and column, in one request', async () => {
    const bad = SEED_RESPONSE.replace('<Value xsi:type="xs:decimal">24</Value>', '<Value xsi:type="xs:decimal">24.5</Value>');
    const upstream = answering(bad, 'application/soap+xml; charset=utf-8');
    const { error, calls } = await collect(upstream.client, WEEK);
    expect(error).toBeInstanceOf(ValueConversionError);
    expect(error).toMatchObject({ row: 2, column: 'Duration', complete: true });
    expect(calls.length).toBeLessThanOrEqual(1);
    expect(upstream.requests()).toBe(1);
  });

  it('reports a 200 answer that is not XML (a proxy page) as a protocol error', async () => {
    const upstream = answering('<html>Sign in</html>', 'text/html');
    const { error } = await collect(upstream.client, WEEK);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error?.message).toContain('text/html');
    expect(upstream.requests()).toBe(1);
  });
});

describe('ConnectClient hygiene', () => {
  const fault = (reason: string): string =>
    `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>` +
    `<soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code><soap:Reason><soap:Text>${reason}</soap:Text></soap:Reason>` +
    `</soap:Fault></soap:Body></soap:Envelope>`;

  it('takes the password and the Authorization value out of texts the upstream echoes', async () => {
    const password = 'Zq7-SECRETPW-xy';
    const basic = Buffer.from(`api:${password}`).toString('base64');
    let requests = 0;
    const fakeFetch = (async () => {
      requests++;
      return new Response(fault(`login api with password ${password} failed; header Basic ${basic}`), {
        status: 500,
        headers: { 'content-type': 'application/soap+xml' },
      });
    }) as typeof fetch;
    const client = new ConnectClient({ url: 'http://upstream.test/ws', login: 'api', password, zone: ZONE, timeoutMs: 1000, fetch: fakeFetch });
    const { error } = await collect(client, WEEK);
    expect(error).toBeInstanceOf(SoapFaultError);
    const text = JSON.stringify({ message: error?.message, ...error?.toJSON() });
    expect(text).not.toContain(password);
    expect(text).not.toContain(basic);
    expect((error as SoapFaultError).faultReason).toBe('login api with password [redacted] failed; header Basic [redacted]');
    expect(requests).toBe(1);
  });

  it('leaves no listener on the caller signal after each call, however many calls share it', async () => {
    const shutdown = new AbortController();
    let requests = 0;
    const fakeFetch = (async () => {
      requests++;
      return new Response(SEED_RESPONSE, { status: 200, headers: { 'content-type': 'application/soap+xml; charset=utf-8' } });
    }) as typeof fetch;
    const client = new ConnectClient({ url: 'http://upstream.test/ws', login: 'a', password: 'b', zone: ZONE, timeoutMs: 1000, fetch: fakeFetch });
    for (let i = 0; i < 15; i++) {
      for await (const batch of client.history(WEEK, shutdown.signal)) expect(batch.length).toBeGreaterThan(0);
    }
    expect(EventEmitter.getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    expect(requests).toBe(15);
  });

  it('says a body broken off after the headers came was broken off, not unreachable', async () => {
    let requests = 0;
    const fakeFetch = (async () => {
      requests++;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(SEED_RESPONSE.slice(0, 500)));
          controller.error(new TypeError('terminated', { cause: new Error('other side closed') }));
        },
      });
      return new Response(stream, { status: 200, headers: { 'content-type': 'application/soap+xml; charset=utf-8' } });
    }) as typeof fetch;
    const client = new ConnectClient({ url: 'http://upstream.test/ws', login: 'a', password: 'b', zone: ZONE, timeoutMs: 1000, fetch: fakeFetch });
    const { error } = await collect(client, WEEK);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect(error?.message).toBe('1C-Connect (http://upstream.test/ws) broke off its response: other side closed');
    expect(requests).toBe(1);
  });
});
