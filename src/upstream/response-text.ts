/**
 * The bytes of a GetHistoryOfServiceCalls response as text for the decoder, in the response's own
 * charset (1C writes windows-1251 when not UTF-8). The charset comes from a byte order mark, else
 * the HTTP Content-Type's `charset`, else the XML declaration's `encoding`, else UTF-8 (XML's
 * default). Shared by the client and the decode command.
 *
 * Bytes that are not valid in that charset, or a charset this platform cannot decode, do not stop
 * the reading: the rest is read byte for byte as latin1, which keeps every ASCII character (the
 * markup, the ResultCode) as it is, and the decoder is told to trust no row and no text from then
 * on. So OUT_OF_LIMIT is recognised whatever the charset, and anything else is reported as a
 * charset error, complete or cut.
 */
import { MIMEType } from 'node:util';
import type { ValueTableDecoder, ValueTableSummary } from './value-table-decoder.js';

/** sax is fastest on large pieces: small network chunks are joined up to this before decoding. */
const DECODE_CHUNK_CHARS = 64 * 1024;
/** How far into the body an XML declaration is looked for. */
const DECLARATION_BYTES = 1024;

/** The `charset` parameter of a Content-Type header, or null when it has none (or does not parse). */
export function charsetOfContentType(contentType: string | null | undefined): string | null {
  if (!contentType) return null;
  try {
    return new MIMEType(contentType).params.get('charset');
  } catch {
    return null;
  }
}

type CharsetSource = 'byte order mark' | 'HTTP Content-Type' | 'XML declaration' | 'XML default';

const DECLARATION = /^<\?xml\s[^>]*?\bencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1/;

function bomCharset(bytes: Uint8Array): string | null {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  return null;
}

const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');

/**
 * Body bytes in, decoder text out: `write()` each piece as it arrives, then `end()`, which returns
 * the decoder's summary or throws its typed error (a charset failure among them).
 */
export class ResponseBody {
  private head: Buffer | null = Buffer.alloc(0);
  private text: TextDecoder | null = null;
  private latin1 = false;
  private label = 'utf-8';
  private source: CharsetSource = 'XML default';
  private pending: string[] = [];
  private pendingChars = 0;

  /** @param headerCharset the HTTP Content-Type's charset; null when there is none (a file). */
  constructor(
    private readonly decoder: ValueTableDecoder,
    private readonly headerCharset: string | null,
  ) {}

  /** The charset the body is read in, and where that was learnt: for messages. */
  get charset(): string {
    return `${this.text?.encoding ?? this.label} (from the ${this.source})`;
  }

  write(bytes: Uint8Array): void {
    if (this.head) {
      // The charset is chosen once the start of the body is known.
      this.head = Buffer.concat([this.head, bytes]);
      if (!this.headDecides()) return;
      const head = this.head;
      this.head = null;
      this.choose(head);
      this.push(this.decode(head, true));
      return;
    }
    this.push(this.decode(bytes, true));
  }

  end(): ValueTableSummary {
    if (this.head) {
      const head = this.head;
      this.head = null;
      this.choose(head);
      this.push(this.decode(head, true));
    }
    this.push(this.decode(new Uint8Array(0), false));
    this.flush();
    return this.decoder.end();
  }

  /** Whether enough of the body has come to choose its charset. */
  private headDecides(): boolean {
    const head = this.head as Buffer;
    if (head.length >= DECLARATION_BYTES) return true;
    if (head.length < 3) return false;
    if (bomCharset(head) || this.headerCharset) return true;
    // No declaration, or its end has come.
    const start = head.subarray(0, 5).toString('latin1');
    return !'<?xml'.startsWith(start) || head.includes('?>');
  }

  private choose(head: Buffer): void {
    const bom = bomCharset(head);
    let label: string;
    if (bom) {
      label = bom;
      this.source = 'byte order mark';
    } else if (this.headerCharset) {
      label = this.headerCharset;
      this.source = 'HTTP Content-Type';
    } else {
      const declared = DECLARATION.exec(head.subarray(0, DECLARATION_BYTES).toString('latin1'))?.[2];
      label = declared ?? 'utf-8';
      this.source = declared ? 'XML declaration' : 'XML default';
    }
    this.label = label;
    try {
      this.text = new TextDecoder(label, { fatal: true });
    } catch {
      this.failCharset(`the response's charset ${JSON.stringify(label)} (from the ${this.source}) is not one this server can decode`);
      return;
    }
    // UTF-16 takes almost any pair of bytes: a body that starts as ASCII text ('<' then not NUL) is
    // not in it, whatever the header says.
    if (!bom && this.text.encoding.startsWith('utf-16') && head[0] === 0x3c && head.length > 1 && head[1] !== 0) {
      this.text = null;
      this.failCharset(`the response is not valid ${this.label} (from the ${this.source}): it starts as ASCII text`);
    }
  }

  private decode(bytes: Uint8Array, stream: boolean): string {
    if (this.latin1 || !this.text) return latin1(bytes);
    try {
      return this.text.decode(bytes, { stream });
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      this.failCharset(`the response is not valid ${this.charset}`);
      // The bytes held back for an unfinished character are lost: they are not ASCII.
      return latin1(bytes);
    }
  }

  private failCharset(message: string): void {
    this.latin1 = true;
    // What was decoded before is valid text: it goes to the decoder first.
    this.flush();
    this.decoder.charsetFailed(message);
  }

  private push(piece: string): void {
    if (!piece) return;
    this.pending.push(piece);
    this.pendingChars += piece.length;
    if (this.pendingChars >= DECODE_CHUNK_CHARS) this.flush();
  }

  private flush(): void {
    if (this.pendingChars === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.pendingChars = 0;
    this.decoder.write(text);
  }
}
