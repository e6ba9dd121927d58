/**
 * Injectable misbehaviour of the simulated upstream, and response styles that exercise decoder
 * quirks end to end.
 *
 * Faults apply to authenticated, readable GetHistoryOfServiceCalls calls (they count in
 * callCount). Two families:
 * - replacing faults (`http-status`, `soap-fault`, `result-code`) answer instead of the service,
 *   before the quota rules, and are not counted in the quota window;
 * - wrapping faults (`delay`, `stall`, `truncate`, `malformed`) spoil the real answer, which went
 *   through the rules and counts like any other.
 */
import type { ServiceCall } from '../domain/service-call.js';
import { HISTORY_COLUMNS, type ValueTableColumn } from '../upstream/value-table.js';
import { Random } from './random.js';
import { historyRowOf, type SoapVersion, type WriterRow, type WriterStyle } from './value-table-writer.js';

export type Fault =
  /** Answer normally, `ms` late. */
  | { kind: 'delay'; ms: number }
  /** Send the headers and `afterBytes` body bytes, then hang until the client gives up. */
  | { kind: 'stall'; afterBytes: number }
  /** Answer with this HTTP status and a plain-text body (e.g. 500, 503, 403). */
  | { kind: 'http-status'; status: number; body?: string }
  /** Send `afterBytes` bytes of the real answer, then end the response cleanly. */
  | { kind: 'truncate'; afterBytes: number }
  /** The real answer with a broken tag in the middle of the table. */
  | { kind: 'malformed' }
  /** A SOAP Fault (default: the request's version, HTTP 500, Server/Receiver code). */
  | { kind: 'soap-fault'; version?: SoapVersion; httpStatus?: number; code?: string; reason?: string }
  /** A non-SUCCESS ResultCode with a text, e.g. OUT_OF_LIMIT or PARAM_NOT_EXIST. */
  | { kind: 'result-code'; code: string; text: string };

export type FaultKind = Fault['kind'];
export type ReplacingFault = Extract<Fault, { kind: 'http-status' | 'soap-fault' | 'result-code' }>;

export function replacesAnswer(fault: Fault): fault is ReplacingFault {
  return fault.kind === 'http-status' || fault.kind === 'soap-fault' || fault.kind === 'result-code';
}

function validate(fault: Fault): void {
  const nonNegative = (name: string, n: number): void => {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${fault.kind}.${name} must be a non-negative integer, got ${n}`);
  };
  const status = (name: string, n: number): void => {
    if (!Number.isInteger(n) || n < 200 || n > 599) throw new RangeError(`${fault.kind}.${name} must be an HTTP status 200..599, got ${n}`);
  };
  switch (fault.kind) {
    case 'delay':
      return nonNegative('ms', fault.ms);
    case 'stall':
    case 'truncate':
      return nonNegative('afterBytes', fault.afterBytes);
    case 'http-status':
      return status('status', fault.status);
    case 'soap-fault':
      if (fault.httpStatus !== undefined) status('httpStatus', fault.httpStatus);
      return;
    case 'result-code':
      if (!fault.code || fault.code === 'SUCCESS') throw new RangeError('result-code.code must be a code other than SUCCESS');
      return;
    case 'malformed':
      return;
  }
}

/** Injected faults in order; each applies to the next `times` calls (default: until cleared). */
export class FaultSchedule {
  private queue: { fault: Fault; remaining: number }[] = [];

  inject(fault: Fault, times = Number.POSITIVE_INFINITY): void {
    validate(fault);
    if (!(times >= 1)) throw new RangeError(`times must be at least 1, got ${times}`);
    this.queue.push({ fault, remaining: times });
  }

  clear(): void {
    this.queue = [];
  }

  /** The fault for the call being answered, if any; uses up one of its times. */
  take(): Fault | undefined {
    const head = this.queue[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) this.queue.shift();
    return head.fault;
  }

  pending(): number {
    return this.queue.length;
  }
}

/** How successful answers are written; decoders must not depend on any of it. */
export interface ResponseStyle extends WriterStyle {
  /** Columns (and so cells) in a different order in every response. */
  shuffleColumns?: boolean;
  /** An extra column the client does not know, placed among the known ones. */
  extraColumn?: boolean;
}

export const EXTRA_COLUMN: ValueTableColumn = { name: 'OperatorComment', types: ['xs:string', 'Null'] };

/** The columns and row shape of one styled answer; `key` seeds the shuffle (vary it per response). */
export function styledTable(
  style: ResponseStyle,
  key: string,
): { columns: ValueTableColumn[]; rowOf: (call: ServiceCall) => WriterRow } {
  let columns = [...HISTORY_COLUMNS];
  if (style.extraColumn) columns.splice(2, 0, EXTRA_COLUMN); // mid-table: breaks positional readers
  if (style.shuffleColumns) {
    const shuffled = new Random(`columns:${key}`).shuffle(columns);
    // A shuffle can land on the original order; a reversal never does.
    columns = shuffled.every((c, i) => c === columns[i]) ? columns.reverse() : shuffled;
  }
  const rowOf = style.extraColumn
    ? (call: ServiceCall): WriterRow => ({
        ...historyRowOf(call),
        [EXTRA_COLUMN.name]: call.durationSeconds > 600 ? 'Долгий разговор, см. комментарий' : null,
      })
    : historyRowOf;
  return { columns, rowOf };
}

/** A row whose Value closes with the wrong tag: no XML parser accepts it. */
const BROKEN_ROW = '\t\t\t\t\t\t<row>\n\t\t\t\t\t\t\t<Value xsi:type="xs:string">broken</Valeu>\n\t\t\t\t\t\t</row>\n';
const TABLE_END = '\t\t\t\t\t</Value>\n\t\t\t\t</Property>';

/**
 * The pieces of a real answer with BROKEN_ROW inserted after the rows of the first piece that has
 * rows (after all of them in a small answer), or before the table's end when there are none.
 */
export function* withBrokenTable(pieces: Iterable<string>): Generator<string> {
  let broken = false;
  let previous: string | undefined;
  for (const piece of pieces) {
    if (previous !== undefined) yield previous;
    previous = piece;
    if (!broken) {
      const lastRowEnd = piece.lastIndexOf('</row>\n');
      if (lastRowEnd >= 0) {
        const at = lastRowEnd + '</row>\n'.length;
        previous = piece.slice(0, at) + BROKEN_ROW + piece.slice(at);
        broken = true;
      }
    }
  }
  if (previous === undefined) return;
  if (!broken) {
    const at = previous.lastIndexOf(TABLE_END);
    previous = at >= 0 ? previous.slice(0, at) + BROKEN_ROW + previous.slice(at) : `${previous}<broken`;
  }
  yield previous;
}
