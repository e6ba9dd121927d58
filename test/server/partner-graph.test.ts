import { buildSubgraphSchema } from '@apollo/subgraph';
import { stitchingDirectives } from '@graphql-tools/stitching-directives';
import { type ExecutionResult, graphql, type GraphQLSchema, parse } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import { federationGateway, stitchingGateway } from '../../src/partner-graph-example/gateways.js';
import { federationPartnerSubgraph, type PartnerClient, stitchingPartnerSubgraph } from '../../src/partner-graph-example/partner-subgraph.js';
import { startOfDay } from '../../src/time/zone.js';
import { specialistOf } from '../../src/domain/service-call.js';
import { type Harness, startHarness } from '../support/harness.js';

/**
 * Our server inside a partner's graph: a partner subgraph owns Client's name, we own its calls. The
 * gateway (schema stitching from our _sdl, or Federation from a composed supergraph) sends every
 * client's question to us in one request, and that request costs one upstream call for one week.
 */
const ZONE = 'Europe/Moscow';
const WEEK = { periodFrom: '2024-03-04', periodTo: '2024-03-11' };
const { stitchingDirectivesTypeDefs } = stitchingDirectives();

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** The partner's clients: the simulator's first ones, named by the partner. */
function partnerClients(h: Harness, count: number): PartnerClient[] {
  return h.simulator.history.clients.slice(0, count).map((c, i) => ({ id: c.clientId, name: `Partner client ${i + 1}` }));
}

/** `count` partner clients: the simulator's, then clients with no calls (IDs it never uses). */
function manyPartnerClients(h: Harness, count: number): PartnerClient[] {
  const known = partnerClients(h, count);
  for (let i = known.length; i < count; i++) known.push({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `Partner client ${i + 1}` });
  return known;
}

/** Calls of a client in the week, by the simulator's own account. */
function expectedCount(h: Harness, clientId: string): number {
  const from = startOfDay('2024-03-04', ZONE);
  const to = startOfDay('2024-03-11', ZONE);
  return h.simulator.history.callsBetween(from, to).filter((c) => c.clientId === clientId).length;
}

/** Our server as a gateway reaches it over HTTP (in-process), counting the requests it gets. */
function ourEndpoint(h: Harness) {
  let requests = 0;
  const fetch = ((input: string | URL | Request, init?: RequestInit) => {
    requests++;
    return (h.yoga.fetch as (url: string, init?: RequestInit) => Promise<Response>)(String(input), init);
  }) as typeof globalThis.fetch;
  return { fetch, requests: () => requests };
}

const CLIENT_CALLS = `{
  partnerClients {
    name
    serviceCalls(filter: { periodFrom: "${WEEK.periodFrom}", periodTo: "${WEEK.periodTo}" }) { totalCount }
  }
}`;

interface ClientCallsData {
  partnerClients: Array<{ name: string; serviceCalls: { totalCount: number } | null }>;
}

async function run<T = ClientCallsData>(gateway: GraphQLSchema, source: string): Promise<ExecutionResult<T>> {
  // A fresh context per request: the gateway's batching and loaders live as long as it.
  return (await graphql({ schema: gateway, source, contextValue: {} })) as unknown as ExecutionResult<T>;
}

/** A stitching gateway over the partner's subgraph and ours, built from our `_sdl` (the example's). */
async function stitchingGatewayOf(h: Harness, clients: PartnerClient[], ours: ReturnType<typeof ourEndpoint>): Promise<GraphQLSchema> {
  const sdl = (await h.query<{ _sdl: string }, never>('{ _sdl }')).data?._sdl as string;
  const partner = stitchingPartnerSubgraph(clients);
  return stitchingGateway(
    { url: 'http://connect.test/graphql', sdl, fetch: ours.fetch },
    { url: 'http://partner.test/graphql', sdl: partner.sdl, fetch: partner.yoga.fetch as typeof fetch },
  );
}

/** A Federation gateway over a supergraph composed from our `_service.sdl` and the partner's subgraph. */
async function federationGatewayOf(h: Harness, clients: PartnerClient[], ours: ReturnType<typeof ourEndpoint>): Promise<GraphQLSchema> {
  const sdl = (await h.query<{ _service: { sdl: string } }, never>('{ _service { sdl } }')).data?._service.sdl as string;
  const partner = federationPartnerSubgraph(clients);
  return federationGateway(
    { url: 'http://connect.test/graphql', sdl, fetch: ours.fetch },
    { url: 'http://partner.test/graphql', sdl: partner.sdl, fetch: partner.yoga.fetch as typeof fetch },
  );
}

describe.each([
  ['schema stitching', stitchingGatewayOf],
  ['Federation v2', federationGatewayOf],
])('%s', (_name, gatewayOf) => {
  it('asks for 5 clients over one uncached week in one request and one upstream call; again, none', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const clients = partnerClients(h, 5);
    const ours = ourEndpoint(h);
    const gateway = await gatewayOf(h, clients, ours);
    const first = await run(gateway, CLIENT_CALLS);
    expect(first.errors).toBeUndefined();
    expect(first.data?.partnerClients).toEqual(
      clients.map((c) => ({ name: c.name, serviceCalls: { totalCount: expectedCount(h, c.id) } })),
    );
    expect(first.data?.partnerClients.some((c) => (c.serviceCalls?.totalCount ?? 0) > 0)).toBe(true);
    expect(ours.requests()).toBe(1);
    expect(h.upstreamCalls()).toBe(1);

    // Each total is what our own serviceCalls says for that client.
    for (const c of clients.slice(0, 2)) {
      const direct = await h.query<{ serviceCalls: { totalCount: number } }, unknown>(
        'query($f: ServiceCallFilter!) { serviceCalls(filter: $f) { totalCount } }',
        { f: { ...WEEK, clientId: c.id } },
      );
      expect(direct.data?.serviceCalls.totalCount).toBe(first.data?.partnerClients.find((p) => p.name === c.name)?.serviceCalls?.totalCount);
    }
    const again = await run(gateway, CLIENT_CALLS);
    expect(again.data).toEqual(first.data);
    expect(ours.requests()).toBe(2);
    expect(h.upstreamCalls()).toBe(1);
  });

  it('asks for 50 clients in one request and one upstream call, within the request limits', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const clients = manyPartnerClients(h, 50);
    const ours = ourEndpoint(h);
    const result = await run(await gatewayOf(h, clients, ours), CLIENT_CALLS);
    expect(result.errors).toBeUndefined();
    expect(result.data?.partnerClients.map((c) => c.serviceCalls?.totalCount)).toEqual(clients.map((c) => expectedCount(h, c.id)));
    expect(ours.requests()).toBe(1);
    expect(h.upstreamCalls()).toBe(1);
  });

  it('brings QUOTA_EXHAUSTED for a refused period to each client path, keeping the partner names', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { CONNECT_DAY_LIMIT: '1' } }));
    const clients = partnerClients(h, 3);
    const ours = ourEndpoint(h);
    const gateway = await gatewayOf(h, clients, ours);
    const result = await run(
      gateway,
      `{ partnerClients {
          name
          held: serviceCalls(filter: { periodFrom: "2024-02-05", periodTo: "2024-02-12" }) { totalCount }
          refused: serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-11" }) { totalCount }
        } }`,
    );
    const rows = result.data?.partnerClients as unknown as Array<{ name: string; held: { totalCount: number } | null; refused: unknown }>;
    expect(rows.map((r) => r.name)).toEqual(clients.map((c) => c.name));
    // The quota allows one call: the earlier week is fetched (planned first), the later one refused.
    expect(rows.every((r) => r.refused === null && r.held !== null)).toBe(true);
    const refusals = (result.errors ?? []).filter((e) => e.path?.includes('refused'));
    expect(refusals.length).toBeGreaterThan(0);
    for (const error of refusals) expect(error.extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', retryAfterSeconds: expect.any(Number) });
    // One refusal per client, each null at its own index in data. Both gateways drop the list index
    // from a merged entity's error path (graphql-tools omits it for batched arrays, ardatan/graphql-tools#2288).
    expect(refusals).toHaveLength(clients.length);
    for (const error of refusals) expect(error.path).toEqual(['partnerClients', 'refused']);
    expect(h.upstreamCalls()).toBe(1);
  });
});

describe('schema stitching of SupportLine and Account', () => {
  it.each([
    ['SupportLine', 'supportLines', (h: Harness) => h.simulator.history.lines.map((l) => l.serviceId), (c: { serviceId: string | null }, id: string) => c.serviceId === id],
    [
      'Account',
      'accounts',
      (h: Harness) => h.simulator.history.specialists.slice(0, 4).map((s) => s.specialistId),
      (c: { serviceUserId: string | null; callerId: string | null; calleeId: string | null }, id: string) =>
        c.serviceUserId === id || c.callerId === id || c.calleeId === id,
    ],
  ] as const)('%s: every item of the partner list in one request and one upstream call', async (type, _listField, idsOf, matches) => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const ours = ourEndpoint(h);
    const ids = idsOf(h);
    const sdl = (await h.query<{ _sdl: string }, never>('{ _sdl }')).data?._sdl as string;
    const partnerSdl = `${stitchingDirectivesTypeDefs}
      type ${type} @key(selectionSet: "{ id }") { id: ID! label: String! }
      type Query { partnerItems: [${type}!]! partnerItemsById(ids: [ID!]!): [${type}]! @merge(keyField: "id") }`;
    const items = ids.map((id, i) => ({ id, label: `item ${i}` }));
    const partner = createYoga({
      schema: createSchema({
        typeDefs: partnerSdl,
        resolvers: { Query: { partnerItems: () => items, partnerItemsById: (_: unknown, args: { ids: string[] }) => args.ids.map((id) => items.find((x) => x.id === id) ?? null) } },
      }),
    });
    const gateway = stitchingGateway(
      { url: 'http://connect.test/graphql', sdl, fetch: ours.fetch },
      { url: 'http://partner.test/graphql', sdl: partnerSdl, fetch: partner.fetch as typeof fetch },
    );
    const result = await run<{ partnerItems: Array<{ label: string; serviceCalls: { totalCount: number } }> }>(
      gateway,
      `{ partnerItems { label serviceCalls(filter: { periodFrom: "${WEEK.periodFrom}", periodTo: "${WEEK.periodTo}" }) { totalCount } } }`,
    );
    expect(result.errors).toBeUndefined();
    const week = h.simulator.history.callsBetween(startOfDay('2024-03-04', ZONE), startOfDay('2024-03-11', ZONE));
    expect(result.data?.partnerItems.map((x) => x.serviceCalls.totalCount)).toEqual(ids.map((id) => week.filter((c) => matches(c, id)).length));
    expect(result.data?.partnerItems.every((x) => x.serviceCalls.totalCount > 0)).toBe(true);
    expect(ours.requests()).toBe(1);
    expect(h.upstreamCalls()).toBe(1);
  });
});

describe('entities asked directly', () => {
  it('answers an account in each role, and one item per id in order (null for a non-UUID), in one upstream call', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const specialist = h.simulator.history.specialists[0]?.specialistId as string;
    const user = h.simulator.history.serviceUsers[0]?.serviceUserId as string;
    const week = `{ periodFrom: "${WEEK.periodFrom}", periodTo: "${WEEK.periodTo}" }`;
    const { data, errors } = await h.query<{ accounts: Array<Record<string, { totalCount: number } | null> | null> }, unknown>(`{
      accounts(ids: ["not-a-uuid", "${specialist.toUpperCase()}", "${user}"]) {
        id
        specialist: serviceCalls(filter: ${week}, role: SPECIALIST, first: 0) { totalCount }
        serviceUser: serviceCalls(filter: ${week}, role: SERVICE_USER, first: 0) { totalCount }
        any: serviceCalls(filter: ${week}, first: 0) { totalCount }
      }
    }`);
    expect(errors).toBeUndefined();
    const calls = h.simulator.history.callsBetween(startOfDay('2024-03-04', ZONE), startOfDay('2024-03-11', ZONE));
    const count = (p: (c: (typeof calls)[number]) => boolean): { totalCount: number } => ({ totalCount: calls.filter(p).length });
    const asSpecialist = (id: string) => count((c) => specialistOf(c) === id);
    const asUser = (id: string) => count((c) => c.serviceUserId === id);
    const asAny = (id: string) => count((c) => c.callerId === id || c.calleeId === id || c.serviceUserId === id);
    expect(data?.accounts).toEqual([
      null,
      { id: specialist, specialist: asSpecialist(specialist), serviceUser: asUser(specialist), any: asAny(specialist) },
      { id: user, specialist: asSpecialist(user), serviceUser: asUser(user), any: asAny(user) },
    ]);
    expect(asSpecialist(specialist).totalCount).toBeGreaterThan(0);
    // A service user is never the specialist of a call.
    expect(asSpecialist(user).totalCount).toBe(0);
    expect(asUser(user).totalCount).toBeGreaterThan(0);
    expect(h.upstreamCalls()).toBe(1);
  });
});

describe('a partner whose client id is not the 1C-Connect ClientID (Federation)', () => {
  it('reaches our Client through connectClientId, as the README shows, in one request and one upstream call', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const ours = ourEndpoint(h);
    const clients = partnerClients(h, 3).map((c, i) => ({ id: `P-${i}`, name: c.name, connectClientId: c.id }));
    const partnerSdl = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
      type PartnerClient @key(fields: "id") { id: ID! name: String! connectClientId: ID connectClient: Client }
      type Client @key(fields: "id", resolvable: false) { id: ID! }
      type Query { partnerClients: [PartnerClient!]! }`;
    const partner = createYoga({
      schema: buildSubgraphSchema({
        typeDefs: parse(partnerSdl),
        resolvers: {
          Query: { partnerClients: () => clients },
          PartnerClient: {
            __resolveReference: (ref: { id: string }) => clients.find((c) => c.id === ref.id) ?? null,
            connectClient: (c: { connectClientId: string | null }) => (c.connectClientId ? { id: c.connectClientId } : null),
          },
        },
      }),
    });
    const sdl = (await h.query<{ _service: { sdl: string } }, never>('{ _service { sdl } }')).data?._service.sdl as string;
    const gateway = federationGateway(
      { url: 'http://connect.test/graphql', sdl, fetch: ours.fetch },
      { url: 'http://partner.test/graphql', sdl: partnerSdl, fetch: partner.fetch as typeof fetch },
    );
    const result = await run<{ partnerClients: Array<{ name: string; connectClient: { serviceCalls: { totalCount: number } } }> }>(
      gateway,
      `{ partnerClients { name connectClient { serviceCalls(filter: { periodFrom: "${WEEK.periodFrom}", periodTo: "${WEEK.periodTo}" }) { totalCount } } } }`,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.partnerClients).toEqual(
      clients.map((c) => ({ name: c.name, connectClient: { serviceCalls: { totalCount: expectedCount(h, c.connectClientId) } } })),
    );
    expect(ours.requests()).toBe(1);
    expect(h.upstreamCalls()).toBe(1);
  });
});

describe('_entities with representations it cannot resolve', () => {
  it.each([
    ['an unknown __typename', [{ __typename: 'Nope', id: '90028e2b-ff47-11e7-2003-0025904f970f' }], 0],
    ['no __typename', [{ __typename: 'Client', id: '90028e2b-ff47-11e7-2003-0025904f970f' }, { id: '90028e2b-ff47-11e7-2003-0025904f970f' }], 1],
    ['a string', ['str'], 0],
    ['a type that is not an entity', [{ __typename: 'ServiceCall', id: 'x' }], 0],
    ['__proto__', [{ __typename: '__proto__', id: 'x' }], 0],
  ])('%s: BAD_USER_INPUT naming the index, no internal error', async (_name, representations, index) => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const { data, errors } = await h.query('query($r: [_Any!]!) { _entities(representations: $r) { __typename } }', { r: representations });
    expect(data ?? null).toBeNull();
    expect(errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'representations', index });
    expect(h.upstreamCalls()).toBe(0);
  });

  it('gives null for an id that is not a 1C-Connect UUID, and the entity for one that is', async () => {
    const h = (harness = await startHarness({ now: '2024-03-20T10:00:00+03:00' }));
    const { data, errors } = await h.query('{ _entities(representations: [{ __typename: "Account", id: "junk" }, { __typename: "SupportLine", id: "90028E2B-FF47-11E7-2003-0025904F970F" }]) { ... on SupportLine { id } } }');
    expect(errors).toBeUndefined();
    expect(data).toEqual({ _entities: [null, { id: '90028e2b-ff47-11e7-2003-0025904f970f' }] });
  });
});
