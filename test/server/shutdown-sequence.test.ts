import { afterEach, beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import { createLogger } from '../../src/server/logger.js';
import { CUT_SETTLE_MS, REPEAT_SIGNAL_GRACE_MS, shutdownSequence } from '../../src/server/shutdown.js';

// The sequence alone, on fake timers: the real processes are in shutdown.test.ts.

interface Target {
  close: Mock<() => Promise<void>>;
  cut: Mock<() => void>;
  openWork: () => Record<string, unknown>;
  finishDrain: () => void;
}

/** A drain that ends when the test says, or when it is cut (unless `settlesOnCut` is false). */
function target(settlesOnCut = true): Target {
  let finishDrain = (): void => {};
  const drained = new Promise<void>((resolve) => (finishDrain = resolve));
  return {
    close: vi.fn(() => drained),
    cut: vi.fn(() => {
      if (settlesOnCut) finishDrain();
    }),
    openWork: () => ({ requests: 1 }),
    finishDrain: () => finishDrain(),
  };
}

let lines: Array<Record<string, unknown>>;
let exits: number[];
const logger = () => createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
const messages = () => lines.map((l) => l['message']);

beforeEach(() => {
  vi.useFakeTimers();
  lines = [];
  exits = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe('shutdownSequence', () => {
  it('exits 0 when the drain ends within the limit, and never cuts', async () => {
    const t = target();
    const sequence = shutdownSequence(t, { timeoutMs: 1_000, logger: logger(), exit: (code) => exits.push(code) });
    sequence.signal('SIGTERM');
    expect(t.close).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(400);
    t.finishDrain();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.cut).not.toHaveBeenCalled();
    expect(exits).toEqual([0]);
    expect(messages()).toEqual(['shutting down: finishing what is in flight', 'stopped']);
    expect(lines[1]).toMatchObject({ clean: true, exitCode: 0 });
  });

  it('cuts at the limit, not before, and exits 1', async () => {
    const t = target();
    const sequence = shutdownSequence(t, { timeoutMs: 1_000, logger: logger(), exit: (code) => exits.push(code) });
    sequence.signal('SIGTERM');
    await vi.advanceTimersByTimeAsync(999);
    expect(t.cut).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(t.cut).toHaveBeenCalledTimes(1);
    expect(exits).toEqual([1]);
    expect(lines.find((l) => l['message'] === 'shutdown cut: aborting upstream calls and closing every socket left')).toMatchObject({
      reason: 'time limit of 1000 ms',
      open: { requests: 1 },
    });
    expect(lines.at(-1)).toMatchObject({ message: 'stopped', clean: false, cutBy: 'time limit of 1000 ms', exitCode: 1 });
  });

  it('takes a repeat within the grace as the same signal, and a later one as a second: cut at once', async () => {
    const t = target();
    const sequence = shutdownSequence(t, { timeoutMs: 60_000, logger: logger(), exit: (code) => exits.push(code) });
    sequence.signal('SIGINT');
    sequence.signal('SIGINT'); // npm's relayed copy of a terminal's Ctrl-C
    await vi.advanceTimersByTimeAsync(REPEAT_SIGNAL_GRACE_MS - 1);
    sequence.signal('SIGINT');
    expect(t.cut).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    sequence.signal('SIGTERM');
    expect(t.cut).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ message: 'stopped', cutBy: 'second SIGTERM' });
    expect(t.close).toHaveBeenCalledTimes(1);
  });

  it('exits 1 after the cut even when the drain never settles', async () => {
    const t = target(false);
    const sequence = shutdownSequence(t, { timeoutMs: 0, logger: logger(), exit: (code) => exits.push(code) });
    sequence.signal('SIGTERM');
    await vi.advanceTimersByTimeAsync(0);
    expect(t.cut).toHaveBeenCalledTimes(1);
    expect(exits).toEqual([]);
    await vi.advanceTimersByTimeAsync(CUT_SETTLE_MS);
    expect(exits).toEqual([1]);
    expect(messages()).toContain('shutdown cut did not settle; exiting regardless');
  });

  it('exits 1 when the drain fails, naming the error', async () => {
    const sequence = shutdownSequence(
      { close: () => Promise.reject(new Error('listener was not open')), cut: () => {}, openWork: () => ({}) },
      { timeoutMs: 1_000, logger: logger(), exit: (code) => exits.push(code) },
    );
    sequence.signal('SIGTERM');
    await vi.advanceTimersByTimeAsync(0);
    expect(exits).toEqual([1]);
    expect(lines).toContainEqual(expect.objectContaining({ message: 'shutdown failed', error: 'listener was not open' }));
  });
});
