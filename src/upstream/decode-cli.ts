/**
 * `npm run -s decode -- [--summary] [FILE]`: streams a captured GetHistoryOfServiceCalls response
 * through the decoder, for operators checking what the upstream sent. Prints one JSON line per call
 * (`callTime` null for 1C's empty date), or with --summary one line `{ rows, columns, nulls, ms }`.
 * The file's charset is found as the client finds it, less the HTTP header: a BOM, else the XML
 * declaration, else UTF-8. A non-SUCCESS code, a Fault, broken XML or a response that cannot be
 * decoded prints the typed error to stderr and exits 1. A reader that stops early (`| head`) ends
 * it quietly.
 */
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import { directionOf, specialistOf } from '../domain/service-call.js';
import { formatIsoWithOffset, isValidTimeZone } from '../time/zone.js';
import { ConnectError } from './errors.js';
import { ResponseBody } from './response-text.js';
import { serviceCallDecoder } from './service-call-row.js';

const USAGE = 'usage: npm run -s decode -- [--summary] [FILE]   (reads stdin without FILE)';

/** Set when stdout's reader has gone: nothing more is worth decoding. */
let stdoutClosed = false;

async function main(argv: string[]): Promise<number> {
  const summaryOnly = argv.includes('--summary');
  const files = argv.filter((a) => a !== '--summary');
  if (files.length > 1 || files.some((f) => f.startsWith('--') && f !== '--')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const zone = process.env.CONNECT_TIMEZONE ?? 'Europe/Moscow';
  if (!isValidTimeZone(zone)) {
    process.stderr.write(`CONNECT_TIMEZONE: ${JSON.stringify(zone)} is not an IANA time zone\n`);
    return 2;
  }
  const input = files[0] && files[0] !== '-' ? createReadStream(files[0], { highWaterMark: 64 * 1024 }) : process.stdin;

  // `| head` closes the pipe: the next write fails with EPIPE, which is the reader's choice, not an error.
  const closed = new Promise<void>((resolve) => {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      stdoutClosed = true;
      resolve();
    });
  });

  const started = performance.now();
  let out: string[] = [];
  const decoder = serviceCallDecoder(zone, (call) => {
    if (summaryOnly) return;
    out.push(
      JSON.stringify({
        ...call,
        callTime: call.callTime === null ? null : formatIsoWithOffset(call.callTime, zone),
        direction: directionOf(call),
        specialistId: specialistOf(call),
      }),
    );
  });
  const body = new ResponseBody(decoder, null);
  const drain = async (): Promise<void> => {
    if (!out.length || stdoutClosed) return;
    const text = `${out.join('\n')}\n`;
    out = [];
    if (!process.stdout.write(text)) await Promise.race([once(process.stdout, 'drain'), closed]);
  };
  try {
    for await (const chunk of input) {
      body.write(chunk as Buffer);
      await drain();
      if (stdoutClosed) break;
    }
    if (stdoutClosed) return 0;
    const summary = body.end();
    await drain();
    if (summaryOnly) {
      const ms = Math.round(performance.now() - started);
      process.stdout.write(
        `${JSON.stringify({ rows: summary.rows, columns: summary.columns.map((c) => c.name), nulls: summary.nulls, ms })}\n`,
      );
    }
    return 0;
  } catch (error) {
    await drain();
    if (error instanceof ConnectError) {
      process.stderr.write(`${JSON.stringify(error.toJSON())}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${JSON.stringify({ name: 'Error', message })}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
if (stdoutClosed) {
  process.exitCode = 0;
  // stdin may still be open with nothing more to give: nothing is left to do.
  process.exit();
}
