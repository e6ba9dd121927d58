import { ConnectError } from '../../src/upstream/errors.js';
import type { ValueTableRow } from '../../src/upstream/value-table.js';
import { REQUIRED_HISTORY_COLUMNS } from '../../src/upstream/value-table.js';
import { ValueTableDecoder, type ValueTableSummary } from '../../src/upstream/value-table-decoder.js';

export interface DecodeOutcome {
  rows: ValueTableRow[];
  summary?: ValueTableSummary;
  error?: ConnectError;
}

/** Feeds `xml` to a decoder in pieces of `chunkSize` characters and collects what came out. */
export function decodeText(
  xml: string,
  options: { chunkSize?: number; columns?: readonly string[]; zone?: string } = {},
): DecodeOutcome {
  const rows: ValueTableRow[] = [];
  const decoder = new ValueTableDecoder({
    zone: options.zone ?? 'Europe/Moscow',
    columns: options.columns ?? REQUIRED_HISTORY_COLUMNS,
    onRow: (row) => rows.push(row),
  });
  const size = options.chunkSize ?? xml.length;
  try {
    for (let i = 0; i < xml.length; i += size) decoder.write(xml.slice(i, i + size));
    return { rows, summary: decoder.end() };
  } catch (error) {
    if (error instanceof ConnectError) return { rows, error };
    throw error;
  }
}

const NS =
  'xmlns:soap="http://www.w3.org/2003/05/soap-envelope"';

/** A GetHistoryOfServiceCalls response around the given ValueTable body (columns, indexes, rows). */
export function responseWithTable(tableBody: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope ${NS}>
\t<soap:Body>
\t\t<m:GetHistoryOfServiceCallsResponse xmlns:m="http://buhphone.com/PartnerWebAPI2">
\t\t\t<m:return xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
\t\t\t\t<Property name="ResultCode" xmlns="http://v8.1c.ru/8.1/data/core"><Value xsi:type="xs:string">SUCCESS</Value></Property>
\t\t\t\t<Property name="ResultData" xmlns="http://v8.1c.ru/8.1/data/core">
\t\t\t\t\t<Value xsi:type="ValueTable">
${tableBody}
\t\t\t\t\t</Value>
\t\t\t\t</Property>
\t\t\t</m:return>
\t\t</m:GetHistoryOfServiceCallsResponse>
\t</soap:Body>
</soap:Envelope>`;
}

export function column(name: string, ...types: string[]): string {
  return `<column><Name>${name}</Name><ValueType>${types.map((t) => `<Type>${t}</Type>`).join('')}</ValueType></column>`;
}

export function cell(type: string | null, text = ''): string {
  return type === null ? '<Value xsi:nil="true"/>' : `<Value xsi:type="${type}">${text}</Value>`;
}

export function row(...cells: string[]): string {
  return `<row>${cells.join('')}</row>`;
}

export function resultCodeResponse(code: string, text: string): string {
  return `<soap:Envelope ${NS}><soap:Body><m:GetHistoryOfServiceCallsResponse xmlns:m="http://buhphone.com/PartnerWebAPI2">
<m:return xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<Property name="ResultCode" xmlns="http://v8.1c.ru/8.1/data/core"><Value xsi:type="xs:string">${code}</Value></Property>
<Property name="ResultData" xmlns="http://v8.1c.ru/8.1/data/core"><Value xsi:type="xs:string">${text}</Value></Property>
</m:return></m:GetHistoryOfServiceCallsResponse></soap:Body></soap:Envelope>`;
}
