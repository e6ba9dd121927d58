/**
 * bench/store: SqliteHistoryStore against MemoryHistoryStore, the stores' own answers (no GraphQL).
 * A year of simulated history (3,000 calls a day, realistic answer times) is committed per 7-day
 * period into both, in one process; then:
 * - latency of a 366-day question (page of 100 + stats) and of a clientId-filtered one, the two
 *   stores alternating, after a warm-up. The memory store keeps the selections of recent questions
 *   (up to 1M calls; a year unfiltered is more, so never kept): asked again, the clientId question
 *   is a cache hit there, so it is timed both repeated and cycling through the 25 clients (which
 *   that cache mostly misses). Recomputing takes the memory store hundreds of ms, so it answers only
 *   every 5th (3rd) of the unfiltered (cycling) questions;
 * - peak RSS of a process serving the year from the SQLite file against one holding it in memory,
 *   each in a child process of its own (bench/store-child.ts);
 * - ingest: decoding a 500k-row response against staging and committing its rows into a new
 *   SqliteHistoryStore (the commit's WAL checkpoint included), in alternating rounds.
 * Targets: p99 < 100 ms and SQLite <= 3x memory; RSS <= 250 MB; ingest <= 0.25 of decode.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ServiceCall, ServiceCallFilter } from '../src/domain/service-call.js';
import type { CallQuery, HistoryStore } from '../src/history/history-store.js';
import { MemoryHistoryStore } from '../src/history/memory-history-store.js';
import { SqliteHistoryStore } from '../src/history/sqlite/sqlite-history-store.js';
import { SimulatedHistory } from '../src/simulator/dataset.js';
import { historyRowOf, writeHistoryResponse } from '../src/simulator/value-table-writer.js';
import { ManualClock } from '../src/time/clock.js';
import { addDays, type LocalDay, startOfDay } from '../src/time/zone.js';
import { serviceCallDecoder } from '../src/upstream/service-call-row.js';
import { HISTORY_COLUMNS } from '../src/upstream/value-table.js';

export const ZONE = 'Europe/Moscow';
const OUT = fileURLToPath(new URL('./.out/', import.meta.url));
const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url));

/** The year held: 366 days from YEAR_FIRST_DAY at 3,000 calls a day, fetched 7 days at a time. */
export const YEAR_FIRST_DAY: LocalDay = '2023-01-02';
export const YEAR_DAYS = 366;
const CALLS_PER_DAY = 3000;
const DAYS_PER_FETCH = 7;
/** Rows handed to `add` at a time: about what a 64 KiB chunk of a response decodes to. */
const BATCH = 100;
const RUNS = 200;
const WARM_UP = 20;
const INGEST_ROWS = 500_000;
const INGEST_ROUNDS = 2;

export function yearHistory(): SimulatedHistory {
  return new SimulatedHistory({
    seed: 2024,
    callsPerDay: CALLS_PER_DAY,
    zone: ZONE,
    clock: new ManualClock(Date.parse('2030-01-01T00:00:00Z')),
    answerTimes: 'realistic',
  });
}

/** Commits the year into the stores, period by period, as the ingest would; returns the calls committed. */
export async function fillYear(history: SimulatedHistory, stores: readonly HistoryStore[]): Promise<number> {
  let rows = 0;
  for (let offset = 0; offset < YEAR_DAYS; offset += DAYS_PER_FETCH) {
    const days = Array.from({ length: Math.min(DAYS_PER_FETCH, YEAR_DAYS - offset) }, (_, i) => addDays(YEAR_FIRST_DAY, offset + i));
    const from = startOfDay(days[0] as LocalDay, ZONE);
    const to = startOfDay(addDays(days[days.length - 1] as LocalDay, 1), ZONE);
    const calls = history.callsStartedBetween(from, to);
    rows += calls.length;
    for (const store of stores) {
      const staged = await store.stage({ days, from, to });
      for (let i = 0; i < calls.length; i += BATCH) await staged.add(calls.slice(i, i + BATCH));
      await staged.commit(days.map((day) => ({ day, fetchedAt: to + 86_400_000, sealed: true })));
    }
  }
  return rows;
}

export function yearQuery(filter: ServiceCallFilter = {}): CallQuery {
  return { from: startOfDay(YEAR_FIRST_DAY, ZONE), to: startOfDay(addDays(YEAR_FIRST_DAY, YEAR_DAYS), ZONE), filter };
}

/** One question as a client asks it: the first page of 100 and the totals. */
export async function ask(store: HistoryStore, query: CallQuery): Promise<{ ids: string[]; total: number }> {
  const page = await store.page(query, null, 100);
  const stats = await store.stats(query);
  return { ids: page.calls.map((c) => c.callId), total: stats.total };
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

interface Timing {
  sqlite: number[];
  memory: number[];
}

/**
 * The two stores answer the same questions in alternation, so they share the machine's state. The
 * memory store recomputes a large selection in hundreds of ms, so it answers every `memoryEvery`th
 * question only, to keep the bench short.
 */
async function alternate(sqlite: HistoryStore, memory: HistoryStore, question: (run: number) => CallQuery, memoryEvery = 1): Promise<Timing> {
  const timing: Timing = { sqlite: [], memory: [] };
  for (let run = -WARM_UP; run < RUNS; run++) {
    const query = question(run + WARM_UP);
    const s0 = performance.now();
    const s = await ask(sqlite, query);
    const s1 = performance.now();
    if (run >= 0) timing.sqlite.push(s1 - s0);
    if ((run + WARM_UP) % memoryEvery !== 0) continue;
    const m0 = performance.now();
    const m = await ask(memory, query);
    const m1 = performance.now();
    if (s.total !== m.total || s.ids.join() !== m.ids.join()) throw new Error(`the stores answer ${JSON.stringify(query)} differently`);
    if (run >= 0) timing.memory.push(m1 - m0);
  }
  return timing;
}

function report(label: string, t: Timing): void {
  const s99 = percentile(t.sqlite, 99);
  const m99 = percentile(t.memory, 99);
  const ratio = s99 / m99;
  console.log(
    `  ${label}: sqlite p50 ${median(t.sqlite).toFixed(2)} ms p99 ${s99.toFixed(2)} ms (target < 100) ${s99 < 100 ? 'OK' : 'MISSED'}; ` +
      `memory p50 ${median(t.memory).toFixed(2)} ms p99 ${m99.toFixed(2)} ms (${t.memory.length} runs); ` +
      `sqlite/memory p50 ${(median(t.sqlite) / median(t.memory)).toFixed(2)}, p99 ${ratio.toFixed(2)} (target <= 3) ${ratio <= 3 ? 'OK' : 'MISSED'}`,
  );
}

function child<T>(...args: string[]): T {
  const output = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, ...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(output.trim().split('\n').pop() as string) as T;
}

/** The 500k-row response of 50 days at 10,000 calls a day, written once by the simulator's serializer. */
async function responseFile(): Promise<{ file: string; days: LocalDay[] }> {
  const callsPerDay = 10_000;
  const firstDay: LocalDay = '2024-01-01';
  const days = Array.from({ length: Math.ceil(INGEST_ROWS / callsPerDay) }, (_, i) => addDays(firstDay, i));
  const file = `${OUT}store-history-${INGEST_ROWS}.xml`;
  if (existsSync(file)) return { file, days };
  mkdirSync(OUT, { recursive: true });
  const from = startOfDay(firstDay, ZONE);
  const history = new SimulatedHistory({ seed: 7, callsPerDay, zone: ZONE, clock: new ManualClock(Date.parse('2030-01-01')), answerTimes: 'realistic' });
  function* rows(): Generator<ReturnType<typeof historyRowOf>> {
    let n = 0;
    for (const call of history.iterateCallsStartedBetween(from, startOfDay(addDays(firstDay, days.length), ZONE))) {
      if (n++ >= INGEST_ROWS) return;
      yield historyRowOf(call);
    }
  }
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  for (const piece of writeHistoryResponse({ soapVersion: '1.2', columns: HISTORY_COLUMNS, rows: rows(), zone: ZONE })) {
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  renameSync(partial, file);
  return { file, days };
}

/** Decodes the response in 64 KiB chunks, as the client does; each chunk's rows are one batch. */
async function decode(file: string): Promise<{ ms: number; batches: ServiceCall[][] }> {
  const batches: ServiceCall[][] = [];
  let batch: ServiceCall[] = [];
  const started = performance.now();
  const decoder = serviceCallDecoder(ZONE, (call) => batch.push(call));
  const stream = createReadStream(file, { highWaterMark: 64 * 1024 });
  stream.setEncoding('utf8');
  for await (const text of stream) {
    decoder.write(text as string);
    if (batch.length) {
      batches.push(batch);
      batch = [];
    }
  }
  decoder.end();
  if (batch.length) batches.push(batch);
  return { ms: performance.now() - started, batches };
}

async function ingest(file: string, days: LocalDay[], batches: ServiceCall[][]): Promise<number> {
  const store = SqliteHistoryStore.open(file, ZONE);
  try {
    const from = startOfDay(days[0] as LocalDay, ZONE);
    const to = startOfDay(addDays(days[days.length - 1] as LocalDay, 1), ZONE);
    const started = performance.now();
    const staged = await store.stage({ days, from, to });
    for (const batch of batches) await staged.add(batch);
    await staged.commit(days.map((day) => ({ day, fetchedAt: to, sealed: true })));
    return performance.now() - started;
  } finally {
    await store.close();
  }
}

const removeDatabase = (file: string): void => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
};

export async function runStoreBench(): Promise<void> {
  console.log(
    `bench/store: SqliteHistoryStore vs MemoryHistoryStore, a year (${YEAR_DAYS} days from ${YEAR_FIRST_DAY}) at ${CALLS_PER_DAY} calls a day ` +
      `committed per ${DAYS_PER_FETCH}-day period; page(first: 100) + stats, ${RUNS} runs each after ${WARM_UP} warm-up, the stores alternating`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'store-bench-'));
  const yearFile = join(dir, 'year.sqlite');
  try {
    let sqlite: SqliteHistoryStore | undefined = SqliteHistoryStore.open(yearFile, ZONE);
    let memory: MemoryHistoryStore | undefined = new MemoryHistoryStore(ZONE);
    const history = yearHistory();
    const started = performance.now();
    const rows = await fillYear(history, [sqlite, memory]);
    const held = (await sqlite.summary(0)).calls;
    console.log(
      `  held: ${held} calls (${rows} rows fetched) in ${((performance.now() - started) / 1000).toFixed(1)} s for both stores; ` +
        `SQLite file ${(statSync(yearFile).size / 1e6).toFixed(0)} MB`,
    );

    const whole = yearQuery();
    report('366 days, no filter             ', await alternate(sqlite, memory, () => whole, 5));
    const busiest = history.clients[0]?.clientId as string;
    const byClient = yearQuery({ clientId: busiest });
    console.log(`  busiest client: ${(await sqlite.stats(byClient)).total} calls in the year`);
    report('366 days, clientId (repeated)   ', await alternate(sqlite, memory, () => byClient));
    const clients = history.clients.map((c) => c.clientId);
    report('366 days, clientId (each client)', await alternate(sqlite, memory, (run) => yearQuery({ clientId: clients[run % clients.length] as string }), 3));
    await sqlite.close();
    sqlite = undefined;
    memory = undefined;

    const s = child<{ maxRssMb: number; rssMb: number }>('sqlite', yearFile);
    const m = child<{ maxRssMb: number; rssMb: number }>('memory');
    console.log(
      `  peak RSS of a process holding the year and answering both questions: SQLite ${s.maxRssMb} MB (target <= 250) ${s.maxRssMb <= 250 ? 'OK' : 'MISSED'}, ` +
        `memory ${m.maxRssMb} MB (after GC: SQLite ${s.rssMb} MB, memory ${m.rssMb} MB; the memory process also generated the year)`,
    );

    (globalThis as { gc?: () => void }).gc?.();
    const response = await responseFile();
    const ratios: number[] = [];
    const lines: string[] = [];
    for (let round = 0; round < INGEST_ROUNDS; round++) {
      const { ms: decodeMs, batches } = await decode(response.file);
      const count = batches.reduce((n, b) => n + b.length, 0);
      if (count !== INGEST_ROWS) throw new Error(`decoded ${count} rows of ${INGEST_ROWS}`);
      const file = join(dir, `ingest-${round}.sqlite`);
      const ingestMs = await ingest(file, response.days, batches);
      removeDatabase(file);
      ratios.push(ingestMs / decodeMs);
      lines.push(
        `decode ${(decodeMs / 1000).toFixed(2)} s (${((decodeMs * 1000) / count).toFixed(1)} µs/row), stage + commit ${(ingestMs / 1000).toFixed(2)} s ` +
          `(${((ingestMs * 1000) / count).toFixed(1)} µs/row), ratio ${(ingestMs / decodeMs).toFixed(3)}`,
      );
    }
    const ratio = median(ratios);
    console.log(`  ingest of a ${INGEST_ROWS}-row response (${(statSync(response.file).size / 1e6).toFixed(0)} MB), ${INGEST_ROUNDS} rounds:`);
    for (const line of lines) console.log(`    ${line}`);
    console.log(`    stage + commit / decode: ${ratio.toFixed(3)} (target <= 0.25) ${ratio <= 0.25 ? 'OK' : 'MISSED'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
