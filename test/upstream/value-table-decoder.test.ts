import { describe, expect, it } from 'vitest';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { serviceCallDecoder } from '../../src/upstream/service-call-row.js';
import { ValueTableDecoder } from '../../src/upstream/value-table-decoder.js';
import {
  SoapFaultError,
  UpstreamOutOfLimitError,
  UpstreamProtocolError,
  UpstreamResultError,
  ValueConversionError,
} from '../../src/upstream/errors.js';
import { SEED_RESPONSE, SEED_ROWS } from '../fixtures/seed.js';
import { cell, column, decodeText, resultCodeResponse, responseWithTable, row } from '../support/decode.js';

const seed = SEED_RESPONSE;

const ID = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const HISTORY_COLUMNS_XML = [
  column('CallID', 'xs:string'),
  column('ClientID', 'xs:string', 'Null'),
  column('ServiceUserID', 'xs:string', 'Null'),
  column('ServiceID', 'xs:string', 'Null'),
  column('CallTime', 'xs:dateTime'),
  column('CallerID', 'xs:string', 'Null'),
  column('CalleeID', 'xs:string', 'Null'),
  column('CallResult', 'xs:decimal'),
  column('Duration', 'xs:decimal'),
].join('\n');

function historyRow(n: number, overrides: Partial<Record<number, string>> = {}): string {
  const cells = [
    cell('xs:string', ID(n)),
    cell('xs:string', ID(1000)),
    cell('xs:string', ID(2000)),
    cell('xs:string', ID(3000)),
    cell('xs:dateTime', '2024-03-01T10:00:00'),
    cell('xs:string', ID(2000)),
    cell('xs:string', ID(4000)),
    cell('xs:decimal', '1'),
    cell('xs:decimal', '60'),
  ].map((c, i) => overrides[i] ?? c);
  return row(...cells);
}

describe('ValueTableDecoder', () => {
  it("decodes the seed's example response to exactly its two rows", () => {
    const { rows, summary, error } = decodeText(seed);
    expect(error).toBeUndefined();
    expect(rows).toEqual(SEED_ROWS);
    expect(summary?.rows).toBe(2);
    expect(summary?.columns.map((c) => c.name)).toEqual(Object.keys(SEED_ROWS[0] as object));
    expect(summary?.columns[1]?.types).toEqual(['xs:string', 'Null']);
  });

  it('gives the same rows whatever the chunk boundaries (every size from 1 to 64)', () => {
    for (let size = 1; size <= 64; size++) {
      const { rows, error } = decodeText(seed, { chunkSize: size });
      expect(error, `chunk size ${size}`).toBeUndefined();
      expect(rows, `chunk size ${size}`).toEqual(SEED_ROWS);
    }
  });

  it('reads xsi:nil="1" as null too, as xs:boolean allows, and a typed nil as null', () => {
    const xml = responseWithTable(
      `${column('N', 'xs:decimal', 'Null')}${row('<Value xsi:nil="1"/>')}${row(cell('xs:decimal', '3'))}` +
        row('<Value xsi:type="xs:decimal" xsi:nil="true"/>') + row('<Value xsi:type="xs:decimal" xsi:nil="false">4</Value>'),
    );
    expect(decodeText(xml, { columns: ['N'] }).rows).toEqual([{ N: null }, { N: 3 }, { N: null }, { N: 4 }]);
  });

  it("reads exactly xs:decimal's lexical space: a sign, a lone point, XML whitespace around", () => {
    const valid = ['0', '-12', '3.25', '1234567890123456789', '+12', '12.', '.5', '-.5', '+0.50', ' \t7\n '];
    const fine = responseWithTable(`${column('N', 'xs:decimal')}${valid.map((t) => row(cell('xs:decimal', t))).join('')}`);
    const { rows, error } = decodeText(fine, { columns: ['N'] });
    expect(error).toBeUndefined();
    expect(rows.map((r) => r.N)).toEqual([0, -12, 3.25, 1234567890123456789, 12, 12, 0.5, -0.5, 0.5, 7]);
  });

  it('rejects decimals that Number() would take but xs:decimal does not', () => {
    for (const text of ['', ' ', '0x1F', '1e3', '1E3', 'Infinity', 'NaN', '--1', '+-1', '1,5', '+', '-', '.', '1 2', '\u00a012', '１２']) {
      const xml = responseWithTable(`${column('N', 'xs:decimal')}${row(cell('xs:decimal', text))}`);
      expect(decodeText(xml, { columns: ['N'] }).error, JSON.stringify(text)).toMatchObject({ row: 1, column: 'N', complete: true });
    }
  });

  it('reads xsi:nil as null, in its position', () => {
    const xml = responseWithTable(`${HISTORY_COLUMNS_XML}\n${historyRow(1, { 1: cell(null), 5: cell(null) })}`);
    const { rows, summary } = decodeText(xml);
    expect(rows[0]?.ClientID).toBeNull();
    expect(rows[0]?.CallerID).toBeNull();
    expect(rows[0]?.CalleeID).toBe(ID(4000));
    expect(summary?.nulls).toBe(2);
  });

  it("lets each value's own xsi:type decide under an empty <ValueType/>", () => {
    const xml = responseWithTable(
      `<column><Name>CallID</Name><ValueType/></column><column><Name>Duration</Name><ValueType/></column>` +
        `<column><Name>Flag</Name><ValueType/></column>` +
        row(cell('xs:string', '42'), cell('xs:decimal', '42'), cell('xs:boolean', 'true')),
    );
    const { rows, summary } = decodeText(xml, { columns: ['CallID', 'Duration', 'Flag'] });
    expect(rows).toEqual([{ CallID: '42', Duration: 42, Flag: true }]);
    expect(summary?.columns[0]?.types).toEqual([]);
  });

  it("uses the column's single declared type when a value has no xsi:type", () => {
    const xml = responseWithTable(`${column('N', 'xs:decimal', 'Null')}${row('<Value>7.5</Value>')}`);
    expect(decodeText(xml, { columns: ['N'] }).rows).toEqual([{ N: 7.5 }]);
  });

  it('skips index elements between the columns and the rows', () => {
    const xml = responseWithTable(
      `${HISTORY_COLUMNS_XML}<index><column>CallID</column></index><index><column>CallTime</column></index>${historyRow(1)}`,
    );
    expect(decodeText(xml).rows.map((r) => r.CallID)).toEqual([ID(1)]);
  });

  it('ignores tabs, newlines and attributes broken over lines', () => {
    const broken = (type: string, text: string): string => `<Value\n\t\t\t\txsi:type="${type}"\n\t\t\t>${text}</Value\n>`;
    const xml = responseWithTable(
      `${HISTORY_COLUMNS_XML}\n\t\t<row>\n\t\t\t${[
        broken('xs:string', ID(5)),
        '<Value\n\txsi:nil="true"\n/>',
        broken('xs:string', ID(2000)),
        broken('xs:string', ID(3000)),
        broken('xs:dateTime', '2024-03-01T10:00:00'),
        broken('xs:string', ID(2000)),
        broken('xs:string', ID(4000)),
        broken('xs:decimal', '2'),
        broken('xs:decimal', '0'),
      ].join('\n\t\t\t')}\n\t\t</row>\n`,
    );
    const { rows, error } = decodeText(xml);
    expect(error).toBeUndefined();
    expect(rows[0]).toMatchObject({ CallID: ID(5), ClientID: null, CallResult: 2, Duration: 0 });
  });

  it('decodes entities and CDATA in text, and keeps significant spaces of strings', () => {
    const xml = responseWithTable(
      `${column('Text', 'xs:string')}${row(cell('xs:string', '&lt;a&gt; &amp; &quot;b&quot; &#1055;&#x440;'))}` +
        row(cell('xs:string', '<![CDATA[x <y> & z]]>')) +
        row(cell('xs:string', '  padded  ')) +
        row(cell('xs:string', '')) +
        row('<Value xsi:type="xs:string"/>'),
    );
    expect(decodeText(xml, { columns: ['Text'] }).rows.map((r) => r.Text)).toEqual([
      '<a> & "b" Пр',
      'x <y> & z',
      '  padded  ',
      '',
      '',
    ]);
  });

  it('decodes an empty table: its columns and no rows', () => {
    const { rows, summary, error } = decodeText(responseWithTable(HISTORY_COLUMNS_XML));
    expect(error).toBeUndefined();
    expect(rows).toEqual([]);
    expect(summary).toMatchObject({ rows: 0, nulls: 0 });
    expect(summary?.columns).toHaveLength(9);
  });

  it('keys values by column name whatever the column order', () => {
    const xml = responseWithTable(
      column('Duration', 'xs:decimal') +
        column('CallID', 'xs:string') +
        column('CallTime', 'xs:dateTime') +
        row(cell('xs:decimal', '15'), cell('xs:string', ID(9)), cell('xs:dateTime', '2024-01-01T00:00:00')),
    );
    expect(decodeText(xml, { columns: ['CallID', 'CallTime', 'Duration'] }).rows).toEqual([
      { CallID: ID(9), CallTime: new Date('2023-12-31T21:00:00Z'), Duration: 15 },
    ]);
  });

  it('ignores unknown extra columns, even ones whose values would not parse', () => {
    const xml = responseWithTable(
      column('Comment', 'xs:decimal') +
        column('CallID', 'xs:string') +
        row(cell('xs:decimal', 'not a number'), cell('xs:string', ID(1))),
    );
    expect(decodeText(xml, { columns: ['CallID'] }).rows).toEqual([{ CallID: ID(1) }]);
  });

  it('fails on a missing required column, naming it', () => {
    const xml = responseWithTable(column('CallID', 'xs:string') + row(cell('xs:string', ID(1))));
    const { error, rows } = decodeText(xml, { columns: ['CallID', 'Duration'] });
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error?.message).toContain('Duration');
    expect(rows).toEqual([]);
  });

  it('fails on a missing required column of an empty table too', () => {
    const { error } = decodeText(responseWithTable(column('CallID', 'xs:string')), { columns: ['CallID', 'Duration'] });
    expect(error?.message).toContain('Duration');
  });

  it.each([
    ['xs:decimal', '12abc', 7, 'CallResult'],
    ['xs:decimal', '1e3', 8, 'Duration'],
    ['xs:dateTime', '2024-02-30T10:00:00', 4, 'CallTime'],
    ['xs:dateTime', 'yesterday', 4, 'CallTime'],
  ])('names the row and column of a %s value %j that does not parse', (type, text, position, name) => {
    const xml = responseWithTable(
      `${HISTORY_COLUMNS_XML}${historyRow(1)}${historyRow(2, { [position]: cell(type, text) })}`,
    );
    const { error, rows } = decodeText(xml);
    expect(error).toBeInstanceOf(ValueConversionError);
    expect(error).toMatchObject({ row: 2, column: name });
    expect(error?.message).toContain(`row 2, column ${name}`);
    expect(rows).toHaveLength(1);
  });

  it('rejects a boolean that is not one', () => {
    const xml = responseWithTable(column('B', 'xs:boolean') + row(cell('xs:boolean', 'yes')));
    expect(decodeText(xml, { columns: ['B'] }).error).toMatchObject({ row: 1, column: 'B' });
  });

  it('rejects a row with fewer or more values than columns', () => {
    const short = responseWithTable(`${column('A', 'xs:string')}${column('B', 'xs:string')}${row(cell('xs:string', 'a'))}`);
    expect(decodeText(short, { columns: ['A'] }).error?.message).toContain('row 1 has 1 values for 2 columns');
    const long = responseWithTable(`${column('A', 'xs:string')}${row(cell('xs:string', 'a'), cell('xs:string', 'b'))}`);
    expect(decodeText(long, { columns: ['A'] }).error?.message).toContain('more values');
  });

  it('reports a body cut mid-table as a protocol error, after handing out the complete rows', () => {
    const xml = responseWithTable(`${HISTORY_COLUMNS_XML}${historyRow(1)}${historyRow(2)}${historyRow(3)}`);
    const cut = xml.slice(0, xml.indexOf(ID(3)));
    const { rows, error } = decodeText(cut, { chunkSize: 100 });
    expect(rows.map((r) => r.CallID)).toEqual([ID(1), ID(2)]);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error).toMatchObject({ rowsDecoded: 2, truncated: true, complete: false });
    expect(error?.message).toContain('ended before the SOAP envelope closed');
  });

  it('reports a body that ends after the table but before the envelope closes', () => {
    const cut = seed.slice(0, seed.indexOf('</soap:Body>'));
    const { rows, error } = decodeText(cut);
    expect(rows).toHaveLength(2);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
  });

  it('reports malformed XML as a protocol error', () => {
    const xml = seed.replace('<Name>CallTime</Name>', '<Name>CallTime</Nmae>');
    const { error } = decodeText(xml);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error?.message).toMatch(/^malformed XML/);
    expect(error).toMatchObject({ complete: false, truncated: false });
  });

  it('rejects a SUCCESS response without a table, and a response without ResultCode', () => {
    expect(decodeText(resultCodeResponse('SUCCESS', 'done')).error?.message).toContain('no ValueTable');
    const noCode = seed.replace(/<Property name="ResultCode"[\s\S]*?<\/Property>/, '');
    expect(decodeText(noCode).error?.message).toContain('no ResultCode');
  });

  it('turns OUT_OF_LIMIT into its own kind, and other codes into a result error with the text', () => {
    const limit = decodeText(resultCodeResponse('OUT_OF_LIMIT', 'limit reached')).error;
    expect(limit).toBeInstanceOf(UpstreamOutOfLimitError);
    expect(limit).toMatchObject({ resultCode: 'OUT_OF_LIMIT', resultText: 'limit reached', kind: 'out-of-limit' });
    const other = decodeText(resultCodeResponse('PARAM_NOT_EXIST', 'no such &amp; parameter')).error;
    expect(other).toBeInstanceOf(UpstreamResultError);
    expect(other).not.toBeInstanceOf(UpstreamOutOfLimitError);
    expect(other).toMatchObject({ resultCode: 'PARAM_NOT_EXIST', resultText: 'no such & parameter' });
  });

  it('reads SOAP 1.2 and SOAP 1.1 Faults', () => {
    const fault12 = `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>
      <soap:Code><soap:Value>soap:Receiver</soap:Value><soap:Subcode><soap:Value>x:Inner</soap:Value></soap:Subcode></soap:Code>
      <soap:Reason><soap:Text xml:lang="ru">Ошибка сервера</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>`;
    expect(decodeText(fault12).error).toEqual(new SoapFaultError('soap:Receiver', 'Ошибка сервера'));
    const fault11 = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
      <faultcode>s:Server</faultcode><faultstring>Internal error</faultstring></s:Fault></s:Body></s:Envelope>`;
    const error = decodeText(fault11).error;
    expect(error).toBeInstanceOf(SoapFaultError);
    expect(error).toMatchObject({ faultCode: 's:Server', faultReason: 'Internal error' });
  });
});

/** A GetHistoryOfServiceCalls response through the ServiceCall decoder, in pieces of `chunkSize`. */
function decodeCalls(xml: string, zone = 'Europe/Moscow', chunkSize = xml.length) {
  const calls: ServiceCall[] = [];
  const decoder = serviceCallDecoder(zone, (call) => calls.push(call));
  try {
    for (let i = 0; i < xml.length; i += chunkSize) decoder.write(xml.slice(i, i + chunkSize));
    return { calls, summary: decoder.end(), error: undefined };
  } catch (error) {
    if (!(error instanceof UpstreamProtocolError) && !(error instanceof UpstreamResultError)) throw error;
    return { calls, summary: undefined, error };
  }
}

const CALL_TIME = 4;
const CALL_RESULT = 7;
const DURATION = 8;
const withValue = (position: number, type: string, text: string): string =>
  responseWithTable(`${HISTORY_COLUMNS_XML}${historyRow(1)}${historyRow(2, { [position]: cell(type, text) })}`);

describe('ServiceCall decoding: every value accepted can be served', () => {
  it.each([
    ['0001-01-01T00:00:00'],
    ['0001-01-01T00:00:00.000'],
    ['0001-01-01T00:00:00Z'],
    ['0001-01-01T00:00:00+00:00'],
    ['0001-01-01T00:00:00+03:00'],
    ['\n\t0001-01-01T00:00:00 '],
  ])("reads 1C's empty date %j as a null callTime and keeps the call", (text) => {
    const { calls, error, summary } = decodeCalls(withValue(CALL_TIME, 'xs:dateTime', text));
    expect(error).toBeUndefined();
    expect(calls.map((c) => c.callTime)).toEqual([Date.parse('2024-03-01T10:00:00+03:00'), null]);
    expect(calls[1]?.callId).toBe(ID(2));
    expect(summary?.nulls).toBe(1);
  });

  it.each([
    ['2019-09-26T18:31:04+03:00', '2019-09-26T18:31:04+03:00'],
    ['2019-09-26T15:31:04Z', '2019-09-26T18:31:04+03:00'],
    ['2019-09-26T10:31:04-05:00', '2019-09-26T18:31:04+03:00'],
    ['2019-09-26T15:31:04-00:00', '2019-09-26T18:31:04+03:00'],
    ['2019-09-26T24:00:00', '2019-09-27T00:00:00+03:00'],
    ['2019-09-26T18:31:04.250', '2019-09-26T18:31:04.250+03:00'],
    ['1999-12-31T21:00:00Z', '2000-01-01T00:00:00+03:00'],
    ['2099-12-31T23:59:59', '2099-12-31T23:59:59+03:00'],
  ])('reads CallTime %j as the instant %s', (text, instant) => {
    const { calls, error } = decodeCalls(withValue(CALL_TIME, 'xs:dateTime', text));
    expect(error).toBeUndefined();
    expect(calls[1]?.callTime).toBe(Date.parse(instant));
  });

  it.each([
    ['1999-12-31T23:59:59', 'served range'],
    ['2100-01-01T00:00:00', 'served range'],
    ['2099-12-31T21:00:00Z', 'served range'],
    ['1850-06-01T12:00:00', 'cannot be written exactly in Europe/Moscow'],
    ['0002-01-01T00:00:00', 'cannot be written exactly'],
    ['-2019-09-26T18:31:04', 'cannot be held exactly: year -2019'],
    ['12019-09-26T18:31:04', 'cannot be held exactly: year 12019'],
    ['2019-09-26T18:31:04.0001', 'finer than a millisecond'],
    ['2019-09-26T18:31:04+15:00', 'is not a valid xs:dateTime: offset +15:00'],
    ['0000-01-01T00:00:00', 'is not a valid xs:dateTime: year 0000'],
  ])('refuses CallTime %j (%s), naming row 2 and CallTime, never inventing an instant', (text, reason) => {
    const { calls, error } = decodeCalls(withValue(CALL_TIME, 'xs:dateTime', text));
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(ValueConversionError);
    expect(error).toMatchObject({ row: 2, column: 'CallTime', complete: true });
    expect(error?.message).toContain('row 2, column CallTime');
    expect(error?.message).toContain(reason);
  });

  it('checks the served range on the wall time of the upstream zone', () => {
    // Year 2 in UTC has a whole-minute offset, so only the served range refuses it.
    const { error } = decodeCalls(withValue(CALL_TIME, 'xs:dateTime', '0002-01-01T00:00:00'), 'UTC');
    expect(error?.message).toContain('served range 2000-01-01..2100-01-01');
  });

  it.each([
    ['0', 0], ['12', 12], ['+12', 12], ['12.0', 12], ['12.', 12], ['0012.000', 12], ['-0', 0], ['2147483647', 2147483647],
    ['00000000000000000000000000012', 12],
  ])('reads Duration %j as %i seconds', (text, seconds) => {
    const { calls, error } = decodeCalls(withValue(DURATION, 'xs:decimal', text));
    expect(error).toBeUndefined();
    expect(calls[1]?.durationSeconds).toBe(seconds);
    expect(Object.is(calls[1]?.durationSeconds, -0)).toBe(false);
  });

  it.each([
    ['2147483648', 'is outside 0..2147483647'],
    ['99999999999999999999999', 'is outside 0..2147483647'],
    ['-1', 'is outside 0..2147483647'],
    ['12.5', 'is not a whole number'],
    ['.5', 'is not a whole number'],
    // Number() would round this to 2147483647: the text decides.
    ['2147483647.00000000000000001', 'is not a whole number'],
    ['1e3', 'is not a valid xs:decimal'],
  ])('refuses Duration %j (%s), naming row 2 and Duration', (text, reason) => {
    const { calls, error } = decodeCalls(withValue(DURATION, 'xs:decimal', text));
    expect(calls).toHaveLength(1);
    expect(error).toMatchObject({ row: 2, column: 'Duration', complete: true });
    expect(error?.message).toContain(reason);
  });

  it('reads CallResult 1 and 2 however written, and refuses anything else', () => {
    for (const [text, result] of [['1', 'SUCCESSFUL'], ['+2', 'UNSUCCESSFUL'], ['2.000', 'UNSUCCESSFUL'], ['01', 'SUCCESSFUL']]) {
      expect(decodeCalls(withValue(CALL_RESULT, 'xs:decimal', text as string)).calls[1]?.callResult, text).toBe(result);
    }
    for (const text of ['0', '3', '-1', '1.5', '']) {
      expect(decodeCalls(withValue(CALL_RESULT, 'xs:decimal', text)).error, text).toMatchObject({ row: 2, column: 'CallResult', complete: true });
    }
  });
});

describe('a response that is complete but cannot be decoded, told from a cut one', () => {
  const threeRows = (bad: string): string =>
    responseWithTable(`${HISTORY_COLUMNS_XML}${historyRow(1)}${historyRow(2, { [DURATION]: cell('xs:decimal', bad) })}${historyRow(3)}`);

  it('reads on past a bad value to the end, hands out no later row, and then names the first bad value', () => {
    const xml = responseWithTable(
      `${HISTORY_COLUMNS_XML}${historyRow(1)}${historyRow(2, { [DURATION]: cell('xs:decimal', '1.5') })}` +
        `${historyRow(3, { [CALL_RESULT]: cell('xs:decimal', '7') })}${historyRow(4)}`,
    );
    for (const size of [1, 7, 100, xml.length]) {
      const { calls, error } = decodeCalls(xml, 'Europe/Moscow', size);
      expect(calls.map((c) => c.callId), `chunk ${size}`).toEqual([ID(1)]);
      expect(error, `chunk ${size}`).toBeInstanceOf(ValueConversionError);
      expect(error).toMatchObject({ row: 2, column: 'Duration', complete: true, truncated: false, rowsDecoded: 1 });
    }
  });

  it('says a bad value in a cut body is a cut body: fetching again may bring it whole', () => {
    const xml = threeRows('1.5');
    const { calls, error } = decodeCalls(xml.slice(0, xml.indexOf(ID(3))));
    expect(calls).toHaveLength(1);
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error).not.toBeInstanceOf(ValueConversionError);
    expect(error).toMatchObject({ truncated: true, complete: false });
    expect(error?.message).toContain('ended before the SOAP envelope closed');
    expect(error?.message).toContain('row 2, column Duration');
  });

  it('keeps malformed XML an immediate error that is not complete, even after a bad value', () => {
    const xml = threeRows('1.5').replace(`<Value xsi:type="xs:string">${ID(3)}</Value>`, `<Value xsi:type="xs:string">${ID(3)}</Valeu>`);
    const { error } = decodeCalls(xml);
    expect(error?.message).toMatch(/^malformed XML/);
    expect(error).toMatchObject({ complete: false });
  });

  it('calls a complete response with a missing column, a row of the wrong length or no ResultCode complete', () => {
    const missing = responseWithTable(column('CallID', 'xs:string') + row(cell('xs:string', ID(1))));
    expect(decodeText(missing, { columns: ['CallID', 'Duration'] }).error).toMatchObject({ complete: true });
    const short = responseWithTable(`${column('A', 'xs:string')}${column('B', 'xs:string')}${row(cell('xs:string', 'a'))}${row(cell('xs:string', 'a'), cell('xs:string', 'b'))}`);
    const shortOutcome = decodeText(short, { columns: ['A'] });
    expect(shortOutcome.error).toMatchObject({ complete: true });
    expect(shortOutcome.rows).toEqual([]);
    const long = responseWithTable(`${column('A', 'xs:string')}${row(cell('xs:string', 'a'), cell('xs:string', 'b'))}${row(cell('xs:string', 'c'))}`);
    expect(decodeText(long, { columns: ['A'] })).toMatchObject({ rows: [], error: { complete: true } });
    const noCode = seed.replace(/<Property name="ResultCode"[\s\S]*?<\/Property>/, '');
    expect(decodeText(noCode).error).toMatchObject({ complete: true });
  });

  it('lets an error that is not about the response, thrown by the consumer, through at once', () => {
    const decoder = new ValueTableDecoder({
      zone: 'Europe/Moscow',
      columns: ['CallID'],
      onRow: () => {
        throw new RangeError('consumer bug');
      },
    });
    expect(() => decoder.write(seed)).toThrow(RangeError);
  });

  it('after a charset failure, still recognises OUT_OF_LIMIT, and calls anything else a charset error', () => {
    const limit = new ValueTableDecoder({ zone: 'UTC', columns: [], onRow: () => undefined });
    limit.charsetFailed('the response is not valid utf-8');
    limit.write(resultCodeResponse('OUT_OF_LIMIT', 'Ïðåâûøåí'));
    expect(() => limit.end()).toThrow(UpstreamOutOfLimitError);
    const other = new ValueTableDecoder({ zone: 'UTC', columns: [], onRow: () => undefined });
    other.charsetFailed('the response is not valid utf-8');
    other.write(resultCodeResponse('PARAM_NOT_EXIST', 'x'));
    expect(() => other.end()).toThrow(/not valid utf-8/);
    const rows: unknown[] = [];
    const table = new ValueTableDecoder({ zone: 'Europe/Moscow', columns: ['CallID'], onRow: (r) => rows.push(r) });
    table.charsetFailed('the response is not valid windows-1251');
    table.write(seed);
    let thrown: unknown;
    try {
      table.end();
    } catch (error) {
      thrown = error;
    }
    expect(rows).toEqual([]);
    expect(thrown).toMatchObject({ message: 'the response is not valid windows-1251', complete: true });
  });

  it('puts complete in the JSON of a protocol error', () => {
    expect(new ValueConversionError(2, 'Duration', 'xs:decimal', '1.5').asComplete().toJSON()).toMatchObject({
      name: 'ValueConversionError', row: 2, column: 'Duration', complete: true, truncated: false,
    });
  });
});
