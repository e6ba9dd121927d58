/**
 * Single flight across processes: one holder at a time fetches a planned call (keyed by its grid
 * block, so every replica names the same call the same way); the others wait until it is released,
 * then read what it brought from the shared store. In one process (`LocalFetchLocks`) the history
 * service's own in-flight map is the single flight, and every lock is granted at once.
 */
export interface FetchLock {
  /** Gives the lock back (after the call's commit is visible to every replica, or after it failed). */
  release(): Promise<void>;
}

export interface FetchLocks {
  /**
   * Takes the lock of one planned call; null when another holder has it. The lock is held by a lease
   * that is renewed while the holder lives, and lapses when it dies (another may then take it).
   * Rejects when the lock store cannot be reached (no call may be made: fail closed).
   */
  tryAcquire(key: string): Promise<FetchLock | null>;
  /** Resolves when the lock of `key` is released or lapses (at once when nobody holds it). */
  released(key: string): Promise<void>;
  close(): Promise<void>;
}

/** One process: every lock is granted at once (the in-process single flight suffices). */
export class LocalFetchLocks implements FetchLocks {
  async tryAcquire(): Promise<FetchLock> {
    return { release: async () => undefined };
  }
  async released(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * Whether this process runs the background work (refresh ahead, sealing, night backfill): with
 * several replicas, one at a time holds a leader lease and another takes over when it dies.
 */
export interface Leadership {
  isLeader(): boolean;
  close(): Promise<void>;
}

/** One process: it is always the leader. */
export const soleLeader: Leadership = { isLeader: () => true, close: async () => undefined };
