/**
 * Measurements for bench/decode, each in a process of its own:
 *   tsx bench/decode-worker.ts throughput FILE RUNS decoder|calls
 *     after three untimed passes of each, alternates raw sax tokenization with the decoder (or the
 *     decoder with the ServiceCall mapping) over FILE, RUNS times; prints { raw, contender } in ms.
 *     Runs of one round follow each other closely, so a round's ratios share the machine's state:
 *     on a shared virtual machine that steadies the ratio far more than comparing separate runs.
 *   tsx bench/decode-worker.ts rss FILE
 *     one decode with the mapping; prints { rows, maxRssMb }, the peak RSS of that work alone.
 *   tsx bench/decode-worker.ts dom FILE
 *     a whole-document parse with a DOM-style parser, for the record; prints { rows, ms, maxRssMb }.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { XMLParser } from 'fast-xml-parser';
import sax from 'sax';
import { serviceCallDecoder } from '../src/upstream/service-call-row.js';
import { REQUIRED_HISTORY_COLUMNS } from '../src/upstream/value-table.js';
import { ValueTableDecoder } from '../src/upstream/value-table-decoder.js';

const [mode, file, runs, contenderName] = process.argv.slice(2) as [string, string, string | undefined, string | undefined];
const CHUNK = 64 * 1024;

async function feed(onChunk: (text: string) => void): Promise<void> {
  const stream = createReadStream(file, { highWaterMark: CHUNK });
  stream.setEncoding('utf8');
  for await (const text of stream) onChunk(text as string);
}

/** Tokenization alone: the decoder's parser settings, with no handlers attached. */
async function raw(): Promise<number> {
  const parser = sax.parser(true, { xmlns: false, position: false, trim: false, normalize: false });
  await feed((text) => parser.write(text));
  parser.close();
  return 0;
}

async function decode(mapToCalls: boolean): Promise<number> {
  let rows = 0;
  const count = (): void => {
    rows++;
  };
  const decoder = mapToCalls
    ? serviceCallDecoder('Europe/Moscow', count)
    : new ValueTableDecoder({ zone: 'Europe/Moscow', columns: REQUIRED_HISTORY_COLUMNS, onRow: count });
  await feed((text) => decoder.write(text));
  decoder.end();
  return rows;
}

async function timed(run: () => Promise<number>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

const out = (value: unknown): boolean => process.stdout.write(`${JSON.stringify(value)}\n`);
const maxRssMb = (): number => Math.round(process.resourceUsage().maxRSS / 1024);

if (mode === 'throughput') {
  // One contender a process, so its code paths stay as the product has them (one kind of row handler).
  const contender = contenderName === 'calls' ? () => decode(true) : () => decode(false);
  for (let i = 0; i < 3; i++) {
    await raw();
    await contender();
  }
  const ms: { raw: number[]; contender: number[] } = { raw: [], contender: [] };
  for (let i = 0; i < Number(runs ?? 3); i++) {
    ms.raw.push(await timed(raw));
    ms.contender.push(await timed(contender));
  }
  out({ bytes: statSync(file).size, ...ms });
} else if (mode === 'rss') {
  const rows = await decode(true);
  out({ rows, maxRssMb: maxRssMb() });
} else if (mode === 'dom') {
  const started = performance.now();
  const text = readFileSync(file, 'utf8');
  const doc = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true }).parse(text);
  const rows = doc.Envelope.Body.GetHistoryOfServiceCallsResponse.return.Property[1].Value.row.length as number;
  out({ bytes: Buffer.byteLength(text), rows, ms: performance.now() - started, maxRssMb: maxRssMb() });
} else {
  throw new Error(`unknown mode ${mode}`);
}
