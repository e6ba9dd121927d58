import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/time/clock.js';
import { graphql } from '../graphql/index.js';
import { CASES_DIR, type CannedResponse, type CaseUpstream, caseFile, startCaseUpstream } from '../support/case-upstream.js';
import { type GraphQLServer, startGraphQL } from '../support/harness.js';

/**
 * Every response in shared/cases (copied to test/fixtures/cases), served by an upstream stand-in and
 * asked for through GraphQL, with the behaviour its README names. Every upstream request is counted.
 */
const CaseCalls = graphql(`
  query CaseCalls($filter: ServiceCallFilter!, $maxAge: Int) {
    serviceCalls(filter: $filter, first: 100, maxAge: $maxAge) {
      totalCount
      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }
      edges { cursor node { callId callTime durationSeconds callResult } }
    }
    quota { usedLastHour remaining }
  }
`);

const at = (moscow: string): number => Date.parse(`${moscow}+03:00`);
const day = (first: string, last = first): { periodFrom: string; periodTo: string } => ({
  periodFrom: `${first}T00:00:00`,
  periodTo: `${new Date(Date.parse(`${last}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)}T00:00:00`,
});

let upstream: CaseUpstream | undefined;
let server: GraphQLServer | undefined;
afterEach(async () => {
  await server?.close();
  await upstream?.close();
  upstream = undefined;
  server = undefined;
});

/** The server over a stand-in answering each period (by its first local day) with a canned response. */
async function serve(now: string, answers: Record<string, CannedResponse>, env: Record<string, string> = {}) {
  const clock = new ManualClock(at(now));
  upstream = await startCaseUpstream((periodFrom) => answers[periodFrom.slice(0, 10)]);
  // Each canned response answers a period of one day: calls are one day long (the grid's 1-day pieces),
  // so no call is filled with the days beside it.
  server = startGraphQL({ clock, upstream, env: { CONNECT_DAY_MAX_DAYS: '1', CONNECT_NIGHT_MAX_DAYS: '1', ...env } });
  return { clock, upstream, server };
}

const file = (name: string, contentType?: string): CannedResponse => ({ body: caseFile(name), contentType });

/** Which case files the tests below serve: a new file in shared/cases must get a test here. */
const COVERED = [
  'empty-answer-time.xml',
  'duration-past-int32.xml',
  'durations-sum-past-int32.xml',
  'midnight-period-2019-09-26.xml',
  'midnight-period-2019-09-27.xml',
  'out-of-limit-windows-1251.xml',
  'calltime-with-offset.xml',
  'duration-plus-sign.xml',
];

describe('shared/cases through GraphQL', () => {
  it('covers every case file', () => {
    expect(readdirSync(CASES_DIR).filter((f) => f.endsWith('.xml')).sort()).toEqual([...COVERED].sort());
  });

  it("empty-answer-time: the call with 1C's empty date is kept and counted, with callTime null, at the start of its day", async () => {
    const { upstream: up, server: s } = await serve('2019-09-27T12:00:00', { '2019-09-26': file('empty-answer-time.xml') });
    const { data, errors } = await s.query(CaseCalls, { filter: day('2019-09-26') });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.totalCount).toBe(2);
    expect(data?.serviceCalls?.edges.map((e) => [e.node.callId, e.node.callTime])).toEqual([
      ['a42bea6c-013b-2003-903f-322a42716719', null],
      ['5f99f58f-2003-4e1c-a049-2cf58efc68a1', '2019-09-26T18:29:37+03:00'],
    ]);
    // Its cursor pages on after it.
    const after = data?.serviceCalls?.edges[0]?.cursor;
    const next = await s.query(
      `query($f: ServiceCallFilter!, $a: String) { serviceCalls(filter: $f, after: $a) { nodes { callId } } }`,
      { f: day('2019-09-26'), a: after },
    );
    expect(next.data).toEqual({ serviceCalls: { nodes: [{ callId: '5f99f58f-2003-4e1c-a049-2cf58efc68a1' }] } });
    expect(up.requests).toEqual(['2019-09-26T00:00:00']);
  });

  it('duration-past-int32: UPSTREAM_ERROR naming row 2 and Duration, the rest of the response kept, no refetch for an hour', async () => {
    const { clock, upstream: up, server: s } = await serve('2019-09-27T12:00:00', { '2019-09-26': file('duration-past-int32.xml') });
    const first = await s.query(CaseCalls, { filter: day('2019-09-26') });
    expect(first.data?.serviceCalls).toBeNull();
    expect(first.data?.quota).toMatchObject({ usedLastHour: 1, remaining: 9 });
    expect(first.errors).toHaveLength(1);
    expect(first.errors?.[0]).toMatchObject({
      path: ['serviceCalls'],
      extensions: { code: 'UPSTREAM_ERROR', row: 2, column: 'Duration', retryAfterSeconds: 3600 },
    });
    expect(first.errors?.[0]?.message).toMatch(/row 2, column Duration/);
    for (let i = 0; i < 10; i++) {
      clock.advance(60_000);
      const again = await s.query(CaseCalls, { filter: day('2019-09-26'), maxAge: 0 });
      expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', row: 2, column: 'Duration' });
    }
    expect(up.requests).toHaveLength(1);
    clock.set(at('2019-09-27T13:00:00'));
    const later = await s.query(CaseCalls, { filter: day('2019-09-26') });
    expect(later.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', row: 2, column: 'Duration' });
    expect(up.requests).toHaveLength(2);
  });

  it('durations-sum-past-int32: totalDurationSeconds is served exactly past 2^31', async () => {
    const { upstream: up, server: s } = await serve('2019-09-27T12:00:00', { '2019-09-26': file('durations-sum-past-int32.xml') });
    const { data, errors } = await s.query(CaseCalls, { filter: day('2019-09-26') });
    expect(errors).toBeUndefined();
    // Two calls of 1,200,000,000 s: the exact sum. (The cases README says 2400000013, which is not
    // the sum of the file's two values; the file is what 1C sends, so the sum of its values is right.)
    expect(data?.serviceCalls?.stats).toMatchObject({ total: 2, totalDurationSeconds: 2_400_000_000, averageDurationSeconds: 1_200_000_000 });
    expect(up.requests).toHaveLength(1);
  });

  it('midnight pair: a call answered after midnight is counted on the day it was answered, once, refetch or not', async () => {
    const { clock, upstream: up, server: s } = await serve('2019-09-27T12:00:00', {
      '2019-09-26': file('midnight-period-2019-09-26.xml'),
      '2019-09-27': file('midnight-period-2019-09-27.xml'),
    });
    const count = async (filter: { periodFrom: string; periodTo: string }, maxAge?: number) => {
      const { data, errors } = await s.query(CaseCalls, { filter, maxAge });
      expect(errors).toBeUndefined();
      return data?.serviceCalls?.totalCount;
    };
    expect(await count(day('2019-09-26'))).toBe(3);
    expect(await count(day('2019-09-27'))).toBe(2);
    expect(await count(day('2019-09-26', '2019-09-27'))).toBe(5);
    expect(up.requests).toEqual(['2019-09-26T00:00:00', '2019-09-27T00:00:00']);
    // The 27th is today: refetched when maxAge asks (0 is raised to MIN_MAX_AGE_SECONDS, 60), and the counts stay.
    clock.advance(120_000);
    expect(await count(day('2019-09-27'), 0)).toBe(2);
    expect(up.requests).toHaveLength(3);
    expect(await count(day('2019-09-26', '2019-09-27'))).toBe(5);
    expect(await count(day('2019-09-26'))).toBe(3);
    expect(up.requests).toHaveLength(3);
  });

  it.each([
    ['declared charset only', 'application/soap+xml'],
    ['HTTP charset too', 'application/soap+xml; charset=windows-1251'],
    ['a wrong HTTP charset', 'application/soap+xml; charset=utf-8'],
  ])('out-of-limit-windows-1251 (%s): recognised as OUT_OF_LIMIT, so the ledger blocks and the next question sends nothing', async (_name, contentType) => {
    const { upstream: up, server: s } = await serve('2019-09-27T12:00:00', { '2019-09-26': file('out-of-limit-windows-1251.xml', contentType) });
    const first = await s.query(CaseCalls, { filter: day('2019-09-26') });
    expect(first.data?.serviceCalls).toBeNull();
    expect(first.data?.quota).toMatchObject({ remaining: 0 });
    expect(first.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', upstreamCode: 'OUT_OF_LIMIT', retryAfterSeconds: 3600 });
    const next = await s.query(CaseCalls, { filter: day('2019-09-20') });
    expect(next.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXHAUSTED', upstreamCode: 'OUT_OF_LIMIT' });
    expect(up.requests).toHaveLength(1);
  });

  it('calltime-with-offset: read as that instant', async () => {
    const { upstream: up, server: s } = await serve('2019-09-27T12:00:00', { '2019-09-26': file('calltime-with-offset.xml') });
    const { data, errors } = await s.query(CaseCalls, { filter: day('2019-09-26') });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.edges.map((e) => e.node.callTime)).toEqual(['2019-09-26T18:29:37+03:00', '2019-09-26T18:31:04+03:00']);
    expect(up.requests).toHaveLength(1);
  });

  it('duration-plus-sign: +12 is 12', async () => {
    const { upstream: up, server: s } = await serve('2019-09-27T12:00:00', { '2019-09-26': file('duration-plus-sign.xml') });
    const { data, errors } = await s.query(CaseCalls, { filter: day('2019-09-26') });
    expect(errors).toBeUndefined();
    expect(data?.serviceCalls?.edges.map((e) => e.node.durationSeconds)).toEqual([13, 12]);
    expect(up.requests).toHaveLength(1);
  });
});
