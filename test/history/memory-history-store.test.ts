import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ServiceCall } from '../../src/domain/service-call.js';
import { MemoryHistoryStore } from '../../src/history/memory-history-store.js';
import { SimulatedHistory } from '../../src/simulator/dataset.js';
import { historyRowOf, writeHistoryResponse } from '../../src/simulator/value-table-writer.js';
import { ManualClock } from '../../src/time/clock.js';
import { addDays, startOfDay } from '../../src/time/zone.js';
import { serviceCallDecoder } from '../../src/upstream/service-call-row.js';
import { HISTORY_COLUMNS } from '../../src/upstream/value-table.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const ZONE = 'Europe/Moscow';
const DAY = '2024-03-04';

/** A day's response whose rows also carry 8 KiB of a column nobody keeps, in 64 KiB chunk strings. */
function responseChunks(calls: ServiceCall[]): string[] {
  const filler = 'x'.repeat(8 * 1024);
  const xml = [
    ...writeHistoryResponse({
      soapVersion: '1.2',
      columns: [...HISTORY_COLUMNS, { name: 'Filler', types: ['xs:string'] }],
      rows: calls.map((c) => ({ ...historyRowOf(c), Filler: filler })),
      zone: ZONE,
    }),
  ].join('');
  const chunks: string[] = [];
  // Each chunk a string of its own, as they come off the network.
  for (let i = 0; i < xml.length; i += 64 * 1024) chunks.push(Buffer.from(xml.slice(i, i + 64 * 1024)).toString());
  return chunks;
}

describe('MemoryHistoryStore', () => {
  it('holds a day of calls without keeping the response chunks they were decoded from alive', async () => {
    const data = new SimulatedHistory({ seed: 9, callsPerDay: 2000, zone: ZONE, clock: new ManualClock(Date.parse('2024-04-01T00:00:00Z')) });
    const from = startOfDay(DAY, ZONE);
    const store = new MemoryHistoryStore(ZONE);

    const before = heapAfterGc();
    const chunks = responseChunks(data.callsBetween(from, startOfDay(addDays(DAY, 1), ZONE)));
    const responseChars = chunks.reduce((n, c) => n + c.length, 0);
    const staged = await store.stage({ days: [DAY], from, to: startOfDay(addDays(DAY, 1), ZONE) });
    let batch: ServiceCall[] = [];
    const decoder = serviceCallDecoder(ZONE, (call) => batch.push(call));
    while (chunks.length) {
      decoder.write(chunks.shift() as string);
      await staged.add(batch);
      batch = [];
    }
    decoder.end();
    await staged.commit([{ day: DAY, fetchedAt: Date.parse('2024-04-01T00:00:00Z'), sealed: true }]);
    const retained = heapAfterGc() - before;

    const held = (await store.page({ from, to: startOfDay(addDays(DAY, 1), ZONE), filter: {} }, null, 10_000)).calls;
    expect(held).toEqual(data.callsBetween(from, startOfDay(addDays(DAY, 1), ZONE)).map((c) => ({ ...c, placedAt: c.callTime })));
    expect(held).toHaveLength(2000);
    // 2000 calls take well under 2 MB; kept chunks would hold the whole 17 MB response.
    expect(responseChars).toBeGreaterThan(16_000_000);
    expect(retained).toBeLessThan(2_000_000);
  });
});
