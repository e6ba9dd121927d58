/**
 * The ingest worker: makes the upstream calls it is given, decodes their responses as they stream
 * and commits them to the history database itself, so the serving thread stays free to answer while
 * a year of calls is decoded and written. It is the database's one writer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ConnectClient } from '../../upstream/connect-client.js';
import { errorFields } from '../../upstream/errors.js';
import { InProcessIngest } from '../history-ingest.js';
import type { IngestReply, IngestRequest, IngestWorkerData } from './ingest-protocol.js';
import { SqliteHistoryStore } from './sqlite-history-store.js';

const port = parentPort;
if (!port) throw new Error('ingest-worker.ts runs as a worker thread');
const data = workerData as IngestWorkerData;
const store = SqliteHistoryStore.open(data.file, data.zone);
const client = new ConnectClient({ ...data.connect, zone: data.zone });
const ingest = new InProcessIngest(client, store);
const calls = new Map<number, AbortController>();
const post = (reply: IngestReply): void => port.postMessage(reply);

async function handle(request: Exclude<IngestRequest, { type: 'abort' }>): Promise<unknown> {
  switch (request.type) {
    case 'fetch': {
      const controller = new AbortController();
      calls.set(request.id, controller);
      try {
        return await ingest.fetch(request.job, controller.signal, (count) => post({ type: 'rows', id: request.id, count }));
      } finally {
        calls.delete(request.id);
      }
    }
    case 'markFailed':
      await ingest.markFailed(request.days, request.failure);
      return null;
    case 'dropBefore':
      return ingest.dropBefore(request.day);
  }
}

port.on('message', (request: IngestRequest) => {
  if (request.type === 'abort') {
    calls.get(request.id)?.abort(new Error(request.reason));
    return;
  }
  handle(request).then(
    (result) => post({ type: 'done', id: request.id, result: result as never }),
    (error: unknown) => post({ type: 'failed', id: request.id, error: errorFields(error) }),
  );
});

// Closing the port (the serving thread's close()) ends the worker once nothing is in flight.
port.on('close', () => {
  for (const controller of calls.values()) controller.abort(new Error('the ingest worker is closing'));
  void store.close();
});
