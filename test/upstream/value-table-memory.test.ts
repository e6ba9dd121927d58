import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ValueTableRow } from '../../src/upstream/value-table.js';
import { ValueTableDecoder } from '../../src/upstream/value-table-decoder.js';
import { cell, column, responseWithTable, row } from '../support/decode.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** A response whose rows carry 8 KiB of an ignored column each, cut into 64 KiB chunk strings. */
function responseChunks(rowCount: number): string[] {
  const filler = 'x'.repeat(8 * 1024);
  const body = Array.from({ length: rowCount }, (_, i) =>
    row(cell('xs:string', `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`), cell('xs:string', filler)),
  ).join('');
  const xml = responseWithTable(column('CallID', 'xs:string') + column('Filler', 'xs:string') + body);
  const chunks: string[] = [];
  // Each chunk a string of its own, as they come off the network.
  for (let i = 0; i < xml.length; i += 64 * 1024) chunks.push(Buffer.from(xml.slice(i, i + 64 * 1024)).toString());
  return chunks;
}

describe('ValueTableDecoder memory', () => {
  it('keeps decoded strings without pinning the response chunks they were cut from', () => {
    const rowCount = 2000;
    const before = heapAfterGc();
    const chunks = responseChunks(rowCount);
    const responseChars = chunks.reduce((n, c) => n + c.length, 0);
    const kept: ValueTableRow[] = [];
    const decoder = new ValueTableDecoder({ zone: 'UTC', columns: ['CallID'], onRow: (r) => kept.push(r) });
    while (chunks.length) decoder.write(chunks.shift() as string);
    decoder.end();
    const retained = heapAfterGc() - before;

    expect(kept).toHaveLength(rowCount);
    expect(kept[1999]?.CallID).toBe('00001999-0000-4000-8000-000000000000');
    // 2000 short IDs are well under a megabyte; pinned chunks would keep the whole 16 MB response.
    expect(responseChars).toBeGreaterThan(16_000_000);
    expect(retained).toBeLessThan(2_000_000);
  });
});
