import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { SOAP_11_NS, SOAP_12_NS } from '../../src/upstream/history-request.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server.js';
import { FaultSchedule, withBrokenTable } from '../../src/simulator/faults.js';
import { assertWellFormed, basicAuth, parseFault, parseHistoryResponse, postHistory, type ParamName } from './support.js';

const DAY_NOON = Date.parse('2024-03-04T09:00:00Z'); // Monday 12:00 Moscow
const WEEK: Partial<Record<ParamName, string>> = { PeriodFrom: '2024-02-27T00:00:00', PeriodTo: '2024-03-04T00:00:00' };

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function simulator(options: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ clock: new ManualClock(DAY_NOON), seed: 5, callsPerDay: 100, zone: 'Europe/Moscow', dayLimit: 1000, ...options });
  running.push(sim);
  return sim;
}

/** Reads a body chunk by chunk until it ends or `signal` aborts; returns the bytes and how it stopped. */
async function readUntil(res: Response, signal: AbortSignal): Promise<{ bytes: number; ended: boolean }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let bytes = 0;
  const aborted = new Promise<'aborted'>((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
  for (;;) {
    const next = await Promise.race([reader.read(), aborted]);
    if (next === 'aborted') {
      await reader.cancel().catch(() => undefined);
      return { bytes, ended: false };
    }
    if (next.done) return { bytes, ended: true };
    bytes += next.value.length;
  }
}

describe('injected faults at the HTTP level', () => {
  it('delay: answers late, then normally', async () => {
    const sim = await simulator();
    const delayMs = 300;
    sim.inject({ kind: 'delay', ms: delayMs }, 1);
    // Only a lower bound: the answer cannot come before the injected delay has run, however
    // loaded the machine is. No upper bound, which load could break. (The few ms of slack
    // cover timers firing up to a millisecond early.)
    const started = performance.now();
    const res = await postHistory(sim, WEEK);
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(delayMs - 5);
    expect(parseHistoryResponse(await res.text()).rows).toHaveLength(600);
    expect((await postHistory(sim, WEEK)).status).toBe(200);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([['fault-injected', 'delay'], ['success', undefined]]);
    expect(sim.callCount()).toBe(2);
  });

  it('stall: sends headers and the first bytes, then hangs until the client gives up; close() still ends quickly', async () => {
    const sim = await simulator();
    sim.inject({ kind: 'stall', afterBytes: 100 }, 1);
    const res = await postHistory(sim, WEEK);
    expect(res.status).toBe(200);
    const read = await readUntil(res, AbortSignal.timeout(400));
    expect(read).toEqual({ bytes: 100, ended: false });
    // A second stalled request stays open while close() runs.
    sim.inject({ kind: 'stall', afterBytes: 0 }, 1);
    const second = await postHistory(sim, WEEK);
    expect(second.status).toBe(200);
    const closing = sim.close();
    const closedInTime = await Promise.race([closing.then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
    expect(closedInTime).toBe(true);
    await expect(second.text()).rejects.toThrow();
    expect(sim.callCount()).toBe(2);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([['fault-injected', 'stall'], ['fault-injected', 'stall']]);
  });

  it('http-status: answers the status with a plain body for the given number of calls', async () => {
    const sim = await simulator();
    sim.inject({ kind: 'http-status', status: 503 }, 2);
    sim.inject({ kind: 'http-status', status: 403, body: 'Forbidden by proxy' }, 1);
    const statuses: number[] = [];
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await postHistory(sim, WEEK);
      statuses.push(res.status);
      bodies.push(await res.text());
    }
    expect(statuses).toEqual([503, 503, 403, 200]);
    expect(bodies[0]).toBe('503 Service Unavailable');
    expect(bodies[2]).toBe('Forbidden by proxy');
    expect(sim.callCount()).toBe(4);
    expect(sim.received.map((r) => r.fault)).toEqual(['http-status', 'http-status', 'http-status', undefined]);
  });

  it('truncate: sends that many bytes of a real answer and ends cleanly', async () => {
    const sim = await simulator();
    const full = await (await postHistory(sim, WEEK)).text();
    sim.inject({ kind: 'truncate', afterBytes: 5000 }, 1);
    const res = await postHistory(sim, WEEK);
    expect(res.status).toBe(200);
    const cut = Buffer.from(await res.arrayBuffer());
    expect(cut.length).toBe(5000);
    expect(cut.toString('utf8')).toBe(Buffer.from(full, 'utf8').subarray(0, 5000).toString('utf8'));
    expect(() => assertWellFormed(cut.toString('utf8'))).toThrow();
    expect(sim.callCount()).toBe(2);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([['success', undefined], ['fault-injected', 'truncate']]);
  });

  it('malformed: a complete body with a broken tag mid-table, also when there are no rows', async () => {
    const sim = await simulator();
    sim.inject({ kind: 'malformed' }, 2);
    for (const params of [WEEK, { ...WEEK, ClientID: 'no-such-client' }]) {
      const res = await postHistory(sim, params);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('</Valeu>');
      expect(text.trimEnd().endsWith('</soap:Envelope>')).toBe(true);
      expect(() => assertWellFormed(text)).toThrow();
    }
    expect(sim.callCount()).toBe(2);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([['fault-injected', 'malformed'], ['fault-injected', 'malformed']]);
  });

  it('soap-fault: a 1.2 Receiver fault with HTTP 500 by default, or as configured', async () => {
    const sim = await simulator();
    sim.inject({ kind: 'soap-fault' }, 1);
    sim.inject({ kind: 'soap-fault', version: '1.1', httpStatus: 200, code: 'Server', reason: 'Ошибка СУБД' }, 1);
    const first = await postHistory(sim, WEEK);
    expect(first.status).toBe(500);
    expect(first.headers.get('content-type')).toMatch(/^application\/soap\+xml/);
    expect(parseFault(await first.text())).toMatchObject({ envelopeNs: SOAP_12_NS, code: 'soap:Receiver' });
    const second = await postHistory(sim, WEEK);
    expect(second.status).toBe(200);
    expect(second.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(parseFault(await second.text())).toEqual({ envelopeNs: SOAP_11_NS, code: 'soap:Server', reason: 'Ошибка СУБД' });
    expect(sim.callCount()).toBe(2);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([['fault-injected', 'soap-fault'], ['fault-injected', 'soap-fault']]);
  });

  it('result-code: answers the given ResultCode and text in the request’s version', async () => {
    const sim = await simulator();
    sim.inject({ kind: 'result-code', code: 'PARAM_NOT_EXIST', text: 'Параметр не существует' }, 1);
    const res = await postHistory(sim, WEEK, { version: '1.1' });
    expect(res.status).toBe(200);
    expect(parseHistoryResponse(await res.text())).toMatchObject({
      envelopeNs: SOAP_11_NS,
      resultCode: 'PARAM_NOT_EXIST',
      resultText: 'Параметр не существует',
    });
    expect(sim.callCount()).toBe(1);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([['fault-injected', 'result-code']]);
  });

  it('applies a fault without a count until cleared, and never to unauthenticated requests', async () => {
    const sim = await simulator();
    sim.inject({ kind: 'http-status', status: 500 });
    const anonymous = await postHistory(sim, WEEK, { authorization: basicAuth('x', 'y') });
    expect(anonymous.status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await postHistory(sim, WEEK)).status).toBe(500);
    sim.clearFaults();
    expect((await postHistory(sim, WEEK)).status).toBe(200);
    // 1 unauthenticated request (received, not counted, no fault) + 3 faulted + 1 normal call.
    expect(sim.callCount()).toBe(4);
    expect(sim.received).toHaveLength(5);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([
      ['unauthorized', undefined],
      ['fault-injected', 'http-status'],
      ['fault-injected', 'http-status'],
      ['fault-injected', 'http-status'],
      ['success', undefined],
    ]);
  });

  it('does not count replacing faults towards the quota, but counts spoiled real answers', async () => {
    const sim = await simulator({ dayLimit: 2 });
    sim.inject({ kind: 'http-status', status: 503 }, 3);
    for (let i = 0; i < 3; i++) expect((await postHistory(sim, WEEK)).status).toBe(503);
    sim.inject({ kind: 'truncate', afterBytes: 10 }, 1);
    expect(await (await postHistory(sim, WEEK)).text()).toHaveLength(10);
    expect(parseHistoryResponse(await (await postHistory(sim, WEEK)).text()).resultCode).toBe('SUCCESS');
    expect(parseHistoryResponse(await (await postHistory(sim, WEEK)).text()).resultCode).toBe('OUT_OF_LIMIT');
    expect(sim.rules.callsInWindow()).toBe(2);
    expect(sim.callCount()).toBe(6);
    expect(sim.received).toHaveLength(6);
  });

  it('close() ends a pending delayed answer at once', async () => {
    const sim = await simulator();
    // A delay far longer than the test timeout (30 s): had close() waited for the delay, or let
    // the answer out after it, the test would time out. So no wall-clock measurement is needed.
    sim.inject({ kind: 'delay', ms: 10 * 60_000 });
    let settled = false;
    const pending = postHistory(sim, WEEK).then(
      (res) => res.text(),
      (error: unknown) => error,
    );
    void pending.finally(() => (settled = true));
    while (sim.received.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false); // the delayed answer is still pending when close() starts
    await sim.close();
    expect(await pending).toBeInstanceOf(Error);
    expect(sim.callCount()).toBe(1);
    expect(sim.received.map((r) => [r.outcome, r.fault])).toEqual([['fault-injected', 'delay']]);
  });
});

describe('FaultSchedule and withBrokenTable', () => {
  it('takes faults in order and validates them', () => {
    const schedule = new FaultSchedule();
    schedule.inject({ kind: 'delay', ms: 1 }, 2);
    schedule.inject({ kind: 'malformed' }, 1);
    expect([schedule.take()?.kind, schedule.take()?.kind, schedule.take()?.kind, schedule.take()]).toEqual(['delay', 'delay', 'malformed', undefined]);
    expect(() => schedule.inject({ kind: 'http-status', status: 42 })).toThrow(RangeError);
    expect(() => schedule.inject({ kind: 'stall', afterBytes: -1 })).toThrow(RangeError);
    expect(() => schedule.inject({ kind: 'result-code', code: 'SUCCESS', text: '' })).toThrow(RangeError);
    expect(() => schedule.inject({ kind: 'malformed' }, 0)).toThrow(RangeError);
  });

  it('breaks the first piece with rows', () => {
    const pieces = ['<a>\n<row>1</row>\n', '<row>2</row>\n', '\t\t\t\t\t</Value>\n\t\t\t\t</Property>\n</a>'];
    const out = [...withBrokenTable(pieces)];
    expect(out).toHaveLength(3);
    expect(out[0]).toContain('<row>1</row>\n\t\t\t\t\t\t<row>');
    expect(out[0]).toContain('</Valeu>');
    expect(out.slice(1)).toEqual(pieces.slice(1));
  });
});
