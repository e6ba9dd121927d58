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
  // The calendar code would loop past year 9999, and no 1C-Connect history lies outside 2000..2099:
  // refused before any loop runs or any upstream call is made.
  ['a period ending on 9999-12-31', { filter: { periodFrom: '9999-12-01', periodTo: '9999-12-31' } }, 'filter.periodTo'],
  ['a period at the very end of year 9999', { filter: { periodFrom: '9999-12-31T00:00:00Z', periodTo: '9999-12-31T23:59:59Z' } }, 'filter.periodTo'],
  ['a period in 1901', { filter: { periodFrom: '1901-01-01', periodTo: '1901-01-08' } }, 'filter.periodFrom'],
  ['a period in the year 500', { filter: { periodFrom: '0500-01-01', periodTo: '0500-01-08' } }, 'filter.periodFrom'],
  ['a period in the year 1', { filter: { periodFrom: '0001-01-01T00:00:00', periodTo: '0001-01-02T00:00:00' } }, 'filter.periodFrom'],
  ['a period just before 2000 in the upstream zone', { filter: { periodFrom: '1999-12-31T23:00:00', periodTo: '2000-01-02T00:00:00' } }, 'filter.periodFrom'],
  ['a period reaching into 2100', { filter: { periodFrom: '2099-12-30', periodTo: '2100-01-02' } }, 'filter.periodTo'],
  ['a periodFrom that is not a date-time', { filter: { ...GOOD, periodFrom: 'yesterday' } }, null],
  ['24:30:00', { filter: { ...GOOD, periodTo: '2024-03-10T24:30:00' } }, null],
  ['an offset past 14:00', { filter: { ...GOOD, periodTo: '2024-03-11T00:00:00+15:00' } }, null],
  ['a year of five digits', { filter: { ...GOOD, periodTo: '12024-03-11T00:00:00' } }, null],
  ['an impossible date', { filter: { ...GOOD, periodTo: '2024-02-30T00:00:00' } }, null],
];

describe('bad input', () => {
  it.each(cases)('%s gives BAD_USER_INPUT and no upstream call', async (_name, variables, argument) => {
    const result = await h.query(ServiceCallsArguments, variables as ServiceCallsArgumentsQueryVariables);
    // An argument refused by the resolver leaves a null field at its path; a variable that is not a
    // DateTime at all fails the whole request before execution.
    expect(result.data).toEqual(argument ? { serviceCalls: null } : undefined);
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

describe('DateTime forms', () => {
  it('reads every xs:dateTime form and a bare date as the same period: one upstream call for all', async () => {
    const forms = [
      { periodFrom: '2024-03-11', periodTo: '2024-03-18' },
      { periodFrom: '2024-03-10T24:00:00', periodTo: '2024-03-17T24:00:00' },
      { periodFrom: '2024-03-10T21:00:00Z', periodTo: '2024-03-17T21:00:00.000Z' },
      { periodFrom: '2024-03-11T00:00:00+03:00', periodTo: '2024-03-17T22:00:00+0100' },
      { periodFrom: ' 2024-03-11T00:00:00 ', periodTo: '2024-03-18T00:00:00' },
    ];
    const before = h.upstreamCalls();
    const counts = [];
    for (const filter of forms) {
      const result = await h.query(ServiceCallsArguments, { filter });
      expect(result.errors).toBeUndefined();
      counts.push(result.data?.serviceCalls?.totalCount);
    }
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]).toBeGreaterThan(0);
    expect(h.upstreamCalls() - before).toBe(1);
  });
});
