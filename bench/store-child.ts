/**
 * Peak RSS for bench/store, each measurement in a process of its own:
 *   tsx bench/store-child.ts sqlite FILE   opens the year's SQLite file and answers both questions
 *   tsx bench/store-child.ts memory        builds the year in a MemoryHistoryStore and answers them
 * Prints { maxRssMb, rssMb }: the peak (process.resourceUsage().maxRSS) and the RSS after a GC.
 */
import type { HistoryStore } from '../src/history/history-store.js';
import { MemoryHistoryStore } from '../src/history/memory-history-store.js';
import { SqliteHistoryStore } from '../src/history/sqlite/sqlite-history-store.js';
import { ask, fillYear, yearHistory, yearQuery, ZONE } from './store.js';

const [mode, file] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

let store: HistoryStore;
const history = yearHistory();
const busiest = history.clients[0]?.clientId as string;
if (mode === 'sqlite') {
  store = SqliteHistoryStore.open(file as string, ZONE);
} else if (mode === 'memory') {
  store = new MemoryHistoryStore(ZONE);
  await fillYear(history, [store]);
} else {
  throw new Error(`unknown mode ${mode}`);
}
for (let i = 0; i < 3; i++) {
  await ask(store, yearQuery());
  await ask(store, yearQuery({ clientId: busiest }));
}
gc();
const rssMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
const maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
await store.close();
process.stdout.write(`${JSON.stringify({ maxRssMb, rssMb })}\n`);
