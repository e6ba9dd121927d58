/**
 * The charset the simulator answers in. 1C answers in UTF-8, or in windows-1251 when so configured:
 * then the XML declaration and the HTTP Content-Type both say windows-1251.
 *
 * Node decodes windows-1251 (TextDecoder) but encodes only UTF-8. Rather than a dependency or a
 * hand-typed table, the encoder is the inverse of Node's own decoder over the 128 high bytes, so
 * it agrees byte for byte with what a client's TextDecoder reads back. A character windows-1251
 * cannot hold is written as an XML character reference: the text stays intact (an encoder's '?'
 * would not), and the simulator only encodes XML markup and text, where references are valid.
 */

export type ResponseCharset = 'utf-8' | 'windows-1251';

export const RESPONSE_CHARSETS: readonly ResponseCharset[] = ['utf-8', 'windows-1251'];

export function isResponseCharset(value: string): value is ResponseCharset {
  return (RESPONSE_CHARSETS as readonly string[]).includes(value);
}

/** Unicode code unit → windows-1251 byte, for 0x80..0xFF (the low half is ASCII). */
const CP1251_BYTES: ReadonlyMap<number, number> = (() => {
  const high = Uint8Array.from({ length: 128 }, (_, i) => 0x80 + i);
  const text = new TextDecoder('windows-1251').decode(high);
  if (text.length !== 128) throw new Error('this Node cannot decode windows-1251 byte for byte');
  return new Map([...text].map((char, i) => [char.charCodeAt(0), 0x80 + i]));
})();

function encodeWindows1251(text: string): Buffer {
  // One byte per UTF-16 unit while every character maps (the usual case), in one allocation.
  const out = Buffer.allocUnsafe(text.length);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const byte = unit < 0x80 ? unit : CP1251_BYTES.get(unit);
    if (byte === undefined) return Buffer.concat([out.subarray(0, i), encodeWithReferences(text.slice(i))]);
    out[i] = byte;
  }
  return out;
}

function encodeWithReferences(text: string): Buffer {
  const bytes: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    const byte = code < 0x80 ? code : CP1251_BYTES.get(code);
    if (byte !== undefined) bytes.push(byte);
    else for (const c of `&#x${code.toString(16).toUpperCase()};`) bytes.push(c.charCodeAt(0));
  }
  return Buffer.from(bytes);
}

/** Text → bytes in `charset` (windows-1251: characters it lacks become XML character references). */
export function encodeText(text: string, charset: ResponseCharset): Buffer {
  return charset === 'utf-8' ? Buffer.from(text, 'utf8') : encodeWindows1251(text);
}

/**
 * The XML declaration a document in `charset` starts with: none for UTF-8 (XML's default, and the
 * simulator's answers as they always were), one naming the charset otherwise.
 */
export function xmlDeclaration(charset: ResponseCharset): string {
  return charset === 'utf-8' ? '' : `<?xml version="1.0" encoding="${charset}"?>\n`;
}
