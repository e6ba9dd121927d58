import type { LocalDay } from '../../time/zone.js';
import type { ErrorFields } from '../../upstream/errors.js';
import type { IngestJob, IngestResult } from '../history-ingest.js';
import type { DayFailure } from '../history-store.js';

/** What the ingest worker is started with. The password stays in memory: never logged or posted back. */
export interface IngestWorkerData {
  /** The history database file, opened by the worker on its own connection. */
  file: string;
  zone: string;
  connect: { url: string; login: string; password: string; timeoutMs: number };
}

/** Serving thread → worker. */
export type IngestRequest =
  | { type: 'fetch'; id: number; job: IngestJob }
  | { type: 'abort'; id: number; reason: string }
  | { type: 'markFailed'; id: number; days: LocalDay[]; failure: DayFailure }
  | { type: 'dropBefore'; id: number; day: LocalDay };

/** Worker → serving thread. */
export type IngestReply =
  | { type: 'rows'; id: number; count: number }
  | { type: 'done'; id: number; result: IngestResult | { days: number; calls: number } | null }
  | { type: 'failed'; id: number; error: ErrorFields };
