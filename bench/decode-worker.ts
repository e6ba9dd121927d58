/**
 * One measurement in a process of its own, so peak RSS is that of this work alone:
 *   tsx bench/decode-worker.ts raw|decoder|calls|dom FILE [WARMUP_FILE]
 * prints one JSON line { mode, bytes, rows, ms, maxRssMb }. With WARMUP_FILE, that file is run
 * through the same code first, untimed, so the timing is of optimised code, as in a long-running
 * server, for raw sax and the decoder alike.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { XMLParser } from 'fast-xml-parser';
import sax from 'sax';
import { serviceCallFromRow } from '../src/upstream/service-call-row.js';
import { REQUIRED_HISTORY_COLUMNS } from '../src/upstream/value-table.js';
import { ValueTableDecoder } from '../src/upstream/value-table-decoder.js';

const [mode, file, warmup] = process.argv.slice(2) as [string, string, string | undefined];
const CHUNK = 64 * 1024;

async function chunks(onChunk: (text: string) => void, path = file): Promise<number> {
  let bytes = 0;
  const stream = createReadStream(path, { highWaterMark: CHUNK });
  stream.setEncoding('utf8');
  for await (const text of stream) {
    bytes += Buffer.byteLength(text as string);
    onChunk(text as string);
  }
  return bytes;
}

async function run(path: string): Promise<{ bytes: number; rows: number }> {
  if (mode === 'raw') {
    // Tokenization alone: the same parser settings, with no handlers attached.
    const parser = sax.parser(true, { xmlns: false, position: false, trim: false, normalize: false });
    const bytes = await chunks((text) => parser.write(text), path);
    parser.close();
    return { bytes, rows: 0 };
  }
  if (mode === 'decoder' || mode === 'calls') {
    // `decoder`: typed rows keyed by column name; `calls`: the same rows mapped to ServiceCall.
    let rows = 0;
    const decoder = new ValueTableDecoder({
      zone: 'Europe/Moscow',
      columns: REQUIRED_HISTORY_COLUMNS,
      onRow:
        mode === 'calls'
          ? (row) => {
              serviceCallFromRow(row, ++rows);
            }
          : () => {
              rows++;
            },
    });
    const bytes = await chunks((text) => decoder.write(text), path);
    decoder.end();
    return { bytes, rows };
  }
  if (mode === 'dom') {
    const text = readFileSync(file, 'utf8');
    const doc = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true }).parse(text);
    const table = doc.Envelope.Body.GetHistoryOfServiceCallsResponse.return.Property[1].Value;
    return { bytes: Buffer.byteLength(text), rows: table.row.length };
  }
  throw new Error(`unknown mode ${mode}`);
}

if (warmup && mode !== 'dom') await run(warmup);
const started = performance.now();
const { bytes, rows } = await run(file);
const ms = performance.now() - started;
const maxRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(`${JSON.stringify({ mode, bytes, rows, ms: Math.round(ms), maxRssMb: Math.round(maxRssMb) })}\n`);
