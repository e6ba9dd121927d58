import { describe, expect, it } from 'vitest';
import { ConnectError, UpstreamOutOfLimitError } from '../../src/upstream/errors.js';
import { charsetOfContentType, ResponseBody } from '../../src/upstream/response-text.js';
import type { ValueTableRow } from '../../src/upstream/value-table.js';
import { ValueTableDecoder } from '../../src/upstream/value-table-decoder.js';
import { caseFile } from '../support/case-upstream.js';
import { cell, column, responseWithTable, row } from '../support/decode.js';

const TEXT = 'Превышен лимит — ёЁ';

/** windows-1251 bytes of ASCII and Russian text (the letters this test uses). */
function cp1251(text: string): Buffer {
  return Buffer.from(
    [...text].map((c) => {
      const code = c.codePointAt(0) as number;
      if (code < 0x80) return code;
      if (code >= 0x410 && code <= 0x44f) return code - 0x410 + 0xc0;
      const other: Record<string, number> = { Ё: 0xa8, ё: 0xb8, '—': 0x97 };
      const byte = other[c];
      if (byte === undefined) throw new Error(`no windows-1251 byte for ${c} in this test`);
      return byte;
    }),
  );
}

/** A one-column table response holding `text`, after `declaration`. */
const table = (declaration: string, text = TEXT): string =>
  declaration + responseWithTable(`${column('Text', 'xs:string')}${row(cell('xs:string', text))}`).replace(/^<\?xml[^>]*>\n?/, '');

function read(bytes: Buffer, headerCharset: string | null, chunkSize = bytes.length) {
  const rows: ValueTableRow[] = [];
  const body = new ResponseBody(new ValueTableDecoder({ zone: 'UTC', columns: ['Text'], onRow: (r) => rows.push(r) }), headerCharset);
  try {
    for (let i = 0; i < bytes.length; i += chunkSize) body.write(bytes.subarray(i, i + chunkSize));
    body.end();
    return { rows, charset: body.charset, error: undefined };
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    return { rows, charset: body.charset, error };
  }
}

describe('charsetOfContentType', () => {
  it.each([
    ['application/soap+xml; charset=utf-8; action="http://buhphone.com/PartnerWebAPI2#PartnerWebAPI2:GetHistoryOfServiceCalls"', 'utf-8'],
    ['text/xml;charset="Windows-1251"', 'Windows-1251'],
    ['text/xml; CHARSET=windows-1251', 'windows-1251'],
    ['text/xml', null],
    ['not a media type', null],
    ['', null],
    [null, null],
  ])('finds the charset of %j: %j', (contentType, charset) => {
    expect(charsetOfContentType(contentType)).toBe(charset);
  });
});

describe('ResponseBody: the charset of a response', () => {
  it('reads UTF-8 by default, whatever the chunk boundaries', () => {
    const bytes = Buffer.from(table(''), 'utf8');
    for (const size of [1, 2, 3, 5, 1000]) {
      const { rows, charset, error } = read(bytes, null, size);
      expect(error).toBeUndefined();
      expect(rows).toEqual([{ Text: TEXT }]);
      expect(charset).toBe('utf-8 (from the XML default)');
    }
  });

  it("reads the XML declaration's encoding when the HTTP header names none, whatever the chunk boundaries", () => {
    for (const declaration of ['<?xml version="1.0" encoding="windows-1251"?>\n', "<?xml version='1.0' encoding='WINDOWS-1251' standalone='yes'?>"]) {
      const bytes = cp1251(table(declaration));
      for (const size of [1, 4, 7, 1000]) {
        const { rows, charset, error } = read(bytes, null, size);
        expect(error, `${declaration} ${size}`).toBeUndefined();
        expect(rows).toEqual([{ Text: TEXT }]);
        expect(charset).toBe('windows-1251 (from the XML declaration)');
      }
    }
  });

  it("prefers the HTTP header's charset to the declaration, and a byte order mark to both", () => {
    const declaredUtf8 = cp1251(table('<?xml version="1.0" encoding="utf-8"?>'));
    expect(read(declaredUtf8, 'windows-1251')).toMatchObject({ rows: [{ Text: TEXT }], charset: 'windows-1251 (from the HTTP Content-Type)' });
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(table('<?xml version="1.0" encoding="windows-1251"?>'), 'utf8')]);
    for (const size of [1, 2, 1000]) {
      expect(read(bom, 'windows-1251', size)).toMatchObject({ rows: [{ Text: TEXT }], charset: 'utf-8 (from the byte order mark)' });
    }
  });

  it('names a charset it cannot decode, and where it was said', () => {
    const { error, rows } = read(Buffer.from(table('<?xml version="1.0" encoding="x-klingon"?>'), 'utf8'), null);
    expect(rows).toEqual([]);
    expect(error?.message).toBe('the response\'s charset "x-klingon" (from the XML declaration) is not one this server can decode');
    expect(error).toMatchObject({ complete: true });
  });

  it('recognises OUT_OF_LIMIT whatever the charset: declared, wrongly declared, or unknown', () => {
    const file = caseFile('out-of-limit-windows-1251.xml');
    expect(read(file, null).error).toMatchObject({ resultText: 'Превышен лимит вызовов операции в час' });
    for (const [header, size] of [['utf-8', 1], ['utf-8', 1000], ['x-klingon', 1000], ['utf-16le', 1000]] as const) {
      const { error } = read(file, header, size);
      expect(error, `${header} ${size}`).toBeInstanceOf(UpstreamOutOfLimitError);
      expect(error).toMatchObject({ resultText: '' });
    }
  });
});
