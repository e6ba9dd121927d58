import { randomUUID } from 'node:crypto';
import type { FetchLock, FetchLocks } from '../fetch-locks.js';
import type { RedisContext } from './redis-connection.js';

export interface RedisFetchLocksOptions {
  /** Lifetime (ms) of a lock that is not renewed; a live holder renews it every leaseMs/3. Default 30 s. */
  leaseMs?: number;
  /**
   * Told when a held lock was lost (its lease lapsed and another took it: two replicas may now fetch
   * the same call) or when a renewal or a release could not reach Redis. Nothing is thrown for these.
   */
  onError?: (error: Error) => void;
}

/** Extends the lease only while the key still holds the caller's token (1), else 0. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;

/**
 * Deletes the key only while it still holds the caller's token, and then tells every replica waiting
 * for it (in one step, so a waiter never hears of a release that deleted nothing). 1 when deleted.
 */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1])
  redis.call('publish', KEYS[2], ARGV[2])
  return 1
end
return 0`;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
}

/**
 * Fetch locks shared by the replicas through Redis: a lock is the key `<prefix>lock:<key>` holding a
 * random token, set with NX and a lease (PX) that its holder renews every leaseMs/3 while it lives, so
 * a long upstream body keeps it, and that lapses when the holder dies. A release deletes the key only
 * if it still holds the holder's token, and publishes the key on `<prefix>lock-released`.
 *
 * Waiters (`released`) listen on that channel, one subscription per instance shared by all of them;
 * since a holder that died never publishes, each waiter also re-reads the key's remaining lease when
 * it starts waiting and once more each time that lease would have run out (a timer, not a poll).
 *
 * The connections belong to the caller: `close()` stops renewals, fails pending waiters and
 * unsubscribes this instance's channel, but closes no connection. Two instances should not share one
 * subscriber connection with the same prefix (closing one would unsubscribe the other's channel).
 */
export class RedisFetchLocks implements FetchLocks {
  private readonly leaseMs: number;
  private readonly onError: (error: Error) => void;
  private readonly channel: string;
  private readonly held = new Set<HeldLock>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private subscribed: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly context: RedisContext,
    options: RedisFetchLocksOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
    if (!(this.leaseMs >= 3)) throw new RangeError(`leaseMs must be at least 3 ms, got ${this.leaseMs}`);
    this.onError = options.onError ?? (() => undefined);
    this.channel = `${context.prefix}lock-released`;
  }

  /** Rejects when Redis cannot be reached: no call may then be made (fail closed). */
  async tryAcquire(key: string): Promise<FetchLock | null> {
    if (this.closed) throw new Error('RedisFetchLocks is closed');
    const token = randomUUID();
    const lockKey = this.lockKey(key);
    const set = await this.context.redis.set(lockKey, token, 'PX', this.leaseMs, 'NX');
    if (set !== 'OK') return null;
    const lock: HeldLock = new HeldLock(key, {
      renewEveryMs: Math.floor(this.leaseMs / 3),
      renew: async () => (await this.context.redis.eval(RENEW, 1, lockKey, token, this.leaseMs)) === 1,
      release: async () => {
        this.held.delete(lock);
        await this.context.redis.eval(RELEASE, 2, lockKey, this.channel, token, key);
      },
      lost: () => this.held.delete(lock),
      report: (error) => this.report(error),
    });
    // Closed while SET was on its way: give the lock back rather than hold it unrenewed.
    if (this.closed) {
      await lock.release();
      throw new Error('RedisFetchLocks is closed');
    }
    this.held.add(lock);
    lock.scheduleRenewal();
    return lock;
  }

  /**
   * Resolves when `key` is released (heard on the channel) or its lease lapses (its holder died), at
   * once when nobody holds it. Rejects when Redis cannot be reached or this instance is closed.
   */
  async released(key: string): Promise<void> {
    if (this.closed) throw new Error('RedisFetchLocks is closed');
    await this.subscribe();
    if (this.closed) throw new Error('RedisFetchLocks is closed');
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          this.forget(key, waiter);
          resolve();
        },
        reject: (error) => {
          this.forget(key, waiter);
          reject(error);
        },
      };
      // Registered before the key is read, so a release published meanwhile is not missed.
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      set.add(waiter);
      this.check(key, waiter);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lock of this.held) lock.stopRenewal();
    this.held.clear();
    const error = new Error('RedisFetchLocks is closed');
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.reject(error);
    this.context.subscriber.removeListener('message', this.onMessage);
    if (this.subscribed) {
      this.subscribed = null;
      await this.context.subscriber.unsubscribe(this.channel).catch(() => undefined);
    }
  }

  private lockKey(key: string): string {
    return `${this.context.prefix}lock:${key}`;
  }

  private report(error: Error): void {
    try {
      this.onError(error);
    } catch {
      // A failing reporter must not break the lock.
    }
  }

  // --- waiting ---

  private subscribe(): Promise<void> {
    if (!this.subscribed) {
      const { subscriber } = this.context;
      subscriber.on('message', this.onMessage);
      this.subscribed = subscriber.subscribe(this.channel).then(
        () => undefined,
        (error: unknown) => {
          // Not subscribed: the next waiter tries again.
          subscriber.removeListener('message', this.onMessage);
          this.subscribed = null;
          throw error;
        },
      );
    }
    return this.subscribed;
  }

  private readonly onMessage = (channel: string, key: string): void => {
    if (channel !== this.channel) return;
    const set = this.waiters.get(key);
    if (set) for (const waiter of [...set]) waiter.resolve();
  };

  /** Reads the key's remaining lease: resolves the waiter when it is gone, else looks again when it would end. */
  private check(key: string, waiter: Waiter): void {
    this.context.redis.pttl(this.lockKey(key)).then(
      (pttl) => {
        if (!this.waiters.get(key)?.has(waiter)) return; // already settled (heard the release, or closed)
        if (pttl === -2) return waiter.resolve(); // no such key: nobody holds it
        // -1 (a key without expiry) is never written by this class: look again after a lease.
        const wait = pttl >= 0 ? pttl + 2 : this.leaseMs;
        waiter.timer = setTimeout(() => this.check(key, waiter), wait);
        waiter.timer.unref();
      },
      (error: unknown) => waiter.reject(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private forget(key: string, waiter: Waiter): void {
    if (waiter.timer) clearTimeout(waiter.timer);
    const set = this.waiters.get(key);
    if (!set) return;
    set.delete(waiter);
    if (!set.size) this.waiters.delete(key);
  }
}

/** What a held lock needs from its RedisFetchLocks. */
interface HeldLockOps {
  renewEveryMs: number;
  /** True when the lease was extended (the key still held this lock's token). */
  renew(): Promise<boolean>;
  /** Compare-and-delete, then publish the release. */
  release(): Promise<void>;
  /** The lease lapsed: the lock is no longer this replica's. */
  lost(): void;
  report(error: Error): void;
}

/** A lock this replica holds: renewed until released, lost, or its RedisFetchLocks is closed. */
class HeldLock implements FetchLock {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private releasing: Promise<void> | null = null;

  constructor(
    readonly key: string,
    private readonly ops: HeldLockOps,
  ) {}

  /**
   * Deletes the lock if this holder still has it (never another holder's, after a lapse) and wakes the
   * waiters. Idempotent. Never rejects: when Redis cannot be reached the error goes to onError and the
   * lock lapses at the end of its lease.
   */
  release(): Promise<void> {
    this.releasing ??= (async () => {
      this.stopRenewal();
      try {
        await this.ops.release();
      } catch (error) {
        this.ops.report(new Error(`could not release fetch lock ${this.key} (it lapses with its lease): ${message(error)}`));
      }
    })();
    return this.releasing;
  }

  scheduleRenewal(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.renew(), this.ops.renewEveryMs);
    this.timer.unref();
  }

  stopRenewal(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async renew(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    let renewed: boolean;
    try {
      renewed = await this.ops.renew();
    } catch (error) {
      // Redis unreachable for now: the lease may still be ours, so keep trying.
      this.ops.report(new Error(`could not renew fetch lock ${this.key}: ${message(error)}`));
      this.scheduleRenewal();
      return;
    }
    if (this.stopped) return;
    if (!renewed) {
      this.stopRenewal();
      this.ops.lost();
      this.ops.report(new Error(`fetch lock ${this.key} was lost: its lease lapsed before it was renewed (another replica may fetch the same call)`));
      return;
    }
    this.scheduleRenewal();
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
