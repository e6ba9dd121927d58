import { callResultFromCode, type ServiceCall } from '../domain/service-call.js';
import { ValueConversionError } from './errors.js';
import type { ValueTableCell, ValueTableRow } from './value-table.js';

/** A decoded GetHistoryOfServiceCalls row as a ServiceCall; `rowNumber` (from 1) names the row in errors. */
export function serviceCallFromRow(row: ValueTableRow, rowNumber: number): ServiceCall {
  const id = (column: string): string | null => {
    const value = row[column] ?? null;
    if (value === null || typeof value === 'string') return value === '' ? null : value;
    throw conversion(rowNumber, column, 'xs:string', value);
  };
  const callId = id('CallID');
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
    clientId: id('ClientID'),
    serviceUserId: id('ServiceUserID'),
    serviceId: id('ServiceID'),
    callTime: callTime.getTime(),
    callerId: id('CallerID'),
    calleeId: id('CalleeID'),
    callResult: callResultFromCode(callResult),
    durationSeconds: duration,
  };
}

function conversion(row: number, column: string, type: string, value: ValueTableCell): ValueConversionError {
  const text = value === null ? 'null' : value instanceof Date ? value.toISOString() : String(value);
  return new ValueConversionError(row, column, type, text);
}
