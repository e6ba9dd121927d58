import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeHistoryResponse } from '../../src/simulator/value-table-writer.js';
import type { ValueTableCell, ValueTableColumn, ValueTableRow } from '../../src/upstream/value-table.js';
import { decodeText } from '../support/decode.js';

type Kind = 'xs:string' | 'xs:decimal' | 'xs:boolean' | 'xs:dateTime';

const cellOf: Record<Kind, fc.Arbitrary<ValueTableCell>> = {
  // Any text XML can carry, including markup characters, entities-to-be, spaces and non-Latin script.
  'xs:string': fc.string({ unit: fc.constantFrom('a', 'Я', ' ', '\t', '&', '<', '>', '"', "'", ']]>', '\n', '\r', '€', '😀', '1') }),
  'xs:decimal': fc.oneof(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 100)),
  'xs:boolean': fc.boolean(),
  // Whole seconds, as the upstream writes them; Moscow has had no DST since 2014.
  'xs:dateTime': fc.integer({ min: Date.UTC(2015, 0, 1) / 1000, max: Date.UTC(2035, 0, 1) / 1000 }).map((s) => new Date(s * 1000)),
};

const table = fc
  .uniqueArray(
    fc.record({
      name: fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,11}$/),
      kind: fc.constantFrom<Kind>('xs:string', 'xs:decimal', 'xs:boolean', 'xs:dateTime'),
      nullable: fc.boolean(),
    }),
    { minLength: 1, maxLength: 8, selector: (c) => c.name },
  )
  .chain((specs) => {
    const row = fc.record(
      Object.fromEntries(
        specs.map((s) => [s.name, s.nullable ? fc.option(cellOf[s.kind], { nil: null, freq: 4 }) : cellOf[s.kind]]),
      ) as Record<string, fc.Arbitrary<ValueTableCell>>,
    );
    return fc.record({
      columns: fc.constant(specs.map((s): ValueTableColumn => ({ name: s.name, types: s.nullable ? [s.kind, 'Null'] : [s.kind] }))),
      rows: fc.array(row, { maxLength: 30 }),
      attributesOnOwnLines: fc.boolean(),
      emptyValueType: fc.boolean(),
      soapVersion: fc.constantFrom<'1.1' | '1.2'>('1.1', '1.2'),
      chunkSize: fc.integer({ min: 1, max: 4096 }),
    });
  });

describe('ValueTable round trip', () => {
  it('decodes whatever the simulator serializer writes back to the same rows', () => {
    fc.assert(
      fc.property(table, (t) => {
        const xml = [
          ...writeHistoryResponse({
            soapVersion: t.soapVersion,
            columns: t.columns,
            rows: t.rows,
            zone: 'Europe/Moscow',
            style: { attributesOnOwnLines: t.attributesOnOwnLines, emptyValueType: t.emptyValueType },
          }),
        ].join('');
        const { rows, error, summary } = decodeText(xml, { columns: t.columns.map((c) => c.name), chunkSize: t.chunkSize });
        expect(error).toBeUndefined();
        expect(rows).toEqual(t.rows as ValueTableRow[]);
        expect(summary?.columns.map((c) => c.name)).toEqual(t.columns.map((c) => c.name));
      }),
      { numRuns: 300 },
    );
  });
});
