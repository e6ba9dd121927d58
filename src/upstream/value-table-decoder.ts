import sax from 'sax';
import { MIN_WALL } from '../time/civil.js';
import { parseXsDateTime, trimXmlSpace } from '../time/xs-date-time.js';
import { instantToWall, isIsoRepresentable, wallToInstant } from '../time/zone.js';
import {
  resultError,
  SoapFaultError,
  UpstreamOutOfLimitError,
  UpstreamProtocolError,
  ValueConversionError,
} from './errors.js';
import type { ValueTableCell, ValueTableColumn, ValueTableRow } from './value-table.js';

/**
 * Where a SOAP byte becomes a typed row. A streaming decoder of a 1C `Structure` response whose
 * `ResultData` is a `ValueTable`: it reads the column list, then hands out each row as soon as its
 * `</row>` is read, keyed by column name. It holds one row at a time, so memory stays flat however
 * long the table is.
 *
 * Feed it text with `write()`; `end()` says whether what came was a complete, successful table and
 * throws the typed error otherwise. Malformed XML and Faults are thrown from `write()` at once. A
 * table that cannot be decoded (a bad value, a missing column, a row of the wrong length, text not
 * in its charset) is read on to its end without handing out another row, so that `end()` can tell a
 * complete response (`UpstreamProtocolError.complete`: fetching it again brings the same) from a
 * cut one: it then throws the first such error.
 *
 * String cells are cut from the text they arrived in and keep that whole piece alive for as long as
 * they live. Rows are transient here; whatever keeps them (the history store) keeps copies.
 */
export interface ValueTableDecoderOptions {
  /** The upstream's zone: `xs:dateTime` values carry no offset and are read in it. */
  zone: string;
  /** Columns the table must have; their values are kept. Other columns are ignored. */
  columns: readonly string[];
  /**
   * Kept xs:decimal columns whose values must be whole numbers within a range: checked on the
   * text, so no rounding can hide a fraction or an overflow (`12.0` is 12, `12.5` an error).
   */
  integers?: Readonly<Record<string, IntegerRange>>;
  /** Kept xs:dateTime columns whose wall time in `zone` must pass a check (e.g. the served range). */
  wallChecks?: Readonly<Record<string, WallCheck>>;
  onColumns?: (columns: ValueTableColumn[]) => void;
  onRow: (row: ValueTableRow) => void;
}

export interface IntegerRange {
  /** Inclusive bounds, safe integers. */
  min: number;
  max: number;
  /** Why the range, for messages: e.g. `served as GraphQL Int`. */
  why?: string;
}

export interface WallCheck {
  /** Takes the value's wall time in the zone (ms as if UTC). */
  accepts: (wall: number) => boolean;
  /** Said of a refused value, e.g. `is outside the served range 2000-01-01..2100-01-01`. */
  reason: string;
}

export interface ValueTableSummary {
  rows: number;
  columns: ValueTableColumn[];
  /** Cells of the kept columns decoded as null: `xsi:nil`, and 1C's empty date. */
  nulls: number;
}

const enum Capture {
  None,
  ResultCode,
  ResultText,
  ColumnName,
  ColumnType,
  Cell,
  FaultCode,
  FaultReason,
}

/** xs:boolean's two spellings of true. */
const isTrue = (value: string | undefined): boolean => value === 'true' || value === '1';

const localName = (qualified: string): string => {
  const colon = qualified.indexOf(':');
  return colon < 0 ? qualified : qualified.slice(colon + 1);
};


/** The usual xsi:type values and their local names, looked up rather than sliced for every cell. */
const XS_TYPES: ReadonlyMap<string, string> = new Map([
  ['xs:string', 'string'],
  ['xs:decimal', 'decimal'],
  ['xs:boolean', 'boolean'],
  ['xs:dateTime', 'dateTime'],
]);

/** XML Schema 1.0's xs:decimal lexical space, around which whitespace collapse leaves XML spaces. */
const DECIMAL = /^[\t\n\r ]*[+-]?(?:\d+(?:\.\d*)?|\.\d+)[\t\n\r ]*$/;

/** 1C's empty date, `0001-01-01T00:00:00`: its mark for a date never set. Decoded as null. */
const EMPTY_DATE_WALL = MIN_WALL;

// sax skips a handler that is not a function; undefined keeps the handler slot's shape stable.
const noText = undefined as unknown as (text: string) => void;

export class ValueTableDecoder {
  private readonly parser: sax.SAXParser;
  private readonly zone: string;
  private readonly wanted: ReadonlySet<string>;
  private readonly integers: Readonly<Record<string, IntegerRange>>;
  private readonly wallChecks: Readonly<Record<string, WallCheck>>;
  private readonly onRow: (row: ValueTableRow) => void;
  private readonly onColumns?: (columns: ValueTableColumn[]) => void;

  private depth = 0;
  private skipDepth = 0;
  private capture = Capture.None;
  private captureDepth = 0;
  private text = '';

  private envelopeClosed = false;
  private property = '';
  private resultCode: string | null = null;
  private resultText = '';
  private inFault = false;
  private faultSeen = false;
  private faultCode = '';
  private faultReason = '';
  private faultParent = '';

  private tableDepth = 0;
  private tableSeen = false;
  private tableClosed = false;
  private readonly columnList: ValueTableColumn[] = [];
  private column: ValueTableColumn | null = null;
  private inValueType = false;
  /** Per position: the kept column's name, or null for an ignored column. */
  private slots: Array<string | null> = [];
  private slotTypes: Array<string | null> = [];
  private slotIntegers: Array<IntegerRange | undefined> = [];
  private slotWallChecks: Array<WallCheck | undefined> = [];
  private rowDepth = 0;
  /** Depth of the cells of the row being read; 0 outside rows. */
  private cellDepth = 0;
  private cellIndex = 0;
  private cellType: string | null = null;
  private cellNil = false;
  private row: ValueTableRow = {};
  private rowCount = 0;
  private nullCount = 0;
  /** An error that ended the decoding at once (malformed XML, a Fault): thrown again by every call. */
  private failure: Error | null = null;
  /** The first reason the table cannot be decoded; no row is handed out once it is set. */
  private pending: UpstreamProtocolError | null = null;
  /** The text is no longer in the response's charset: only its ASCII structure can be trusted. */
  private textUntrusted = false;
  private readonly appendText: (text: string) => void;

  constructor(options: ValueTableDecoderOptions) {
    this.zone = options.zone;
    this.wanted = new Set(options.columns);
    this.integers = options.integers ?? {};
    this.wallChecks = options.wallChecks ?? {};
    this.onRow = options.onRow;
    this.onColumns = options.onColumns;
    this.parser = sax.parser(true, { xmlns: false, position: false, trim: false, normalize: false });
    this.parser.onopentag = (tag) => {
      const depth = ++this.depth;
      // Cells are by far the most frequent tags: their path is kept short.
      if (depth === this.cellDepth && this.skipDepth === 0 && (tag.name === 'Value' || localName(tag.name) === 'Value')) {
        this.openCell(tag as sax.Tag);
      } else {
        this.open(tag as sax.Tag);
      }
    };
    this.parser.onclosetag = (name) => {
      if (this.capture === Capture.Cell && this.depth === this.captureDepth) {
        this.depth--;
        const text = this.text;
        this.capture = Capture.None;
        this.text = '';
        this.parser.ontext = noText;
        this.parser.oncdata = noText;
        this.closeCell(text);
      } else {
        this.close(name);
      }
    };
    // Text handlers are attached only while a value is being read: most text is the whitespace of
    // pretty-printing, and a handler call for each piece costs measurably on large tables.
    this.appendText = (text: string) => {
      this.text += text;
    };
    this.parser.onerror = (error) => {
      throw new UpstreamProtocolError(`malformed XML: ${error.message.split('\n')[0]}`, this.rowCount);
    };
  }

  /** Rows handed out so far. */
  get rowsDecoded(): number {
    return this.rowCount;
  }

  write(chunk: string): void {
    if (this.failure) throw this.failure;
    try {
      this.parser.write(chunk);
    } catch (error) {
      this.failure = error instanceof Error ? error : new UpstreamProtocolError(String(error), this.rowCount);
      throw this.failure;
    }
  }

  /**
   * The text from here on is not in the response's charset (the caller goes on with a byte-for-byte
   * stand-in such as latin1): no further row is handed out and `end()` reports `message`, unless the
   * ResultCode is OUT_OF_LIMIT, which is ASCII in any charset and needs no text.
   */
  charsetFailed(message: string): void {
    this.textUntrusted = true;
    this.reject(new UpstreamProtocolError(message, this.rowCount));
  }

  /** The body has ended: returns the summary of a complete table, or throws what went wrong. */
  end(): ValueTableSummary {
    if (this.failure) throw this.failure;
    try {
      this.parser.close();
    } catch (error) {
      if (!this.envelopeClosed) throw this.truncated();
      throw error;
    }
    if (!this.envelopeClosed) throw this.truncated();
    if (this.faultSeen && !this.textUntrusted) throw new SoapFaultError(this.faultCode, this.faultReason);
    // The quota holds back further calls whatever else is wrong with the answer.
    if (this.resultCode === 'OUT_OF_LIMIT') throw new UpstreamOutOfLimitError(this.textUntrusted ? '' : this.resultText);
    if (this.pending) throw this.pending.asComplete();
    if (this.resultCode === null) throw new UpstreamProtocolError('the response has no ResultCode', this.rowCount, false, true);
    if (this.resultCode !== 'SUCCESS') throw resultError(this.resultCode, this.resultText);
    if (!this.tableSeen || !this.tableClosed) {
      throw new UpstreamProtocolError('ResultCode is SUCCESS but ResultData holds no ValueTable', this.rowCount, false, true);
    }
    return { rows: this.rowCount, columns: this.columnList, nulls: this.nullCount };
  }

  private truncated(): UpstreamProtocolError {
    const after = this.pending ? ` (after: ${this.pending.message})` : '';
    return new UpstreamProtocolError(`the response ended before the SOAP envelope closed${after}`, this.rowCount, true);
  }

  /** Records why the table cannot be decoded (the first reason wins) and stops handing out rows. */
  private reject(error: UpstreamProtocolError): void {
    this.pending ??= error;
  }

  /** Skips the rest of the row being read: its depth's closing tag ends the skip. */
  private skipRow(): void {
    this.skipDepth = this.rowDepth;
    this.rowDepth = 0;
    this.cellDepth = 0;
    this.row = {};
  }

  private startCapture(kind: Capture): void {
    this.capture = kind;
    this.captureDepth = this.depth;
    this.text = '';
    this.parser.ontext = this.appendText;
    this.parser.oncdata = this.appendText;
  }

  /** Every tag but a cell (see the constructor); `depth` is already counted. */
  private open(tag: sax.Tag): void {
    if (this.skipDepth) return;
    if (this.rowDepth) {
      // Anything nested inside a cell, or beside the cells, is not part of this operation's table.
      this.skipDepth = this.depth;
      return;
    }
    const name = localName(tag.name);
    if (this.tableDepth) {
      if (this.depth === this.tableDepth + 1) {
        if (name === 'row') return this.openRow();
        if (name === 'column') {
          this.column = { name: '', types: [] };
          return;
        }
        this.skipDepth = this.depth; // index and anything unknown
        return;
      }
      if (this.column) {
        if (this.depth === this.tableDepth + 2) {
          if (name === 'Name') return this.startCapture(Capture.ColumnName);
          if (name === 'ValueType') {
            this.inValueType = true;
            return;
          }
        } else if (this.inValueType && this.depth === this.tableDepth + 3 && name === 'Type') {
          return this.startCapture(Capture.ColumnType);
        }
      }
      this.skipDepth = this.depth;
      return;
    }

    if (this.inFault) {
      // 1.2: Code/Value and Reason/Text; 1.1: faultcode and faultstring.
      if (name === 'Value' && this.faultParent === 'Code' && !this.faultCode) return this.startCapture(Capture.FaultCode);
      if (name === 'Text' && this.faultParent === 'Reason' && !this.faultReason) return this.startCapture(Capture.FaultReason);
      if (name === 'faultcode') return this.startCapture(Capture.FaultCode);
      if (name === 'faultstring') return this.startCapture(Capture.FaultReason);
      if (name === 'Code' || name === 'Reason') this.faultParent = name;
      return;
    }
    switch (name) {
      case 'Fault':
        this.inFault = true;
        return;
      case 'Property':
        this.property = attribute(tag, 'name') ?? '';
        return;
      case 'Value':
        if (this.property === 'ResultCode') return this.startCapture(Capture.ResultCode);
        if (this.property === 'ResultData') {
          if (localName(attribute(tag, 'type') ?? '') === 'ValueTable') {
            this.tableDepth = this.depth;
            this.tableSeen = true;
            return;
          }
          return this.startCapture(Capture.ResultText);
        }
        return;
      default:
    }
  }

  private close(qualified: string): void {
    const depth = this.depth--;
    if (this.skipDepth) {
      if (depth === this.skipDepth) this.skipDepth = 0;
      return;
    }
    if (this.capture !== Capture.None && depth === this.captureDepth) {
      this.finishCapture();
      return;
    }
    if (this.rowDepth && depth === this.rowDepth) return this.closeRow();
    if (this.tableDepth) {
      if (depth === this.tableDepth) {
        this.tableDepth = 0;
        this.tableClosed = true;
        this.property = '';
        this.checkColumns();
      } else if (this.column && depth === this.tableDepth + 1) {
        this.columnList.push(this.column);
        this.column = null;
      } else if (this.inValueType && depth === this.tableDepth + 2) {
        this.inValueType = false;
      }
      return;
    }
    const name = localName(qualified);
    if (this.inFault) {
      if (name === 'Fault') {
        this.inFault = false;
        this.faultSeen = true;
        // A Fault read in a charset it is not in is reported by end() as that charset error.
        if (!this.textUntrusted) throw new SoapFaultError(this.faultCode || 'unknown', this.faultReason);
      }
      if (name === 'Code' || name === 'Reason') this.faultParent = '';
      return;
    }
    if (name === 'Property') this.property = '';
    else if (name === 'Envelope' && depth === 1) this.envelopeClosed = true;
  }

  private finishCapture(): void {
    const text = this.text;
    const kind = this.capture;
    this.capture = Capture.None;
    this.text = '';
    this.parser.ontext = noText;
    this.parser.oncdata = noText;
    if (kind === Capture.Cell) return this.closeCell(text);
    switch (kind) {
      case Capture.ResultCode:
        this.resultCode = text.trim();
        return;
      case Capture.ResultText:
        this.resultText = text.trim();
        return;
      case Capture.ColumnName:
        if (this.column) this.column.name = text.trim();
        return;
      case Capture.ColumnType:
        if (this.column) this.column.types.push(text.trim());
        return;
      case Capture.FaultCode:
        this.faultCode = text.trim();
        return;
      case Capture.FaultReason:
        this.faultReason = text.trim();
        return;
      default:
    }
  }

  /** Records a missing required column; true when all are there. */
  private checkColumns(): boolean {
    const present = new Set(this.columnList.map((c) => c.name));
    const missing = [...this.wanted].filter((name) => !present.has(name));
    if (missing.length === 0) return true;
    this.reject(new UpstreamProtocolError(`the ValueTable lacks required column(s) ${missing.join(', ')}`, this.rowCount));
    return false;
  }

  private openRow(): void {
    if (this.pending) {
      this.skipDepth = this.depth;
      return;
    }
    if (this.rowCount === 0 && this.slots.length === 0) {
      if (!this.checkColumns()) {
        this.skipDepth = this.depth;
        return;
      }
      this.slots = this.columnList.map((c) => (this.wanted.has(c.name) ? c.name : null));
      // A column of one declared type decides its cells' type when a cell carries no xsi:type.
      this.slotTypes = this.columnList.map((c) => {
        const types = c.types.filter((t) => t !== 'Null');
        return types.length === 1 ? localName(types[0] as string) : null;
      });
      this.slotIntegers = this.slots.map((name) => (name === null ? undefined : this.integers[name]));
      this.slotWallChecks = this.slots.map((name) => (name === null ? undefined : this.wallChecks[name]));
      this.onColumns?.(this.columnList);
    }
    this.rowDepth = this.depth;
    this.cellDepth = this.depth + 1;
    this.cellIndex = 0;
    this.row = {};
  }

  private openCell(tag: sax.Tag): void {
    if (this.cellIndex >= this.slots.length) {
      this.reject(
        new UpstreamProtocolError(`row ${this.rowCount + 1} has more values than the ${this.slots.length} columns`, this.rowCount),
      );
      this.skipRow();
      return;
    }
    const attributes = tag.attributes;
    const type = attributes['xsi:type'];
    if (type !== undefined) {
      // The usual prefix: no need to look at the other attributes.
      this.cellType = XS_TYPES.get(type) ?? localName(type);
      this.cellNil = isTrue(attributes['xsi:nil']);
    } else {
      this.cellType = null;
      this.cellNil = false;
      for (const key in attributes) {
        const local = localName(key);
        if (local === 'type') this.cellType = localName(attributes[key] as string);
        else if (local === 'nil') this.cellNil = isTrue(attributes[key]);
      }
    }
    this.startCapture(Capture.Cell);
  }

  private closeCell(text: string): void {
    const index = this.cellIndex++;
    const name = this.slots[index];
    if (!name) return;
    if (this.cellNil) {
      this.row[name] = null;
      this.nullCount++;
      return;
    }
    let value: ValueTableCell;
    try {
      value = this.convert(text, this.cellType ?? this.slotTypes[index] ?? 'string', index, name);
    } catch (error) {
      if (!(error instanceof ValueConversionError)) throw error;
      this.reject(error);
      this.skipRow();
      return;
    }
    if (value === null) this.nullCount++;
    this.row[name] = value;
  }

  private convert(text: string, type: string, index: number, column: string): ValueTableCell {
    switch (type) {
      case 'string':
        return text;
      case 'decimal': {
        if (!DECIMAL.test(text)) throw new ValueConversionError(this.rowCount + 1, column, 'xs:decimal', text);
        const range = this.slotIntegers[index];
        return range ? this.integerOf(text, range, column) : Number(text);
      }
      case 'boolean': {
        const trimmed = trimXmlSpace(text);
        if (trimmed === 'true' || trimmed === '1') return true;
        if (trimmed === 'false' || trimmed === '0') return false;
        throw new ValueConversionError(this.rowCount + 1, column, 'xs:boolean', text);
      }
      case 'dateTime':
        return this.dateTimeOf(text, index, column);
      default:
        // A type this operation does not use (a reference, a UUID type): keep its text.
        return text;
    }
  }

  /** A valid xs:decimal's exact value as a whole number within `range`, or a conversion error. */
  private integerOf(text: string, range: IntegerRange, column: string): number {
    // The usual cell, a few plain digits: read without slicing or regular expressions.
    if (text.length <= 15) {
      let value = 0;
      let i = 0;
      for (; i < text.length; i++) {
        const digit = text.charCodeAt(i) - 48;
        if (digit < 0 || digit > 9) break;
        value = value * 10 + digit;
      }
      if (i === text.length && i > 0 && value >= range.min && value <= range.max) return value;
    }
    const trimmed = trimXmlSpace(text);
    const sign = trimmed.charCodeAt(0);
    const unsigned = sign === 43 || sign === 45 ? trimmed.slice(1) : trimmed;
    const point = unsigned.indexOf('.');
    const whole = point < 0 ? unsigned : unsigned.slice(0, point);
    if (point >= 0 && !/^0*$/.test(unsigned.slice(point + 1))) {
      throw new ValueConversionError(this.rowCount + 1, column, 'xs:decimal', text, `is not a whole number${why(range)}`);
    }
    // Beyond 16 significant digits no safe-integer range can hold it; below, Number() is exact.
    const digits = whole.replace(/^0+/, '');
    const magnitude = digits.length > 16 ? Number.POSITIVE_INFINITY : Number(digits || '0');
    const value = sign === 45 && magnitude !== 0 ? -magnitude : magnitude;
    if (value < range.min || value > range.max) {
      throw new ValueConversionError(
        this.rowCount + 1, column, 'xs:decimal', text, `is outside ${range.min}..${range.max}${why(range)}`,
      );
    }
    return value;
  }

  /**
   * An xs:dateTime as an instant: an offset-less value is the zone's wall time, one with Z or an
   * offset is that instant. 1C's empty date is null. Refused: what is not an xs:dateTime, what
   * cannot be written back exactly with the zone's offset, and what the column's check refuses.
   */
  private dateTimeOf(text: string, index: number, column: string): Date | null {
    const parsed = parseXsDateTime(text);
    if (!parsed.ok) {
      const reason = parsed.valid ? `cannot be held exactly: ${parsed.reason}` : `is not a valid xs:dateTime: ${parsed.reason}`;
      throw new ValueConversionError(this.rowCount + 1, column, 'xs:dateTime', text, reason);
    }
    // 1C writes its empty date as wall time; an offset added by some serializer does not change what it means.
    if (parsed.wall === EMPTY_DATE_WALL) return null;
    const instant = parsed.offsetMs === null ? wallToInstant(parsed.wall, this.zone) : parsed.wall - parsed.offsetMs;
    if (!isIsoRepresentable(instant, this.zone)) {
      throw new ValueConversionError(
        this.rowCount + 1, column, 'xs:dateTime', text,
        `cannot be written exactly in ${this.zone} (a year outside 1..9999, or an offset with seconds there)`,
      );
    }
    const check = this.slotWallChecks[index];
    if (check && !check.accepts(parsed.offsetMs === null ? parsed.wall : instantToWall(instant, this.zone))) {
      throw new ValueConversionError(this.rowCount + 1, column, 'xs:dateTime', text, check.reason);
    }
    return new Date(instant);
  }

  private closeRow(): void {
    if (this.cellIndex !== this.slots.length) {
      this.reject(
        new UpstreamProtocolError(`row ${this.rowCount + 1} has ${this.cellIndex} values for ${this.slots.length} columns`, this.rowCount),
      );
      this.rowDepth = 0;
      this.cellDepth = 0;
      this.row = {};
      return;
    }
    this.rowDepth = 0;
    this.cellDepth = 0;
    const row = this.row;
    this.row = {};
    try {
      this.onRow(row);
    } catch (error) {
      // A row the consumer cannot take (its mapping refused a value) is a decode error like any other.
      if (!(error instanceof UpstreamProtocolError)) throw error;
      this.reject(error);
      return;
    }
    this.rowCount++;
  }
}

const why = (range: IntegerRange): string => (range.why ? ` (${range.why})` : '');

function attribute(tag: sax.Tag, local: string): string | undefined {
  for (const key in tag.attributes) {
    if (localName(key) === local) return tag.attributes[key];
  }
  return undefined;
}
