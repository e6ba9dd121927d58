import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceCallsArgumentsQueryVariables } from '../graphql/graphql.js';
import { type Harness, startHarness } from '../support/harness.js';
import { ServiceCallsArguments } from '../support/operations.js';

const GOOD = { periodFrom: '2024-03-04T00:00:00', periodTo: '2024-03-11T00:00:00' };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2024-03-20T10:00:00+03:00', env: { MAX_QUERY_DAYS: '31' } });
});
afterAll(async () => h.close());


const cases: Array<[string, Record<string, unknown>, string | null]> = [
  ['clientId that is not a UUID', { filter: { ...GOOD, clientId: 'acme' } }, 'filter.clientId'],
  ['serviceUserId that is not a UUID', { filter: { ...GOOD, serviceUserId: '123' } }, 'filter.serviceUserId'],
  ['serviceId that is not a UUID', { filter: { ...GOOD, serviceId: 'fbe839ae-07ec-11e8-2003' } }, 'filter.serviceId'],
  ['specialistId that is not a UUID', { filter: { ...GOOD, specialistId: "'; DROP" } }, 'filter.specialistId'],
  ['periodFrom equal to periodTo', { filter: { periodFrom: GOOD.periodFrom, periodTo: GOOD.periodFrom } }, 'filter.periodTo'],
  ['periodFrom after periodTo', { filter: { periodFrom: GOOD.periodTo, periodTo: GOOD.periodFrom } }, 'filter.periodTo'],
  ['a period longer than MAX_QUERY_DAYS', { filter: { periodFrom: '2024-01-01', periodTo: '2024-02-02' } }, 'filter.periodTo'],
  ['first below 0', { filter: GOOD, first: -1 }, 'first'],
  ['first above 1000', { filter: GOOD, first: 1001 }, 'first'],
  ['a negative maxAge', { filter: GOOD, maxAge: -1 }, 'maxAge'],
  ['a cursor that is not one', { filter: GOOD, after: 'bm90LWEtY3Vyc29y' }, 'after'],
  ['a periodFrom that is not a date-time', { filter: { ...GOOD, periodFrom: 'yesterday' } }, null],
  ['an impossible date', { filter: { ...GOOD, periodTo: '2024-02-30T00:00:00' } }, null],
];

describe('bad input', () => {
  it.each(cases)('%s gives BAD_USER_INPUT and no upstream call', async (_name, variables, argument) => {
    const result = await h.query(ServiceCallsArguments, variables as ServiceCallsArgumentsQueryVariables);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    if (argument) {
      expect(result.errors?.[0]?.extensions?.argument).toBe(argument);
      expect(result.errors?.[0]?.message).toContain(argument);
    }
    expect(h.upstreamCalls()).toBe(0);
  });

  // Written as a string on purpose: codegen would refuse to type a document with an invalid literal.
  it('rejects a bad DateTime written inline in the query', async () => {
    const result = await h.query('{ serviceCalls(filter: { periodFrom: "soon", periodTo: "2024-03-11" }) { totalCount } }');
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(h.upstreamCalls()).toBe(0);
  });
});
