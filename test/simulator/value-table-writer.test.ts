import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { HISTORY_COLUMNS, type ValueTableColumn, type ValueTableRow } from '../../src/upstream/value-table.js';
import { SOAP_11_NS, SOAP_12_NS } from '../../src/upstream/history-request.js';
import {
  EMPTY_DATE,
  EMPTY_DATE_TEXT,
  escapeXml,
  formatDecimal,
  historyRowOf,
  PIECE_SIZE,
  writeHistoryResponse,
  writeResultCodeResponse,
  writeSoapFault,
  type WriterRow,
} from '../../src/simulator/value-table-writer.js';
import { SEED_RESPONSE, SEED_ROWS } from '../fixtures/seed.js';
import { assertWellFormed, parseFault, parseHistoryResponse } from './support.js';

const ZONE = 'Europe/Moscow';


const write = (
  rows: Iterable<WriterRow>,
  options: Partial<Parameters<typeof writeHistoryResponse>[0]> = {},
): string => [...writeHistoryResponse({ soapVersion: '1.2', columns: HISTORY_COLUMNS, rows, zone: ZONE, ...options })].join('');

const withoutLayout = (xml: string): string => xml.replace(/>\s+</g, '><').trim();

describe('writeHistoryResponse', () => {
  it("writes the seed's example response, tag for tag", () => {
    const xml = write(SEED_ROWS);
    expect(withoutLayout(xml)).toBe(withoutLayout(SEED_RESPONSE));
  });

  it("round-trips the seed's rows through an independent parser", () => {
    const parsed = parseHistoryResponse(write(SEED_ROWS));
    expect(parsed.envelopeNs).toBe(SOAP_12_NS);
    expect(parsed.resultCode).toBe('SUCCESS');
    expect(parsed.columns).toEqual(HISTORY_COLUMNS.map((c) => ({ name: c.name, types: c.types })));
    expect(parsed.rows).toHaveLength(2);
    expect(parsed.rows[0]?.['CallTime']).toEqual({ type: 'xs:dateTime', nil: false, text: '2019-09-26T18:29:37' });
    expect(parsed.rows[1]?.['Duration']).toEqual({ type: 'xs:decimal', nil: false, text: '24' });
    expect(parsed.rows[1]?.['CallerID']?.text).toBe('0e0a9b78-ee6b-2003-bd33-ca248f7f9baf');
  });

  it('is pretty-printed with tabs', () => {
    const lines = write(SEED_ROWS).split('\n');
    expect(lines.length).toBeGreaterThan(100);
    expect(lines.every((line) => /^\t*<\S/.test(line))).toBe(true);
    expect(lines.some((line) => line.startsWith('\t\t\t\t\t\t\t<Value'))).toBe(true);
  });

  it('answers SOAP 1.1 in the 1.1 namespace', () => {
    expect(parseHistoryResponse(write(SEED_ROWS, { soapVersion: '1.1' })).envelopeNs).toBe(SOAP_11_NS);
  });

  it('writes the type of each cell from its JS type, NULL as xsi:nil, and a missing cell as NULL', () => {
    const columns: ValueTableColumn[] = [
      { name: 'S', types: ['xs:string'] },
      { name: 'N', types: ['xs:decimal'] },
      { name: 'B', types: ['xs:boolean'] },
      { name: 'D', types: ['xs:dateTime'] },
      { name: 'Z', types: ['xs:string', 'Null'] },
      { name: 'M', types: ['xs:string', 'Null'] },
    ];
    const xml = write([{ S: '', N: 1e21, B: false, D: new Date('2024-01-01T00:00:00Z'), Z: null }], { columns, zone: 'America/New_York' });
    const [row] = parseHistoryResponse(xml).rows;
    expect(row).toEqual({
      S: { type: 'xs:string', nil: false, text: '' },
      N: { type: 'xs:decimal', nil: false, text: '1000000000000000000000' },
      B: { type: 'xs:boolean', nil: false, text: 'false' },
      D: { type: 'xs:dateTime', nil: false, text: '2023-12-31T19:00:00' },
      Z: { nil: true, text: '' },
      M: { nil: true, text: '' },
    });
    expect(xml).toContain('<Value xsi:nil="true"/>');
  });

  it('writes decimals without exponent', () => {
    expect([1e21, 1e-7, -1.5e-10, 123.456, 0, -0, 2 ** 70].map(formatDecimal)).toEqual([
      '1000000000000000000000', '0.0000001', '-0.00000000015', '123.456', '0', '0', '1180591620717411300000',
    ]);
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const text = formatDecimal(n);
        expect(text).toMatch(/^-?\d+(\.\d+)?$/);
        expect(Number(text)).toBe(n === 0 ? 0 : n);
      }),
    );
    expect(() => formatDecimal(Number.NaN)).toThrow(RangeError);
  });

  it('escapes markup characters and never writes characters XML 1.0 cannot carry', () => {
    const hostile = [
      `& < > " '`,
      'a]]>b',
      '<![CDATA[x]]>',
      '</Value><Value xsi:type="xs:string">injected',
      'tab\tnewline\nCR\rend',
      'ctl\u0000\u0001\u001F\uFFFE\uFFFF lone\uD800 surrogate',
      'emoji 😀 кириллица',
    ];
    const columns: ValueTableColumn[] = [{ name: 'Name & <Co> "q"', types: ['xs:string'] }];
    const xml = write(hostile.map((text) => ({ [columns[0]!.name]: text })), { columns });
    assertWellFormed(xml);
    expect(xml).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/);
    expect(xml).not.toContain('<![CDATA[');
    const parsed = parseHistoryResponse(xml);
    expect(parsed.columns[0]?.name).toBe('Name & <Co> "q"');
    expect(parsed.rows.map((r) => r['Name & <Co> "q"']?.text)).toEqual([
      `& < > " '`,
      'a]]>b',
      '<![CDATA[x]]>',
      '</Value><Value xsi:type="xs:string">injected',
      'tab\tnewline\nCR\rend',
      'ctl\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD lone\uFFFD surrogate',
      'emoji 😀 кириллица',
    ]);
  });

  it('round-trips any XML-representable string', () => {
    const columns: ValueTableColumn[] = [{ name: 'T', types: ['xs:string'] }];
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
        fc.pre(!/[\uFFFE\uFFFF\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(text));
        const [row] = parseHistoryResponse(write([{ T: text }], { columns })).rows;
        expect(row?.['T']?.text).toBe(text);
      }),
      { numRuns: 300 },
    );
    expect(escapeXml('plain')).toBe('plain');
  });

  it('yields pieces of about 64 KiB, cut between rows', () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ ...SEED_ROWS[0], Duration: i }));
    const pieces = [...writeHistoryResponse({ soapVersion: '1.2', columns: HISTORY_COLUMNS, rows, zone: ZONE })];
    expect(pieces.length).toBeGreaterThan(10);
    for (const piece of pieces.slice(0, -1)) {
      expect(piece.length).toBeGreaterThanOrEqual(PIECE_SIZE);
      expect(piece.length).toBeLessThan(PIECE_SIZE + 2048);
      expect(piece.endsWith('</row>\n')).toBe(true);
    }
    const parsed = parseHistoryResponse(pieces.join(''));
    expect(parsed.rows.map((r) => Number(r['Duration']?.text))).toEqual(rows.map((_, i) => i));
  });

  it('produces rows lazily', () => {
    let produced = 0;
    function* rows(): Generator<ValueTableRow> {
      for (let i = 0; i < 10_000; i++) {
        produced++;
        yield SEED_ROWS[0] as ValueTableRow;
      }
    }
    const pieces = writeHistoryResponse({ soapVersion: '1.2', columns: HISTORY_COLUMNS, rows: rows(), zone: ZONE });
    pieces.next();
    expect(produced).toBeGreaterThan(0);
    expect(produced).toBeLessThan(10_000);
  });

  it('writes an empty table with its columns and no rows', () => {
    const parsed = parseHistoryResponse(write([]));
    expect(parsed.columns).toHaveLength(9);
    expect(parsed.rows).toEqual([]);
  });

  it('can break Value and Property attributes onto their own lines', () => {
    const xml = write(SEED_ROWS, { style: { attributesOnOwnLines: true } });
    expect(xml).toContain('<Value\n\t\t\t\t\t\t\t\txsi:type="xs:string">5f99f58f');
    expect(xml).toMatch(/<Property\n\t+name="ResultCode"\n\t+xmlns="http:\/\/v8\.1c\.ru\/8\.1\/data\/core">/);
    expect(withoutLayout(xml.replace(/\n\t+(?=[\w:]+=")/g, ' '))).toBe(withoutLayout(SEED_RESPONSE));
    expect(parseHistoryResponse(xml).rows).toEqual(parseHistoryResponse(write(SEED_ROWS)).rows);
  });

  it('can write empty ValueTypes', () => {
    const xml = write(SEED_ROWS, { style: { emptyValueType: true } });
    expect(xml.match(/<ValueType\/>/g)).toHaveLength(9);
    expect(xml).not.toContain('<Type>');
    const parsed = parseHistoryResponse(xml);
    expect(parsed.columns.map((c) => c.types)).toEqual(HISTORY_COLUMNS.map(() => []));
    expect(parsed.rows).toHaveLength(2);
  });
});

describe('historyRowOf', () => {
  it('maps a ServiceCall onto the history columns', () => {
    const call: ServiceCall = {
      callId: 'c',
      clientId: null,
      serviceUserId: 'u',
      serviceId: 's',
      callTime: Date.parse('2024-03-04T09:00:00Z'),
      callerId: 'x',
      calleeId: 'u',
      callResult: 'UNSUCCESSFUL',
      durationSeconds: 0,
    };
    const row = historyRowOf(call);
    expect(Object.keys(row)).toEqual(HISTORY_COLUMNS.map((c) => c.name));
    expect(row).toEqual({
      CallID: 'c',
      ClientID: null,
      ServiceUserID: 'u',
      ServiceID: 's',
      CallTime: new Date('2024-03-04T09:00:00Z'),
      CallerID: 'x',
      CalleeID: 'u',
      CallResult: 2,
      Duration: 0,
    });
    expect(historyRowOf({ ...call, callResult: 'SUCCESSFUL', durationSeconds: 7 })).toMatchObject({ CallResult: 1, Duration: 7 });
  });

  it("writes a null callTime as 1C's empty date, whatever the zone", () => {
    const call: ServiceCall = {
      callId: 'never-answered',
      clientId: 'c',
      serviceUserId: 'u',
      serviceId: 's',
      callTime: null,
      callerId: 'u',
      calleeId: 'x',
      callResult: 'UNSUCCESSFUL',
      durationSeconds: 0,
    };
    expect(historyRowOf(call).CallTime).toBe(EMPTY_DATE);
    // Moscow's year-1 offset is local mean time (+2:30:17): the empty date must not pass through it.
    for (const zone of [ZONE, 'UTC', 'America/New_York']) {
      const xml = write([historyRowOf(call)], { zone });
      expect(xml).toContain(`<Value xsi:type="xs:dateTime">${EMPTY_DATE_TEXT}</Value>`);
      expect(parseHistoryResponse(xml).rows[0]?.['CallTime']).toEqual({ type: 'xs:dateTime', nil: false, text: '0001-01-01T00:00:00' });
    }
  });
});

describe('writeResultCodeResponse and writeSoapFault', () => {
  it('writes a refusal with its code and text in either version', () => {
    for (const [version, ns] of [['1.2', SOAP_12_NS], ['1.1', SOAP_11_NS]] as const) {
      const parsed = parseHistoryResponse(writeResultCodeResponse('OUT_OF_LIMIT', 'Превышен лимит & <"limit reached">', version));
      expect(parsed).toMatchObject({ envelopeNs: ns, resultCode: 'OUT_OF_LIMIT', resultText: 'Превышен лимит & <"limit reached">' });
    }
    expect(writeResultCodeResponse('X', 'y', '1.2')).toContain('\t\t\t\t<Property xmlns="http://v8.1c.ru/8.1/data/core" name="ResultCode">');
  });

  it('writes 1.2 faults with Code/Reason and 1.1 faults with faultcode/faultstring', () => {
    const f12 = writeSoapFault('Client', 'bad <request> & \u0001', '1.2');
    expect(parseFault(f12)).toEqual({ envelopeNs: SOAP_12_NS, code: 'soap:Sender', reason: 'bad <request> & \uFFFD' });
    expect(f12).toContain('<soap:Text xml:lang="ru">');
    const f11 = writeSoapFault('Server', 'boom', '1.1');
    expect(parseFault(f11)).toEqual({ envelopeNs: SOAP_11_NS, code: 'soap:Server', reason: 'boom' });
    expect(f11).toContain('<faultcode>soap:Server</faultcode>');
    expect(parseFault(writeSoapFault('Receiver', 'x', '1.1')).code).toBe('soap:Server');
    expect(parseFault(writeSoapFault('my:Custom', 'x', '1.2')).code).toBe('my:Custom');
  });
});
