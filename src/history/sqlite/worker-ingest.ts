import { Worker } from 'node:worker_threads';
import type { LocalDay } from '../../time/zone.js';
import { errorFromFields } from '../../upstream/errors.js';
import type { HistoryIngest, IngestJob, IngestResult } from '../history-ingest.js';
import type { DayFailure } from '../history-store.js';
import type { IngestReply, IngestRequest, IngestWorkerData } from './ingest-protocol.js';

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
  onRows?: (count: number) => void;
}

/**
 * The history's writer in a worker thread (see ingest-worker.ts): the serving thread sends it the
 * calls to make and learns when each period is committed. A worker that dies fails what it had in
 * flight (nothing of it was committed) and is started again for the next call.
 */
export class WorkerIngest implements HistoryIngest {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(private readonly data: IngestWorkerData) {}

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./ingest-worker.mjs', import.meta.url), { workerData: this.data });
    // The server's own handles keep the process alive; a worker left idle must not.
    worker.unref();
    worker.on('message', (reply: IngestReply) => this.receive(reply));
    const fail = (error: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => fail(new Error(`the ingest worker failed: ${error.message}`)));
    worker.on('exit', (code) => fail(new Error(`the ingest worker stopped (exit code ${code}); nothing of its calls in flight was kept`)));
    this.worker = worker;
    return worker;
  }

  private receive(reply: IngestReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    if (reply.type === 'rows') {
      pending.onRows?.(reply.count);
      return;
    }
    this.pending.delete(reply.id);
    if (reply.type === 'done') pending.resolve(reply.result);
    else pending.reject(errorFromFields(reply.error));
  }

  private send<T>(request: (id: number) => Exclude<IngestRequest, { type: 'abort' }>, onRows?: (count: number) => void): { id: number; result: Promise<T> } {
    if (this.closed) throw new Error('the history writer is closed');
    const id = this.nextId++;
    const result = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, onRows });
    });
    this.started().postMessage(request(id));
    return { id, result };
  }

  async fetch(job: IngestJob, signal: AbortSignal, onRows: (count: number) => void): Promise<IngestResult> {
    signal.throwIfAborted();
    const { id, result } = this.send<IngestResult>((id) => ({ type: 'fetch', id, job }), onRows);
    const abort = (): void => {
      this.worker?.postMessage({ type: 'abort', id, reason: String((signal.reason as Error | undefined)?.message ?? 'aborted') } satisfies IngestRequest);
    };
    signal.addEventListener('abort', abort, { once: true });
    try {
      return await result;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  async markFailed(days: readonly LocalDay[], failure: DayFailure): Promise<void> {
    await this.send<null>((id) => ({ type: 'markFailed', id, days: [...days], failure })).result;
  }

  dropBefore(day: LocalDay): Promise<{ days: number; calls: number }> {
    return this.send<{ days: number; calls: number }>((id) => ({ type: 'dropBefore', id, day })).result;
  }

  /** Ends the worker: calls still in flight fail (call after the history drained). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }
}
