import type { Logger } from '../server/logger.js';
import type { Clock } from '../time/clock.js';
import { addDays, type LocalDay, localDayOf } from '../time/zone.js';
import type { HistoryService } from './history-service.js';

const DAY_MS = 86_400_000;

/** The first day kept when `days` days of history are kept: today and the `days - 1` before it. */
export function firstKeptDay(now: number, zone: string, days: number): LocalDay {
  return addDays(localDayOf(now, zone), -(days - 1));
}

/**
 * RETENTION_DAYS: drops the history older than that at start and then once a day (wall time;
 * the timer does not keep the process alive). Returns a stop function.
 */
export function startRetention(options: { history: HistoryService; clock: Clock; zone: string; days: number; logger: Logger }): () => void {
  const { history, clock, zone, days, logger } = options;
  const run = async (): Promise<void> => {
    const before = firstKeptDay(clock.now(), zone, days);
    try {
      const dropped = await history.dropBefore(before);
      if (dropped.days || dropped.calls) logger.info('retention dropped old history', { before, ...dropped });
    } catch (error) {
      logger.error('retention failed; it is tried again in a day', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  void run();
  const timer = setInterval(() => void run(), DAY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
