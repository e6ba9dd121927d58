import { getNamedType, isEnumType, isInputObjectType, isInterfaceType, isObjectType, isScalarType } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config.js';
import { createHistory } from '../../src/history/create-history.js';
import { schema } from '../../src/schema/index.js';
import { silentLogger } from '../../src/server/logger.js';
import { ManualClock } from '../../src/time/clock.js';
import { buildYoga } from '../../src/yoga.js';
import { type Harness, startHarness } from '../support/harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const WEEK = '{ periodFrom: "2024-03-04", periodTo: "2024-03-11" }';

/** What Federation's subgraph machinery adds, described by its spec, not by us. */
const FEDERATION_OWN = new Set(['_entities', '_service', '_Entity', '_Service', '_Any', 'link__Import', 'link__Purpose', 'FieldSet']);

describe('schema', () => {
  it('describes every type, field, argument and enum value it defines', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || FEDERATION_OWN.has(type.name) || (isScalarType(type) && type.name !== 'DateTime')) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (FEDERATION_OWN.has(field.name)) continue;
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      }
      if (isEnumType(type)) for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
    }
    expect(missing).toEqual([]);
  });

  it('holds the contract names of the design', () => {
    const query = schema.getQueryType();
    const serviceCalls = query?.getFields().serviceCalls;
    // The Federation subgraph schema is sorted (Pothos' toSubGraphSchema): arguments in name order.
    expect(serviceCalls?.args.map((a) => `${a.name}: ${a.type}`)).toEqual([
      'after: String', 'filter: ServiceCallFilter!', 'first: Int', 'maxAge: Int',
    ]);
    // Nullable: a refusal leaves the other fields of a response.
    expect(String(serviceCalls?.type)).toBe('ServiceCallConnection');
    const fields = (name: string): string[] => {
      const type = schema.getType(name);
      return isObjectType(type) || isInputObjectType(type) ? Object.keys(type.getFields()).sort() : [];
    };
    expect(fields('ServiceCallFilter')).toEqual(['callResult', 'clientId', 'periodFrom', 'periodTo', 'serviceId', 'serviceUserId', 'specialistId']);
    expect(fields('ServiceCallConnection')).toEqual(['edges', 'freshness', 'nodes', 'pageInfo', 'stats', 'totalCount']);
    expect(fields('ServiceCall')).toEqual(
      ['id', 'callId', 'clientId', 'serviceUserId', 'serviceId', 'callTime', 'callerId', 'calleeId', 'callResult',
        'durationSeconds', 'direction', 'specialistId', 'client', 'service', 'serviceUser', 'caller', 'callee'].sort(),
    );
    const connection = schema.getType('ServiceCallConnection');
    const stats = isObjectType(connection) ? getNamedType(connection.getFields().stats?.type) : undefined;
    expect(fields(String(stats))).toEqual(['averageDurationSeconds', 'successful', 'total', 'totalDurationSeconds', 'unsuccessful']);
    expect(fields('Quota')).toEqual(['backgroundUsedLastHour', 'limitPerHour', 'maxDaysPerCall', 'nextBackgroundAt', 'nextCallAt', 'periodKind', 'remaining', 'reserve', 'usedLastHour']);
    expect(fields('Freshness')).toEqual(['asOf', 'stale']);
    const enumValues = (name: string): string[] => {
      const type = schema.getType(name);
      return isEnumType(type) ? type.getValues().map((v) => v.name) : [];
    };
    expect(enumValues('CallResult')).toEqual(['SUCCESSFUL', 'UNSUCCESSFUL']);
    expect(enumValues('CallDirection')).toEqual(['INBOUND', 'OUTBOUND', 'UNKNOWN']);
  });
});

describe('server shell', () => {
  it('answers /health and /ready without touching the upstream', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    expect((await h.yoga.fetch('http://yoga.test/health')).status).toBe(200);
    expect((await h.yoga.fetch('http://yoga.test/ready')).status).toBe(200);
    expect(h.upstreamCalls()).toBe(0);
  });

  it('serves GraphiQL to a browser unless GRAPHIQL=false', async () => {
    const on = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const page = await on.yoga.fetch('http://yoga.test/graphql', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('query LastWeek');
    expect(on.upstreamCalls()).toBe(0);
    await on.close();
    const off = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { GRAPHIQL: 'false' } }));
    const none = await off.yoga.fetch('http://yoga.test/graphql', { headers: { accept: 'text/html' } });
    expect(await none.text()).not.toContain('GraphiQL');
    expect(off.upstreamCalls()).toBe(0);
  });

  it('requires a bearer key when API_KEYS is set', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { API_KEYS: 'k-one,k-two' } }));
    const query = `{ serviceCalls(filter: ${WEEK}, first: 0) { totalCount } }`;
    const anonymous = await h.query(query);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const wrong = await h.query(query, undefined, { authorization: 'Bearer k-three' });
    expect(wrong.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(h.upstreamCalls()).toBe(0);
    const allowed = await h.query(query, undefined, { authorization: 'Bearer k-two' });
    expect(allowed.errors).toBeUndefined();
    expect(h.upstreamCalls()).toBe(1);
  });

  it("plans a gateway's batch of operations together: two adjacent periods, one upstream call", async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    // Planned apart, these would be two calls (3 days, then 4); planned together, one of 7 days.
    const results = (await h.batch([
      { query: '{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-07" }) { totalCount } }' },
      { query: '{ serviceCalls(filter: { periodFrom: "2024-03-07", periodTo: "2024-03-11" }, first: 3) { totalCount nodes { callId } } }' },
    ])) as Array<{ data?: { serviceCalls: { totalCount: number } }; errors?: unknown }>;
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined]);
    expect(results.map((r) => r.data?.serviceCalls.totalCount)).toEqual([3 * 120, 4 * 120]);
    expect(h.upstreamCalls()).toBe(1);
  });
});

describe('unexpected errors', () => {
  it('are masked: no internal message reaches the client', async () => {
    const clock = new ManualClock(Date.parse('2024-03-20T10:00:00+03:00'));
    // The source stands in for the upstream; the store does not matter here.
    const settings = loadSettings({ STORE: 'memory' });
    let calls = 0;
    const broken = {
      async *history(): AsyncGenerator<never> {
        calls++;
        throw new Error('internal detail: password=hunter2 at /srv/app');
      },
    };
    const { history, quota } = createHistory(settings, clock, { logger: silentLogger, source: broken });
    const yoga = buildYoga({ settings, clock, quota, history, logger: silentLogger, demo: false });
    const response = await yoga.fetch('http://yoga.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ serviceCalls(filter: ${WEEK}) { totalCount } }` }),
    });
    const text = await response.text();
    expect(JSON.parse(text).errors[0].message).toBe('Unexpected error.');
    expect(text).not.toContain('hunter2');
    expect(calls).toBe(1);
  });
});

describe('request limits', () => {
  it('refuses a request with more aliases than REQUEST_MAX_ALIASES, before any upstream work', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { REQUEST_MAX_ALIASES: '20' } }));
    const fields = Array.from({ length: 21 }, (_, i) => `a${i}: serviceCalls(filter: ${WEEK}, first: 0) { totalCount }`);
    const result = await h.query(`{ ${fields.join('\n')} }`);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.message).toMatch(/aliases limit of 20 exceeded/i);
    expect(result.errors?.[0]?.extensions?.code).toBe('REQUEST_TOO_LARGE');
    expect(h.upstreamCalls()).toBe(0);
  });
});
