import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../support/harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const weekQuery = (from: string, to: string): string => `{ serviceCalls(filter: { periodFrom: "${from}", periodTo: "${to}" }, first: 1) { totalCount } }`;

/** The value of one sample of the scrape, by its name and labels as printed. */
function sample(scrape: string, series: string): number {
  const line = scrape.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no ${series} in the scrape`);
  return Number(line.slice(series.length + 1));
}

describe('/metrics after a scripted sequence through the server', () => {
  it('counts 2 fetched weeks, 1 refusal and 5 cached answers, and reads quota and store at the scrape', async () => {
    harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { CONNECT_DAY_LIMIT: '2' }, metrics: true });
    const h = harness;
    const first = await h.query<{ serviceCalls: { totalCount: number } }, never>(weekQuery('2024-03-04', '2024-03-11'));
    const second = await h.query<{ serviceCalls: { totalCount: number } }, never>(weekQuery('2024-03-11', '2024-03-18'));
    const refused = await h.query(weekQuery('2024-02-26', '2024-03-04'));
    expect(refused.errors?.[0]?.extensions?.code).toBe('QUOTA_EXHAUSTED');
    for (let i = 0; i < 5; i++) expect((await h.query(weekQuery('2024-03-04', '2024-03-11'))).errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(2);
    const held = (first.data?.serviceCalls.totalCount ?? 0) + (second.data?.serviceCalls.totalCount ?? 0);
    expect(held).toBeGreaterThan(1000);

    const response = await h.yoga.fetch('http://yoga.test/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const scrape = await response.text();
    expect(sample(scrape, 'connect_calls_upstream_calls_total{outcome="ok"}')).toBe(2);
    expect(sample(scrape, 'connect_calls_upstream_calls_total{outcome="out_of_limit"}')).toBe(0);
    expect(sample(scrape, 'connect_calls_upstream_call_duration_seconds_count{outcome="ok"}')).toBe(2);
    // Two whole weeks, every row a call answered inside its week (the simulator's CallTime is the start).
    expect(sample(scrape, 'connect_calls_upstream_rows_decoded_total')).toBe(held);
    expect(sample(scrape, 'connect_calls_history_answers_total{source="fetched"}')).toBe(2);
    expect(sample(scrape, 'connect_calls_history_answers_total{source="failed"}')).toBe(1);
    expect(sample(scrape, 'connect_calls_history_answers_total{source="held"}')).toBe(5);
    expect(sample(scrape, 'connect_calls_quota_used_calls')).toBe(2);
    expect(sample(scrape, 'connect_calls_quota_remaining_calls')).toBe(0);
    expect(sample(scrape, 'connect_calls_quota_limit_calls')).toBe(2);
    expect(sample(scrape, 'connect_calls_held_days')).toBe(14);
    expect(sample(scrape, 'connect_calls_held_sealed_days')).toBe(14);
    expect(sample(scrape, 'connect_calls_held_failed_days')).toBe(0);
    expect(sample(scrape, 'connect_calls_held_calls')).toBe(held);
    expect(sample(scrape, 'connect_calls_graphql_operations_total{outcome="ok",code="NONE"}')).toBe(7);
    expect(sample(scrape, 'connect_calls_graphql_operations_total{outcome="partial",code="QUOTA_EXHAUSTED"}')).toBe(1);
    // The scrape itself is not a GraphQL operation and spends nothing.
    expect(h.upstreamCalls()).toBe(2);
  });
});
