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
  `query($n: Int) { ${Array.from({ length: aliases }, (_, i) => `a${i}: serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }, first: $n) { totalCount }`).join(' ')} }`;

describe('request limits', () => {
  it('refuses a year for 1000 clients (366,000 days) whole, before any upstream call', async () => {
    const h = await start();
    const { data, errors } = await h.query(CLIENTS_YEAR, { ids: Array.from({ length: 1000 }, (_, i) => uuid(i)) });
    expect(errors?.[0]?.extensions).toEqual({ code: 'REQUEST_TOO_LARGE', limit: 'REQUEST_MAX_DAYS', asked: 366_000, allowed: 10_000 });
    expect(errors).toHaveLength(1000);
    expect((data as { clients: Array<{ serviceCalls: unknown }> }).clients.every((c) => c.serviceCalls === null)).toBe(true);
    expect(h.upstreamCalls()).toBe(0);
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
});
