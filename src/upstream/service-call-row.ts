import { isServedWall, SERVED_END_DAY, SERVED_FIRST_DAY } from '../domain/served-range.js';
import { callResultFromCode, type ServiceCall } from '../domain/service-call.js';
import { ValueConversionError } from './errors.js';
import { REQUIRED_HISTORY_COLUMNS, type ValueTableCell, type ValueTableRow } from './value-table.js';
import { type IntegerRange, ValueTableDecoder, type WallCheck } from './value-table-decoder.js';

/** GraphQL Int: the largest Duration that can be served as it is. */
const INT_MAX = 2_147_483_647;

/**
 * What each per-call value is served as, checked at decode on the cell's text: a value accepted here
 * can always be served. Duration is GraphQL Int seconds; CallResult is 1 (successful) or 2.
 */
export const HISTORY_INTEGERS: Readonly<Record<string, IntegerRange>> = {
  Duration: { min: 0, max: INT_MAX, why: 'seconds served as GraphQL Int' },
  CallResult: { min: 1, max: 2, why: '1 is a successful call, 2 any other' },
};

/** A CallTime is served only inside the calendar range every period can select from. */
export const HISTORY_WALL_CHECKS: Readonly<Record<string, WallCheck>> = {
  CallTime: {
    accepts: isServedWall,
    reason: `is outside the served range ${SERVED_FIRST_DAY}..${SERVED_END_DAY} (exclusive) of local time`,
  },
};

/**
 * A decoded GetHistoryOfServiceCalls row as a ServiceCall; `rowNumber` (from 1) names the row in
 * errors. A null CallTime (1C's empty date) gives a null callTime.
 */
export function serviceCallFromRow(row: ValueTableRow, rowNumber: number): ServiceCall {
  const callId = idOf(row, 'CallID', rowNumber);
  if (callId === null) throw conversion(rowNumber, 'CallID', 'xs:string', null);
  const callTime = row.CallTime;
  if (!(callTime instanceof Date) && callTime !== null) {
    throw conversion(rowNumber, 'CallTime', 'xs:dateTime', callTime ?? null);
  }
  const code = row.CallResult;
  const callResult = typeof code === 'number' ? callResultFromCode(code) : null;
  if (callResult === null) throw conversion(rowNumber, 'CallResult', 'xs:decimal 1 or 2', code ?? null);
  const duration = row.Duration;
  if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 0 || duration > INT_MAX) {
    throw conversion(rowNumber, 'Duration', `whole xs:decimal in 0..${INT_MAX}`, duration ?? null);
  }
  return {
    callId,
    clientId: idOf(row, 'ClientID', rowNumber),
    serviceUserId: idOf(row, 'ServiceUserID', rowNumber),
    serviceId: idOf(row, 'ServiceID', rowNumber),
    callTime: callTime === null ? null : callTime.getTime(),
    callerId: idOf(row, 'CallerID', rowNumber),
    calleeId: idOf(row, 'CalleeID', rowNumber),
    callResult,
    durationSeconds: duration,
  };
}

const UPPER_CASE = /[A-Z]/;

/**
 * An ID cell: a string in lower case (as the GraphQL filters are), or null for NULL and for an
 * empty string, 1C's empty reference.
 */
function idOf(row: ValueTableRow, column: string, rowNumber: number): string | null {
  const value = row[column] ?? null;
  if (value === null || typeof value === 'string') {
    if (value === '') return null;
    return value !== null && UPPER_CASE.test(value) ? value.toLowerCase() : value;
  }
  throw conversion(rowNumber, column, 'xs:string', value);
}

function conversion(row: number, column: string, type: string, value: ValueTableCell): ValueConversionError {
  const text = value === null ? 'null' : value instanceof Date ? value.toISOString() : String(value);
  return new ValueConversionError(row, column, type, text);
}

/**
 * A decoder of GetHistoryOfServiceCalls responses that hands out each row as a ServiceCall, with
 * every per-call value checked against what it is served as.
 */
export function serviceCallDecoder(zone: string, onCall: (call: ServiceCall) => void): ValueTableDecoder {
  let rowNumber = 0;
  return new ValueTableDecoder({
    zone,
    columns: REQUIRED_HISTORY_COLUMNS,
    integers: HISTORY_INTEGERS,
    wallChecks: HISTORY_WALL_CHECKS,
    onRow: (row) => onCall(serviceCallFromRow(row, ++rowNumber)),
  });
}
