import sax from 'sax';
import { parseWallDateTime, wallToInstant } from '../time/zone.js';
import {
  resultError,
  SoapFaultError,
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
 * throws the typed error otherwise. Faults and protocol errors are thrown from `write()` as soon as
 * they are certain.
 *
 * String cells are cut from the text they arrived in and keep that whole piece alive for as long as
 * they live. Rows are transient here; whatever keeps them (the history store) keeps copies.
 */
export interface ValueTableDecoderOptions {
  /** The upstream's zone: `xs:dateTime` values carry no offset and are read in it. */
  zone: string;
  /** Columns the table must have; their values are kept. Other columns are ignored. */
  columns: readonly string[];
  onColumns?: (columns: ValueTableColumn[]) => void;
  onRow: (row: ValueTableRow) => void;
}

export interface ValueTableSummary {
  rows: number;
  columns: ValueTableColumn[];
  /** Cells that were `xsi:nil` in the kept columns. */
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

const DECIMAL = /^\s*-?\d+(?:\.\d+)?\s*$/;

// sax skips a handler that is not a function; undefined keeps the handler slot's shape stable.
const noText = undefined as unknown as (text: string) => void;

export class ValueTableDecoder {
  private readonly parser: sax.SAXParser;
  private readonly zone: string;
  private readonly wanted: ReadonlySet<string>;
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
  private rowDepth = 0;
  /** Depth of the cells of the row being read; 0 outside rows. */
  private cellDepth = 0;
  private cellIndex = 0;
  private cellType: string | null = null;
  private cellNil = false;
  private row: ValueTableRow = {};
  private rowCount = 0;
  private nullCount = 0;
  private failure: Error | null = null;
  private readonly appendText: (text: string) => void;

  constructor(options: ValueTableDecoderOptions) {
    this.zone = options.zone;
    this.wanted = new Set(options.columns);
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

  /** The body has ended: returns the summary of a complete table, or throws what went wrong. */
  end(): ValueTableSummary {
    if (this.failure) throw this.failure;
    try {
      this.parser.close();
    } catch (error) {
      if (!this.envelopeClosed) {
        throw new UpstreamProtocolError('the response ended before the SOAP envelope closed', this.rowCount, true);
      }
      throw error;
    }
    if (this.faultSeen) throw new SoapFaultError(this.faultCode, this.faultReason);
    if (this.resultCode !== null && this.resultCode !== 'SUCCESS' && this.envelopeClosed) {
      throw resultError(this.resultCode, this.resultText);
    }
    if (!this.envelopeClosed) {
      throw new UpstreamProtocolError('the response ended before the SOAP envelope closed', this.rowCount, true);
    }
    if (this.resultCode === null) throw new UpstreamProtocolError('the response has no ResultCode');
    if (!this.tableSeen || !this.tableClosed) {
      throw new UpstreamProtocolError('ResultCode is SUCCESS but ResultData holds no ValueTable', this.rowCount);
    }
    this.checkColumns();
    return { rows: this.rowCount, columns: this.columnList, nulls: this.nullCount };
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
        throw new SoapFaultError(this.faultCode || 'unknown', this.faultReason);
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

  private checkColumns(): void {
    const present = new Set(this.columnList.map((c) => c.name));
    const missing = [...this.wanted].filter((name) => !present.has(name));
    if (missing.length) {
      throw new UpstreamProtocolError(`the ValueTable lacks required column(s) ${missing.join(', ')}`, this.rowCount);
    }
  }

  private openRow(): void {
    if (this.rowCount === 0 && this.slots.length === 0) {
      this.checkColumns();
      this.slots = this.columnList.map((c) => (this.wanted.has(c.name) ? c.name : null));
      // A column of one declared type decides its cells' type when a cell carries no xsi:type.
      this.slotTypes = this.columnList.map((c) => {
        const types = c.types.filter((t) => t !== 'Null');
        return types.length === 1 ? localName(types[0] as string) : null;
      });
      this.onColumns?.(this.columnList);
    }
    this.rowDepth = this.depth;
    this.cellDepth = this.depth + 1;
    this.cellIndex = 0;
    this.row = {};
  }

  private openCell(tag: sax.Tag): void {
    if (this.cellIndex >= this.slots.length) {
      throw new UpstreamProtocolError(
        `row ${this.rowCount + 1} has more values than the ${this.slots.length} columns`,
        this.rowCount,
      );
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
    this.row[name] = this.convert(text, this.cellType ?? this.slotTypes[index] ?? 'string', name);
  }

  private convert(text: string, type: string, column: string): ValueTableCell {
    switch (type) {
      case 'string':
        return text;
      case 'decimal':
        if (!DECIMAL.test(text)) throw new ValueConversionError(this.rowCount + 1, column, 'xs:decimal', text);
        return Number(text);
      case 'boolean': {
        const trimmed = text.trim();
        if (trimmed === 'true' || trimmed === '1') return true;
        if (trimmed === 'false' || trimmed === '0') return false;
        throw new ValueConversionError(this.rowCount + 1, column, 'xs:boolean', text);
      }
      case 'dateTime': {
        const wall = parseWallDateTime(text.trim());
        if (wall === null) throw new ValueConversionError(this.rowCount + 1, column, 'xs:dateTime', text);
        return new Date(wallToInstant(wall, this.zone));
      }
      default:
        // A type this operation does not use (a reference, a UUID type): keep its text.
        return text;
    }
  }

  private closeRow(): void {
    if (this.cellIndex !== this.slots.length) {
      throw new UpstreamProtocolError(
        `row ${this.rowCount + 1} has ${this.cellIndex} values for ${this.slots.length} columns`,
        this.rowCount,
      );
    }
    this.rowDepth = 0;
    this.cellDepth = 0;
    this.rowCount++;
    const row = this.row;
    this.row = {};
    this.onRow(row);
  }
}

function attribute(tag: sax.Tag, local: string): string | undefined {
  for (const key in tag.attributes) {
    if (localName(key) === local) return tag.attributes[key];
  }
  return undefined;
}
