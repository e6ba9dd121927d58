import { gunzipSync } from 'node:zlib';
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config.js';
import type { HeldSummary } from '../../src/history/history-store.js';
import type { HistoryService } from '../../src/history/history-service.js';
import { LocalQuota } from '../../src/history/quota-authority.js';
import { QuotaLedger } from '../../src/history/quota-ledger.js';
import { silentLogger } from '../../src/server/logger.js';
import { createMetrics, type ServerMetrics } from '../../src/server/metrics.js';
import { ManualClock } from '../../src/time/clock.js';
import { buildYoga } from '../../src/yoga.js';

const HOUR = 3_600_000;
/** 10:00 in Moscow: daytime (08-20), CONNECT_DAY_LIMIT 10 in force. */
const MORNING = '2024-03-20T10:00:00+03:00';

/**
 * The server's Yoga (buildYoga, every plugin) with metrics, over a quota ledger on a manual clock
 * and a store summary the test sets. The requests used here never reach the history core (types,
 * refusals, a period refused by its resolver), so it is not built.
 */
function setUp(env: Record<string, string> = {}, options: { metrics?: boolean } = {}) {
  const clock = new ManualClock(Date.parse(MORNING));
  const settings = loadSettings({ CONNECT_URL: 'http://127.0.0.1:9/ws', CONNECT_LOGIN: 'login', CONNECT_PASSWORD: 'password', ...env });
  const ledger = new QuotaLedger({ zone: settings.connect.timeZone, dayHours: settings.connect.dayHours, dayLimit: 10, nightLimit: 50 }, clock);
  const store = { summary: { daysHeld: 0, daysSealed: 0, daysFailed: 0, calls: 0 } as HeldSummary, fails: false, reads: 0 };
  const metrics = createMetrics({
    clock,
    quota: async () => ledger.state(),
    held: async () => {
      store.reads++;
      if (store.fails) throw new Error('the store is closed');
      return { ...store.summary };
    },
  });
  const yoga = buildYoga({
    settings,
    clock,
    quota: new LocalQuota(ledger),
    history: {} as HistoryService,
    logger: silentLogger,
    demo: false,
    ...(options.metrics === false ? {} : { metrics }),
  });
  const post = async (body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> => {
    const response = await yoga.fetch('http://yoga.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  };
  const scrape = async (headers: Record<string, string> = {}): Promise<string> => {
    const response = await yoga.fetch('http://yoga.test/metrics', { headers });
    expect(response.status).toBe(200);
    return response.text();
  };
  return { clock, settings, ledger, store, metrics, yoga, post, scrape };
}

/** Every sample of `name` (not its _bucket/_sum/_count unless asked), keyed by its label text ('' without labels). */
function samples(text: string, name: string): Record<string, number> {
  const found: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) found[match[2] ?? ''] = Number(match[3]);
  }
  return found;
}
const value = (text: string, name: string, labels = ''): number | undefined => samples(text, name)[labels];

const WEEK = 'periodFrom: "2024-03-11", periodTo: "2024-03-17"';
const OK = { query: '{ clients(ids: []) { id } }' };
// serviceCalls refuses a period that ends before it starts in its resolver: data (clients) with errors.
const PARTIAL = {
  query: '{ clients(ids: []) { id } a: serviceCalls(filter: { periodFrom: "2024-03-20", periodTo: "2024-03-01" }) { totalCount } b: serviceCalls(filter: { periodFrom: "2024-03-19", periodTo: "2024-03-02" }) { totalCount } }',
};
const INVALID = { query: '{ nope }' };

describe('metrics', () => {
  it('counts GraphQL operations by outcome and error code, each of a batch, refusals before execution included', async () => {
    const { post, scrape, yoga } = setUp({ REQUEST_MAX_ALIASES: '2', REQUEST_MAX_CALLS: '100' });
    expect((await post(OK)).json).toEqual({ data: { clients: [] } });
    expect((await post(OK)).status).toBe(200);
    const partial = (await post(PARTIAL)).json as { data: unknown; errors: Array<{ extensions: { code: string } }> };
    expect(partial.data).toEqual({ clients: [], a: null, b: null });
    expect(partial.errors.map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
    expect((await post(INVALID)).json).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    expect((await post({ query: '{ clients(ids: []) { id }' })).json).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    // graphql-armor (aliases) and the request's planned work (calls returned), before anything runs.
    expect((await post({ query: '{ a: clients(ids: []) { id } b: clients(ids: []) { id } c: clients(ids: []) { id } }' })).json).toMatchObject({
      errors: [{ extensions: { code: 'REQUEST_TOO_LARGE' } }],
    });
    expect((await post({ query: `{ serviceCalls(filter: { ${WEEK} }, first: 101) { nodes { __typename } } }` })).json).toMatchObject({
      errors: [{ extensions: { code: 'REQUEST_TOO_LARGE' } }],
    });
    // A gateway's batch: two operations, each counted.
    expect((await post([OK, INVALID])).json).toMatchObject([{ data: { clients: [] } }, { errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] }]);
    // A body that is not JSON: refused before any operation is read, counted as one.
    expect(await post('{not json')).toMatchObject({ status: 400, json: { errors: [{ extensions: { code: 'BAD_REQUEST' } }] } });
    // Neither /health nor the scrape itself is an operation.
    expect((await yoga.fetch('http://yoga.test/health')).status).toBe(200);
    await scrape();

    const text = await scrape();
    expect(samples(text, 'connect_calls_graphql_operations_total')).toEqual({
      '{outcome="ok",code="NONE"}': 3,
      // Two errors of one code: one operation.
      '{outcome="partial",code="BAD_USER_INPUT"}': 1,
      '{outcome="error",code="GRAPHQL_VALIDATION_FAILED"}': 2,
      '{outcome="error",code="GRAPHQL_PARSE_FAILED"}': 1,
      '{outcome="error",code="REQUEST_TOO_LARGE"}': 2,
      '{outcome="error",code="BAD_REQUEST"}': 1,
    });
    expect(samples(text, 'connect_calls_graphql_operation_duration_seconds_count')).toEqual({
      '{outcome="ok"}': 3,
      '{outcome="partial"}': 1,
      '{outcome="error"}': 6,
    });
    expect(value(text, 'connect_calls_graphql_operation_duration_seconds_bucket', '{le="600",outcome="error"}')).toBe(6);
    expect(value(text, 'connect_calls_graphql_operation_duration_seconds_sum', '{outcome="ok"}')).toBeGreaterThan(0);
  });

  it('counts a request refused for its API key as UNAUTHENTICATED, and serves /metrics without a key', async () => {
    const { post, scrape } = setUp({ API_KEYS: 'k-one,k-two' });
    expect(await post(OK)).toMatchObject({ status: 401, json: { errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] } });
    expect(await post(OK, { authorization: 'Bearer wrong' })).toMatchObject({ status: 401 });
    expect(await post(OK, { authorization: 'Bearer k-two' })).toMatchObject({ status: 200, json: { data: { clients: [] } } });
    const text = await scrape();
    expect(samples(text, 'connect_calls_graphql_operations_total')).toEqual({
      '{outcome="error",code="UNAUTHENTICATED"}': 2,
      '{outcome="ok",code="NONE"}': 1,
    });
    // The keys appear nowhere in the metrics.
    expect(text).not.toMatch(/k-one|k-two/);
  });

  it('counts what the history core reports: upstream calls by outcome and their duration, rows decoded, answers by source', async () => {
    const { metrics, scrape } = setUp();
    let text = await scrape();
    // Every outcome and source is there from the start, at 0.
    expect(samples(text, 'connect_calls_upstream_calls_total')).toEqual({
      '{outcome="ok"}': 0,
      '{outcome="out_of_limit"}': 0,
      '{outcome="refused"}': 0,
      '{outcome="undecodable"}': 0,
      '{outcome="unavailable"}': 0,
      '{outcome="aborted"}': 0,
    });
    expect(samples(text, 'connect_calls_history_answers_total')).toEqual({ '{source="held"}': 0, '{source="fetched"}': 0, '{source="failed"}': 0 });

    const { events } = metrics;
    events.upstreamCall('ok', 1.5);
    events.rowsDecoded(100);
    events.rowsDecoded(23);
    // A year-long fetch of several minutes still lands in a bucket.
    events.upstreamCall('ok', 400);
    events.upstreamCall('unavailable', 120.5);
    events.upstreamCall('aborted', 0.2);
    events.upstreamCall('out_of_limit', 0.7);
    events.answered('held', 2);
    events.answered('fetched', 1);
    events.answered('failed', 1);
    events.answered('held', 1);

    text = await scrape();
    expect(samples(text, 'connect_calls_upstream_calls_total')).toEqual({
      '{outcome="ok"}': 2,
      '{outcome="out_of_limit"}': 1,
      '{outcome="refused"}': 0,
      '{outcome="undecodable"}': 0,
      '{outcome="unavailable"}': 1,
      '{outcome="aborted"}': 1,
    });
    const okBuckets = Object.fromEntries(
      Object.entries(samples(text, 'connect_calls_upstream_call_duration_seconds_bucket'))
        .filter(([labels]) => labels.includes('outcome="ok"'))
        .map(([labels, n]) => [/le="([^"]+)"/.exec(labels)?.[1], n]),
    );
    expect(okBuckets).toEqual({
      '0.1': 0,
      '0.25': 0,
      '0.5': 0,
      '1': 0,
      '2.5': 1,
      '5': 1,
      '10': 1,
      '30': 1,
      '60': 1,
      '120': 1,
      '300': 1,
      '600': 2,
      '+Inf': 2,
    });
    expect(value(text, 'connect_calls_upstream_call_duration_seconds_sum', '{outcome="ok"}')).toBe(401.5);
    expect(value(text, 'connect_calls_upstream_call_duration_seconds_bucket', '{le="120",outcome="unavailable"}')).toBe(0);
    expect(value(text, 'connect_calls_upstream_call_duration_seconds_bucket', '{le="300",outcome="unavailable"}')).toBe(1);
    expect(value(text, 'connect_calls_upstream_rows_decoded_total')).toBe(123);
    expect(samples(text, 'connect_calls_history_answers_total')).toEqual({ '{source="held"}': 3, '{source="fetched"}': 1, '{source="failed"}': 1 });
  });

  it('reads the quota from the ledger at each scrape: used, remaining, the limit in force and an OUT_OF_LIMIT block', async () => {
    const { clock, ledger, scrape } = setUp();
    const quota = async () => {
      const text = await scrape();
      return {
        used: value(text, 'connect_calls_quota_used_calls'),
        remaining: value(text, 'connect_calls_quota_remaining_calls'),
        limit: value(text, 'connect_calls_quota_limit_calls'),
        block: value(text, 'connect_calls_quota_block_remaining_seconds'),
      };
    };
    expect(await quota()).toEqual({ used: 0, remaining: 10, limit: 10, block: 0 });
    expect(ledger.tryAcquire(3)).toBe(true);
    clock.advance(10 * 60_000);
    expect(ledger.acquire()).not.toBeNull();
    expect(await quota()).toEqual({ used: 4, remaining: 6, limit: 10, block: 0 });
    // OUT_OF_LIMIT: calls wait until the oldest of the window is an hour old (50 minutes from now).
    ledger.blockAfterOutOfLimit();
    expect(await quota()).toEqual({ used: 4, remaining: 0, limit: 10, block: 3000 });
    clock.advance(20 * 60_000 + 500);
    expect(await quota()).toEqual({ used: 4, remaining: 0, limit: 10, block: 1799.5 });
    // Night (23:00 Moscow): the night limit, the window and the block long gone.
    clock.set('2024-03-20T23:00:00+03:00');
    expect(await quota()).toEqual({ used: 0, remaining: 50, limit: 50, block: 0 });
    expect(clock.now() - Date.parse(MORNING)).toBe(13 * HOUR);
  });

  it('reads what the store holds once per scrape, and shows NaN when the store cannot answer', async () => {
    const { store, scrape } = setUp();
    store.summary = { daysHeld: 366, daysSealed: 360, daysFailed: 2, calls: 146_400 };
    let text = await scrape();
    expect(value(text, 'connect_calls_held_days')).toBe(366);
    expect(value(text, 'connect_calls_held_sealed_days')).toBe(360);
    expect(value(text, 'connect_calls_held_failed_days')).toBe(2);
    expect(value(text, 'connect_calls_held_calls')).toBe(146_400);
    // Four gauges, one read of the store.
    expect(store.reads).toBe(1);
    store.summary = { daysHeld: 7, daysSealed: 0, daysFailed: 0, calls: 812 };
    text = await scrape();
    expect([value(text, 'connect_calls_held_days'), value(text, 'connect_calls_held_calls')]).toEqual([7, 812]);
    expect(store.reads).toBe(2);

    store.fails = true;
    text = await scrape();
    for (const name of ['connect_calls_held_days', 'connect_calls_held_sealed_days', 'connect_calls_held_failed_days', 'connect_calls_held_calls']) {
      // prom-client writes NaN as "Nan"; Prometheus reads it case-insensitively.
      expect(text).toContain(`\n${name} Nan\n`);
    }
    // The other metrics are still served.
    expect(value(text, 'connect_calls_quota_limit_calls')).toBe(10);
  });

  it('serves GET /metrics as Prometheus text, refuses other methods, and has no route without metrics', async () => {
    const { yoga } = setUp();
    const response = await yoga.fetch('http://yoga.test/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(text).not.toContain('[object Promise]');
    expect(text.endsWith('\n')).toBe(true);
    // Every line is a comment (HELP/TYPE) or a sample: name, optional labels, a number.
    for (const line of text.trimEnd().split('\n')) {
      if (line === '') continue;
      expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.e+-]+|Nan|[+-]Inf))$/);
    }
    expect(text).toContain('# TYPE connect_calls_upstream_calls_total counter');
    expect(text).toContain('# TYPE connect_calls_upstream_call_duration_seconds histogram');
    expect(text).toContain('# TYPE connect_calls_quota_remaining_calls gauge');
    expect(text).toContain('# HELP connect_calls_history_answers_total History questions (serviceCalls fields) answered, by source');
    // The process's default metrics, on this registry.
    expect(value(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');

    for (const method of ['POST', 'PUT', 'DELETE']) {
      const refused = await yoga.fetch('http://yoga.test/metrics', { method, body: method === 'DELETE' ? null : 'x' });
      expect(refused.status).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET');
    }

    const without = setUp({}, { metrics: false });
    expect((await without.yoga.fetch('http://yoga.test/metrics')).status).toBe(404);
    expect((await without.post(OK)).json).toEqual({ data: { clients: [] } });
  });

  it('builds a registry per server: two in one process, each with its own counts, none on the global registry', async () => {
    const first = setUp();
    const second = setUp();
    const third: ServerMetrics = createMetrics({ clock: first.clock, quota: async () => first.ledger.state(), held: async () => first.store.summary });
    expect(new Set([first.metrics.registry, second.metrics.registry, third.registry]).size).toBe(3);
    first.metrics.events.rowsDecoded(5);
    await first.post(OK);
    await first.post(OK);
    await second.post(INVALID);
    const [a, b] = [await first.scrape(), await second.scrape()];
    expect(value(a, 'connect_calls_upstream_rows_decoded_total')).toBe(5);
    expect(value(b, 'connect_calls_upstream_rows_decoded_total')).toBe(0);
    expect(samples(a, 'connect_calls_graphql_operations_total')).toEqual({ '{outcome="ok",code="NONE"}': 2 });
    expect(samples(b, 'connect_calls_graphql_operations_total')).toEqual({ '{outcome="error",code="GRAPHQL_VALIDATION_FAILED"}': 1 });
    expect(value(await third.registry.metrics(), 'connect_calls_upstream_rows_decoded_total')).toBe(0);
    expect(globalRegistry.getMetricsAsArray().map((m) => m.name)).toEqual([]);
  });

  it('serves a gzip scrape to a scraper that accepts it', async () => {
    const { yoga } = setUp();
    const response = await yoga.fetch('http://yoga.test/metrics', { headers: { 'accept-encoding': 'gzip' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(gunzipSync(Buffer.from(await response.arrayBuffer())).toString('utf8')).toContain('# TYPE connect_calls_graphql_operations_total counter');
  });
});
