import type { Logger } from '../server/logger.js';
import { BACKGROUND_INTERVAL_MS, type HistoryService } from './history-service.js';

/**
 * Runs the history's background work (refresh ahead, sealing, night backfill) every
 * BACKGROUND_INTERVAL_MS of wall time, the first run one interval after start (a restart does not
 * spend calls before anyone asks). Runs never overlap; the timer does not keep the process alive.
 * Returns a stop function (a run under way finishes; `history.drain()` waits for its calls).
 */
export function startBackgroundWork(options: { history: HistoryService; logger: Logger; intervalMs?: number }): () => void {
  const { history, logger } = options;
  let running = false;
  const run = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const done = await history.runDueBackgroundWork();
      if (done.calls || done.deferred) logger.info('background work ran', { ...done });
    } catch (error) {
      logger.error('background work failed; it runs again at the next interval', { error: error instanceof Error ? error.message : String(error) });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void run(), options.intervalMs ?? BACKGROUND_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
