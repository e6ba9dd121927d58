/** A 1C ValueTable as it travels: named columns, then rows of cells in column order. */

export interface ValueTableColumn {
  name: string;
  /** Declared type QNames, e.g. `xs:string`, `Null`; empty when the upstream sent `<ValueType/>`. */
  types: string[];
}

/**
 * `xs:string` → string, `xs:decimal` → number, `xs:boolean` → boolean, `xs:dateTime` → Date (or null
 * for 1C's empty date `0001-01-01T00:00:00`), nil → null.
 */
export type ValueTableCell = string | number | boolean | Date | null;

/** A decoded row, keyed by column name, never by position. */
export type ValueTableRow = Record<string, ValueTableCell>;

/** The columns of GetHistoryOfServiceCalls and their declared types, in the seed's order. */
export const HISTORY_COLUMNS: readonly ValueTableColumn[] = [
  { name: 'CallID', types: ['xs:string'] },
  { name: 'ClientID', types: ['xs:string', 'Null'] },
  { name: 'ServiceUserID', types: ['xs:string', 'Null'] },
  { name: 'ServiceID', types: ['xs:string', 'Null'] },
  { name: 'CallTime', types: ['xs:dateTime'] },
  { name: 'CallerID', types: ['xs:string', 'Null'] },
  { name: 'CalleeID', types: ['xs:string', 'Null'] },
  { name: 'CallResult', types: ['xs:decimal'] },
  { name: 'Duration', types: ['xs:decimal'] },
];

export const REQUIRED_HISTORY_COLUMNS = HISTORY_COLUMNS.map((c) => c.name);
