import { callResultFromCode, type ServiceCall } from '../domain/service-call.js';
import { ValueConversionError } from './errors.js';
import { REQUIRED_HISTORY_COLUMNS, type ValueTableCell, type ValueTableRow } from './value-table.js';
import { ValueTableDecoder } from './value-table-decoder.js';

/** A decoded GetHistoryOfServiceCalls row as a ServiceCall; `rowNumber` (from 1) names the row in errors. */
export function serviceCallFromRow(row: ValueTableRow, rowNumber: number): ServiceCall {
  const callId = idOf(row, 'CallID', rowNumber);
  if (callId === null) throw conversion(rowNumber, 'CallID', 'xs:string', null);
  const callTime = row.CallTime;
  if (!(callTime instanceof Date)) throw conversion(rowNumber, 'CallTime', 'xs:dateTime', callTime ?? null);
  const callResult = row.CallResult;
  if (typeof callResult !== 'number') throw conversion(rowNumber, 'CallResult', 'xs:decimal', callResult ?? null);
  const duration = row.Duration;
  if (typeof duration !== 'number' || duration < 0) {
    throw conversion(rowNumber, 'Duration', 'non-negative xs:decimal', duration ?? null);
  }
  return {
    callId,
    clientId: idOf(row, 'ClientID', rowNumber),
    serviceUserId: idOf(row, 'ServiceUserID', rowNumber),
    serviceId: idOf(row, 'ServiceID', rowNumber),
    callTime: callTime.getTime(),
    callerId: idOf(row, 'CallerID', rowNumber),
    calleeId: idOf(row, 'CalleeID', rowNumber),
    callResult: callResultFromCode(callResult),
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

/** A decoder of GetHistoryOfServiceCalls responses that hands out each row as a ServiceCall. */
export function serviceCallDecoder(zone: string, onCall: (call: ServiceCall) => void): ValueTableDecoder {
  let rowNumber = 0;
  return new ValueTableDecoder({
    zone,
    columns: REQUIRED_HISTORY_COLUMNS,
    onRow: (row) => onCall(serviceCallFromRow(row, ++rowNumber)),
  });
}
