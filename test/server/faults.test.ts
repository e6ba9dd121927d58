import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/server/logger.js';
import type { Fault } from '../../src/simulator/faults.js';
import { type Harness, startHarness } from '../support/harness.js';
import { CallCount, Quota, ServiceCallsPage } from '../support/operations.js';

const WEEK = { periodFrom: '2024-03-04T00:00:00', periodTo: '2024-03-11T00:00:00' };
const OTHER_WEEK = { periodFrom: '2024-02-26T00:00:00', periodTo: '2024-03-04T00:00:00' };

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const cases: Array<[string, Fault, Record<string, unknown>]> = [
  ['HTTP 500', { kind: 'http-status', status: 500 }, { code: 'UPSTREAM_UNAVAILABLE' }],
  ['a body that stalls half way', { kind: 'stall', afterBytes: 3000 }, { code: 'UPSTREAM_UNAVAILABLE' }],
  ['a truncated body', { kind: 'truncate', afterBytes: 20_000 }, { code: 'UPSTREAM_UNAVAILABLE' }],
  ['a SOAP 1.2 Fault', { kind: 'soap-fault', version: '1.2' }, { code: 'UPSTREAM_ERROR', upstreamCode: 'soap:Receiver' }],
  ['a SOAP 1.1 Fault with HTTP 500', { kind: 'soap-fault', version: '1.1', httpStatus: 500 }, { code: 'UPSTREAM_ERROR', upstreamCode: 'soap:Server' }],
  ['HTTP 401', { kind: 'http-status', status: 401 }, { code: 'UPSTREAM_AUTH_FAILED' }],
  ['HTTP 403', { kind: 'http-status', status: 403 }, { code: 'UPSTREAM_AUTH_FAILED' }],
  ['a redirect', { kind: 'http-status', status: 302 }, { code: 'UPSTREAM_UNAVAILABLE' }],
  ['ResultCode PARAM_NOT_EXIST', { kind: 'result-code', code: 'PARAM_NOT_EXIST', text: 'bad parameter' }, { code: 'UPSTREAM_ERROR', upstreamCode: 'PARAM_NOT_EXIST' }],
];

// Each fault once with the upstream call made on the serving thread, and once through the ingest
// worker: the error must cross the thread as the same typed error.
describe.each(['in-process', 'worker'] as const)('upstream faults (%s ingest)', (ingest) => {
  it.each(cases)('%s: a documented error, a healthy server, nothing kept, and success once it is gone', async (_name, fault, extensions) => {
    const h = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { CONNECT_TIMEOUT_MS: '400' }, ingest });
    harness = h;
    // A week already held, to show the server stays healthy beside the failure.
    expect((await h.query(CallCount, { filter: OTHER_WEEK })).errors).toBeUndefined();

    h.simulator.inject(fault, 1);
    const failed = await h.query(ServiceCallsPage, { filter: WEEK, first: 1000 });
    expect(failed.data).toEqual({ serviceCalls: null });
    expect(failed.errors).toHaveLength(1);
    expect(failed.errors?.[0]?.extensions).toEqual(extensions);
    expect(failed.errors?.[0]?.message).not.toMatch(/unexpected error/i);
    expect(h.upstreamCalls()).toBe(2);

    const health = await h.yoga.fetch('http://yoga.test/health');
    expect(health.status).toBe(200);
    expect((await h.query(CallCount, { filter: OTHER_WEEK })).errors).toBeUndefined();
    expect((await h.query(Quota)).data?.quota?.usedLastHour).toBe(2);
    expect(h.upstreamCalls()).toBe(2);

    // Nothing of the failed response was kept: the retry calls again and holds exactly the week.
    const retried = await h.query(ServiceCallsPage, { filter: WEEK, first: 1000 });
    expect(retried.errors).toBeUndefined();
    const expected = h.simulator.history.callsBetween(Date.parse('2024-03-04T00:00:00+03:00'), Date.parse('2024-03-11T00:00:00+03:00'));
    expect(retried.data?.serviceCalls?.nodes.map((n) => n.callId)).toEqual(expected.map((c) => c.callId));
    expect(retried.data?.serviceCalls?.totalCount).toBe(expected.length);
    expect(h.upstreamCalls()).toBe(3);
  });

  it('malformed XML in a body that arrived whole: UPSTREAM_ERROR, its days not asked again until FAILED_RETRY_SECONDS pass', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { FAILED_RETRY_SECONDS: '600' }, ingest }));
    h.simulator.inject({ kind: 'malformed' }, 1);
    const failed = await h.query(CallCount, { filter: WEEK });
    expect(failed.data).toEqual({ serviceCalls: null });
    expect(failed.errors?.[0]?.extensions).toEqual({ code: 'UPSTREAM_ERROR', retryAfterSeconds: 600 });
    expect(failed.errors?.[0]?.message).toMatch(/malformed XML/);
    for (let i = 0; i < 5; i++) {
      h.clock.advance(60_000);
      expect((await h.query(CallCount, { filter: WEEK, maxAge: 0 })).errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    }
    expect(h.upstreamCalls()).toBe(1);
    h.clock.advance(5 * 60_000);
    const retried = await h.query(CallCount, { filter: WEEK });
    expect(retried.errors).toBeUndefined();
    expect(retried.data?.serviceCalls?.totalCount).toBe(7 * 120);
    expect(h.upstreamCalls()).toBe(2);
  });

  it('reports wrong credentials as UPSTREAM_AUTH_FAILED and never shows the password', async () => {
    const password = 'wr0ng:p&ss<"word>';
    const h = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { CONNECT_PASSWORD: password }, ingest });
    harness = h;
    const response = await h.yoga.fetch('http://yoga.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }) { totalCount } }' }),
    });
    const text = await response.text();
    expect(JSON.parse(text).errors[0].extensions).toEqual({ code: 'UPSTREAM_AUTH_FAILED' });
    expect(text).not.toContain('wr0ng');
    expect(text).not.toContain(Buffer.from(`${h.simulator.login}:${password}`).toString('base64'));
    expect(h.upstreamCalls()).toBe(1);
  });

  it('never writes the password, or the Basic credentials, to a log line', async () => {
    const password = 's3cr3t:p&ss<"word>';
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(line) } });
    const h = await startHarness({
      now: '2024-03-20T10:00:00+03:00',
      env: { CONNECT_PASSWORD: password, CONNECT_TIMEOUT_MS: '400' },
      simulator: { password },
      logger,
      ingest,
    });
    harness = h;
    expect((await h.query(CallCount, { filter: OTHER_WEEK })).errors).toBeUndefined();
    for (const fault of [{ kind: 'http-status', status: 401 }, { kind: 'soap-fault' }, { kind: 'malformed' }] as Fault[]) {
      h.simulator.inject(fault, 1);
      expect((await h.query(CallCount, { filter: WEEK })).errors).toHaveLength(1);
    }
    expect(h.upstreamCalls()).toBe(4);
    const log = lines.join('');
    expect(log).toContain('upstream call completed');
    expect(log).toContain('upstream call failed');
    expect(log).not.toContain('s3cr3t');
    expect(log).not.toContain(Buffer.from(`${h.simulator.login}:${password}`).toString('base64'));
  });
});
