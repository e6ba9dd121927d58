/**
 * Stopping on SIGTERM/SIGINT within a time limit: the first signal begins a drain, which may take
 * up to `timeoutMs`; past it, or on a second signal, what is still open is cut and the process
 * exits 1 (0 when the drain finished on its own).
 */
import type { Logger } from './logger.js';

export interface Drainable {
  /** Begins the drain; resolves once nothing is left in flight. Called once. */
  close(): Promise<void>;
  /** Cuts whatever is left in flight; `close()` then settles promptly. */
  cut(): void;
  /** What the drain still waits for, for the log: counts and names, never request contents. */
  openWork(): Record<string, unknown>;
}

export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/**
 * A repeat signal this soon (ms) after the first is the same request, not a second one: under
 * `npm start` a terminal's Ctrl-C reaches the server twice within milliseconds (from the terminal,
 * to the whole process group, and relayed by npm).
 */
export const REPEAT_SIGNAL_GRACE_MS = 250;

/** How long (ms) `close()` may take to settle after a cut before the process exits regardless. */
export const CUT_SETTLE_MS = 1_000;

export interface ShutdownOptions {
  /** Longest drain (ms) before what is still open is cut. */
  timeoutMs: number;
  logger: Logger;
  /** Ends the process; tests replace it. */
  exit?: (code: number) => void;
}

/** The shutdown sequence, driven by `signal()`; `stopOnSignals` wires it to the process. */
export function shutdownSequence(target: Drainable, options: ShutdownOptions): { signal(name: ShutdownSignal): void } {
  const { timeoutMs, logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let startedAt: number | undefined;
  let limit: NodeJS.Timeout | undefined;
  let settle: NodeJS.Timeout | undefined;
  let cutBy: string | undefined;
  let finished = false;
  const elapsedMs = (): number => Date.now() - (startedAt as number);

  const finish = (code: number): void => {
    if (finished) return;
    finished = true;
    clearTimeout(limit);
    clearTimeout(settle);
    logger.info('stopped', { clean: code === 0, cutBy, elapsedMs: elapsedMs(), exitCode: code });
    exit(code);
  };

  const cut = (reason: string): void => {
    if (cutBy !== undefined || finished) return;
    cutBy = reason;
    clearTimeout(limit);
    logger.warn('shutdown cut: aborting upstream calls and closing every socket left', {
      reason,
      elapsedMs: elapsedMs(),
      open: target.openWork(),
    });
    target.cut();
    // A cut settles close() at once; should anything still hang, the process ends all the same.
    settle = setTimeout(() => {
      logger.warn('shutdown cut did not settle; exiting regardless', { open: target.openWork() });
      finish(1);
    }, CUT_SETTLE_MS);
  };

  return {
    signal(name) {
      if (startedAt !== undefined) {
        if (Date.now() - startedAt < REPEAT_SIGNAL_GRACE_MS) return;
        cut(`second ${name}`);
        return;
      }
      startedAt = Date.now();
      let drained: Promise<void>;
      try {
        drained = target.close();
      } catch (error) {
        drained = Promise.reject(error);
      }
      logger.info('shutting down: finishing what is in flight', { signal: name, timeoutMs, open: target.openWork() });
      limit = setTimeout(() => cut(`time limit of ${timeoutMs} ms`), timeoutMs);
      drained.then(
        () => finish(cutBy === undefined ? 0 : 1),
        (error: unknown) => {
          logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
          finish(1);
        },
      );
    },
  };
}

/** Runs the shutdown sequence on SIGTERM and SIGINT (a service manager's stop, a terminal's Ctrl-C). */
export function stopOnSignals(target: Drainable, options: ShutdownOptions): void {
  const sequence = shutdownSequence(target, options);
  for (const name of SHUTDOWN_SIGNALS) process.on(name, () => sequence.signal(name));
}
