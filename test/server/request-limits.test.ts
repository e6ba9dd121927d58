import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../support/harness.js';

/**
 * What one request may ask for is counted as the work it really asks (days of history, calls
 * returned), however it is written: aliases, entity lists, variables. A request too large is refused
 * whole, with REQUEST_TOO_LARGE, before any upstream call.
 */
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const start = async (env: Record<string, string> = {}): Promise<Harness> =>
  (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env }));

const uuid = (i: number): string => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

const CLIENTS_YEAR = `query($ids: [ID!]!) {
  clients(ids: $ids) { serviceCalls(filter: { periodFrom: "2023-03-01", periodTo: "2024-03-01" }, first: 0) { totalCount } }
}`;

const ALIASED_PAGES = (aliases: number): string =>
  `query($n: Int) { ${Array.from({ length: aliases }, (_, i) => `a${i}: serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }, first: $n) { nodes { callId } }`).join(' ')} }`;

describe('request limits', () => {
  it('refuses a year for 1000 clients (366,000 days) whole, before any upstream call', async () => {
    const h = await start();
    const { data, errors } = await h.query(CLIENTS_YEAR, { ids: Array.from({ length: 1000 }, (_, i) => uuid(i)) });
    expect(errors).toHaveLength(1);
    expect(errors?.[0]?.extensions).toEqual({ code: 'REQUEST_TOO_LARGE', limit: 'REQUEST_MAX_DAYS', asked: 366_000, allowed: 10_000 });
    expect(data ?? null).toBeNull();
    expect(h.upstreamCalls()).toBe(0);
  });

  it('refuses a nested request whole before its outer page is fetched', async () => {
    const h = await start();
    const nested = `{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }, first: 200) {
      totalCount nodes { client { serviceCalls(filter: { periodFrom: "2024-02-26", periodTo: "2024-03-04" }, first: 1000) { nodes { callId } } } } } }`;
    const { data, errors } = await h.query(nested);
    // 200 outer calls, each asking a page of 1000 of its client's: 200,200 calls, before any is fetched.
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'REQUEST_TOO_LARGE', limit: 'REQUEST_MAX_CALLS', asked: 200 + 200 * 1000 });
    expect(data ?? null).toBeNull();
    expect(h.upstreamCalls()).toBe(0);
  });

  it('counts no calls for fields that ask only for totals: 500 clients × a week pass', async () => {
    const h = await start();
    const ids = [...h.simulator.history.clients.map((c) => c.clientId), ...Array.from({ length: 475 }, (_, i) => uuid(i))];
    const { data, errors } = await h.query<{ clients: Array<{ serviceCalls: { totalCount: number } }> }, unknown>(
      'query($ids: [ID!]!) { clients(ids: $ids) { serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }) { totalCount } } }',
      { ids },
    );
    expect(errors).toBeUndefined();
    expect(data?.clients).toHaveLength(500);
    const week = h.simulator.history.callsBetween(Date.parse('2024-03-04T00:00:00+03:00'), Date.parse('2024-03-11T00:00:00+03:00'));
    expect(data?.clients.reduce((sum, c) => sum + c.serviceCalls.totalCount, 0)).toBe(week.filter((c) => c.clientId !== null).length);
    expect(h.upstreamCalls()).toBe(1);
  });

  it('counts page sizes passed as variables: 20 pages of 1000 are refused, 10 pass', async () => {
    const h = await start();
    const refused = await h.query(ALIASED_PAGES(20), { n: 1000 });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'REQUEST_TOO_LARGE', limit: 'REQUEST_MAX_CALLS', asked: 20_000 });
    expect(h.upstreamCalls()).toBe(0);
    const allowed = await h.query(ALIASED_PAGES(10), { n: 1000 });
    expect(allowed.errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(1);
  });

  it('follows REQUEST_MAX_DAYS and REQUEST_MAX_CALLS', async () => {
    const h = await start({ REQUEST_MAX_DAYS: '13', REQUEST_MAX_CALLS: '50' });
    expect((await h.query(ALIASED_PAGES(2), { n: 10 })).errors?.[0]?.extensions).toMatchObject({ code: 'REQUEST_TOO_LARGE', limit: 'REQUEST_MAX_DAYS', asked: 14 });
    expect((await h.query(ALIASED_PAGES(1), { n: 51 })).errors?.[0]?.extensions).toMatchObject({ code: 'REQUEST_TOO_LARGE', limit: 'REQUEST_MAX_CALLS' });
    expect((await h.query(ALIASED_PAGES(1), { n: 50 })).errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(1);
  });

  it('lets 100 aliases through and refuses 101 with REQUEST_TOO_LARGE; depth likewise', async () => {
    const h = await start();
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `q${i}: quota { remaining }`).join(' ')} }`;
    expect((await h.query(aliases(100))).errors).toBeUndefined();
    const refused = await h.query(aliases(101));
    expect(refused.errors?.[0]?.extensions?.code).toBe('REQUEST_TOO_LARGE');
    const deep = `{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-05" }) { nodes { client { serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-05" }) { nodes { service { serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-05" }) { nodes { caller { serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-05" }) { nodes { callee { id } } } } } } } } } } } } }`;
    expect((await h.query(deep)).errors?.[0]?.extensions?.code).toBe('REQUEST_TOO_LARGE');
    expect(h.upstreamCalls()).toBe(0);
  });

  it('gives a variable that does not fit its type BAD_USER_INPUT', async () => {
    const h = await start();
    const badEnum = await h.query('query($r: CallResult) { serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-05", callResult: $r }) { totalCount } }', { r: 'NOPE' });
    expect(badEnum.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const badInt = await h.query(ALIASED_PAGES(1), { n: 'abc' });
    expect(badInt.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(h.upstreamCalls()).toBe(0);
  });

  it('bounds the values of a response however aliases repeat them: refused before anything runs', async () => {
    const h = await start();
    const fields = Array.from({ length: 40 }, (_, i) => `x${i}: callTime`).join(' ');
    const wide = `{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }, first: 1000) { nodes { ${fields} } } }`;
    const batch = await h.batch(Array.from({ length: 10 }, () => ({ query: wide })));
    // 10 operations × 1000 calls × 40 values: 400,000 values, more than 200,000.
    const refusals = batch.filter((r) => r.errors?.[0]?.extensions?.code === 'REQUEST_TOO_LARGE');
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals[0]?.errors?.[0]?.extensions).toMatchObject({ limit: 'REQUEST_MAX_VALUES' });
    // The operations within the limit ran (5 × 40,000 values); one upstream call brought their week.
    expect(batch.length - refusals.length).toBe(5);
    expect(h.upstreamCalls()).toBe(1);
  });
});

