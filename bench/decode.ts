/**
 * bench/decode: the streaming decoder against raw sax tokenization of the same bytes.
 * Responses of 10k, 100k and 500k rows are written once by the simulator's serializer into
 * bench/.out/. Throughput is measured with the contenders alternating in one process, peak RSS in a
 * process of its own (bench/decode-worker.ts). Targets: decoder >= 0.8 of raw sax throughput; 500k rows under 250 MB peak RSS.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { SimulatedHistory } from '../src/simulator/dataset.js';
import { historyRowOf, writeHistoryResponse } from '../src/simulator/value-table-writer.js';
import { ManualClock } from '../src/time/clock.js';
import { startOfDay } from '../src/time/zone.js';
import { HISTORY_COLUMNS } from '../src/upstream/value-table.js';

const OUT = fileURLToPath(new URL('./.out/', import.meta.url));
const WORKER = fileURLToPath(new URL('./decode-worker.ts', import.meta.url));
const ZONE = 'Europe/Moscow';
const SIZES = [10_000, 100_000, 500_000];
/** Alternating runs per size: more for small files, whose single runs are short and noisy. */
const RUNS: Record<number, number> = { 10_000: 21, 100_000: 7, 500_000: 3 };

interface Throughput {
  bytes: number;
  raw: number[];
  contender: number[];
}

async function responseFile(rows: number): Promise<string> {
  const file = `${OUT}history-${rows}.xml`;
  if (existsSync(file)) return file;
  mkdirSync(OUT, { recursive: true });
  const callsPerDay = 10_000;
  const days = Math.ceil(rows / callsPerDay);
  const from = startOfDay('2024-01-01', ZONE);
  const history = new SimulatedHistory({ seed: rows, callsPerDay, zone: ZONE, clock: new ManualClock(Date.parse('2030-01-01')) });
  const calls = history.iterateCallsBetween(from, from + days * 86_400_000);
  function* take(): Generator<ReturnType<typeof historyRowOf>> {
    let n = 0;
    for (const call of calls) {
      if (n++ >= rows) return;
      yield historyRowOf(call);
    }
  }
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  for (const piece of writeHistoryResponse({ soapVersion: '1.2', columns: HISTORY_COLUMNS, rows: take(), zone: ZONE })) {
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(partial, file);
  return file;
}

function worker<T>(...args: string[]): T {
  const output = execFileSync(process.execPath, ['--import', 'tsx', WORKER, ...args], { encoding: 'utf8' });
  return JSON.parse(output.trim().split('\n').pop() as string) as T;
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

export async function runDecodeBench(): Promise<void> {
  console.log(
    'bench/decode: streaming ValueTableDecoder vs raw sax tokenization of the same bytes (64 KiB chunks), ' +
      'alternating in one process after a warm-up pass; MB/s are medians, ratios the median of each round\'s ratio; ' +
      'peak RSS from a separate process',
  );
  for (const rows of SIZES) {
    const file = await responseFile(rows);
    const runs = String(RUNS[rows] ?? 3);
    const d = worker<Throughput>('throughput', file, runs, 'decoder');
    const c = worker<Throughput>('throughput', file, runs, 'calls');
    const raw = mbps(d.bytes, median(d.raw));
    const decoder = mbps(d.bytes, median(d.contender));
    const calls = mbps(c.bytes, median(c.contender));
    // The median of each round's ratio: the two runs of a round are close in time, rounds are not.
    const ratio = median(d.raw.map((ms, i) => ms / (d.contender[i] as number)));
    const callsRatio = median(c.raw.map((ms, i) => ms / (c.contender[i] as number)));
    const rss = worker<{ rows: number; maxRssMb: number }>('rss', file);
    if (rss.rows !== rows) throw new Error(`decoded ${rss.rows} rows of ${rows}`);
    console.log(
      `  ${String(rows).padStart(7)} rows, ${(d.bytes / 1e6).toFixed(1)} MB, ${d.raw.length} rounds: ` +
        `raw sax ${raw.toFixed(1)} MB/s, decoder ${decoder.toFixed(1)} MB/s, ratio ${ratio.toFixed(2)} ` +
        `(target >= 0.80) ${ratio >= 0.8 ? 'OK' : 'MISSED'}; with ServiceCall mapping ${calls.toFixed(1)} MB/s ` +
        `(ratio ${callsRatio.toFixed(2)}); peak RSS ${rss.maxRssMb} MB` +
        (rows === 500_000 ? ` (target < 250) ${rss.maxRssMb < 250 ? 'OK' : 'MISSED'}` : ''),
    );
  }
  const dom = worker<{ bytes: number; rows: number; ms: number; maxRssMb: number }>('dom', await responseFile(100_000));
  console.log(
    `  for the record: whole-document parse (fast-xml-parser) of the 100k response: ${mbps(dom.bytes, dom.ms).toFixed(1)} MB/s, ` +
      `peak RSS ${dom.maxRssMb} MB, ${dom.rows} rows`,
  );
}
