/**
 * What each file of shared/cases (copied to test/fixtures/cases) must decode to, as its README names
 * it, in one place for the decode command's test and the client's. Calls are compared by what the
 * decode command prints: `callTime` in the upstream zone with its offset, or null.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CASES_DIR = fileURLToPath(new URL('../fixtures/cases/', import.meta.url));
/** shared/cases beside the repo, where the cases come from (absent in a clone alone). */
export const SHARED_CASES_DIR = fileURLToPath(new URL('../../../shared/cases/', import.meta.url));

export interface CaseCall {
  callTime: string | null;
  durationSeconds: number;
}

export interface CaseExpectation {
  /** The behaviour its README names. */
  behaviour: string;
  /** Every call of the response, in order; absent when the response is refused. */
  calls?: CaseCall[];
  /** The error (as its toJSON) when the response is refused. */
  error?: Record<string, unknown>;
}

const SEED_ROW_1: CaseCall = { callTime: '2019-09-26T18:29:37+03:00', durationSeconds: 13 };

export const CASES: Record<string, CaseExpectation> = {
  'empty-answer-time.xml': {
    behaviour: "1C's empty date is a null callTime, and the call is kept",
    calls: [SEED_ROW_1, { callTime: null, durationSeconds: 24 }],
  },
  'duration-past-int32.xml': {
    behaviour: 'a Duration past GraphQL Int is refused at decode, naming row 2 and Duration, as a complete response',
    error: { name: 'ValueConversionError', kind: 'protocol', row: 2, column: 'Duration', complete: true, truncated: false },
  },
  'durations-sum-past-int32.xml': {
    behaviour: 'two durations that each fit Int both decode (their sum is served elsewhere)',
    calls: [
      { callTime: '2019-09-26T18:29:37+03:00', durationSeconds: 1_200_000_000 },
      { callTime: '2019-09-26T18:31:04+03:00', durationSeconds: 1_200_000_000 },
    ],
  },
  'midnight-period-2019-09-26.xml': {
    behaviour: "the 26th's answer holds 4 calls, the one answered at 00:00:20 on the 27th kept",
    calls: [
      { callTime: '2019-09-26T09:15:02+03:00', durationSeconds: 61 },
      { callTime: '2019-09-26T09:15:02+03:00', durationSeconds: 0 },
      { callTime: '2019-09-26T23:59:59+03:00', durationSeconds: 3600 },
      { callTime: '2019-09-27T00:00:20+03:00', durationSeconds: 95 },
    ],
  },
  'midnight-period-2019-09-27.xml': {
    behaviour: "the 27th's answer holds 1 call",
    calls: [{ callTime: '2019-09-27T10:00:00+03:00', durationSeconds: 61 }],
  },
  'out-of-limit-windows-1251.xml': {
    behaviour: 'OUT_OF_LIMIT in windows-1251, decoded by its declared charset with the Russian text intact',
    error: {
      name: 'UpstreamOutOfLimitError',
      kind: 'out-of-limit',
      resultCode: 'OUT_OF_LIMIT',
      resultText: 'Превышен лимит вызовов операции в час',
    },
  },
  'calltime-with-offset.xml': {
    behaviour: 'a CallTime with an offset is that instant',
    calls: [SEED_ROW_1, { callTime: '2019-09-26T18:31:04+03:00', durationSeconds: 24 }],
  },
  'duration-plus-sign.xml': {
    behaviour: 'Duration +12 is 12',
    calls: [SEED_ROW_1, { callTime: '2019-09-26T18:31:04+03:00', durationSeconds: 12 }],
  },
};

/** The response files among the copied cases (the README is not one). */
export function caseFiles(): string[] {
  return readdirSync(CASES_DIR).filter((name) => name.endsWith('.xml')).sort();
}
