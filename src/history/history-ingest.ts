import type { LocalDay } from '../time/zone.js';
import type { HistoryRequest } from '../upstream/history-request.js';
import type { ServiceCall } from '../domain/service-call.js';
import type { DayCoverage } from './fetch-planner.js';
import type { DayFailure, FetchedPeriod, HistoryStore } from './history-store.js';

/** Where calls come from: the 1C-Connect client, batches of rows as they are decoded. */
export interface HistorySource {
  /** `signal` aborts the call: the iteration then throws and nothing of it is kept. */
  history(request: HistoryRequest, signal?: AbortSignal): AsyncIterable<ServiceCall[]>;
}

/** One upstream call to make and commit: its period and the coverage its days get once committed. */
export interface IngestJob {
  period: FetchedPeriod;
  coverage: readonly DayCoverage[];
}

export interface IngestResult {
  rows: number;
  /** Rows that repeated a CallID of the same response (each CallID is counted once). */
  duplicateRows: number;
}

/**
 * The one writer of the history: fetches a period from the upstream, decodes it and commits it to
 * the store in one step, so whoever runs it (this thread, or a worker thread for a store on disk)
 * decodes and writes while the serving thread only learns that the period is committed. The other
 * writes to the store (failures, retention) go through it too, so a store has one writer.
 */
export interface HistoryIngest {
  /**
   * Resolves once the response arrived whole and its rows are committed; rejects with the upstream
   * or decode error (nothing of the call is kept). `onRows` hears of each batch of decoded rows.
   */
  fetch(job: IngestJob, signal: AbortSignal, onRows: (count: number) => void): Promise<IngestResult>;
  markFailed(days: readonly LocalDay[], failure: DayFailure): Promise<void>;
  dropBefore(day: LocalDay): Promise<{ days: number; calls: number }>;
  /** Stops the writer (a worker ends); the store itself is closed by its owner. */
  close(): Promise<void>;
}

/** Fetches and writes on the calling thread: for the memory store, and inside the ingest worker. */
export class InProcessIngest implements HistoryIngest {
  constructor(
    private readonly source: HistorySource,
    private readonly store: HistoryStore,
  ) {}

  async fetch(job: IngestJob, signal: AbortSignal, onRows: (count: number) => void): Promise<IngestResult> {
    const staged = await this.store.stage(job.period);
    let rows = 0;
    try {
      signal.throwIfAborted();
      for await (const batch of this.source.history({ periodFrom: job.period.from, periodTo: job.period.to }, signal)) {
        rows += batch.length;
        onRows(batch.length);
        await staged.add(batch);
      }
    } catch (error) {
      await staged.discard();
      throw error;
    }
    const { duplicateRows } = await staged.commit(job.coverage);
    return { rows, duplicateRows };
  }

  markFailed(days: readonly LocalDay[], failure: DayFailure): Promise<void> {
    return this.store.markFailed(days, failure);
  }

  dropBefore(day: LocalDay): Promise<{ days: number; calls: number }> {
    return this.store.dropBefore(day);
  }

  async close(): Promise<void> {}
}
