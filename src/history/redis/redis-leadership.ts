import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Leadership } from '../fetch-locks.js';
import type { RedisContext } from './redis-connection.js';

export interface RedisLeadershipOptions {
  /** Lifetime (ms) of the leader lease; it is tried for or renewed every leaseMs/3. Default 30 s. */
  leaseMs?: number;
  /**
   * How long before its lease would end (counted from when the last successful acquire or renew was
   * sent) this replica stops believing it leads. Default leaseMs/10; below leaseMs*2/3, so that
   * renewals every leaseMs/3 keep a live leader leading without a gap.
   */
  marginMs?: number;
  /** Told each time isLeader() changes (also when it turns false because Redis could not be reached). */
  onChange?: (leader: boolean) => void;
  /** Told when Redis could not be reached to acquire, renew or release the lease. */
  onError?: (error: Error) => void;
}

/** Extends the lease only while the key still holds this replica's token (1), else 0. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
/** Deletes the key only while it still holds this replica's token. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/**
 * A leader lease shared by the replicas through Redis: the key `<prefix>leader` holds the token of the
 * replica that leads, set with NX and a lease (PX). Every leaseMs/3 each replica either renews the lease
 * it holds (only while the key still holds its token) or tries to take it (SET NX PX).
 *
 * isLeader() is true only while the last successful acquire or renew was sent less than
 * `leaseMs - marginMs` ago (a monotonic clock, counted from before the command was sent): the key lives
 * in Redis at least `leaseMs` from then, so this replica stops believing it leads at least `marginMs`
 * before any other replica can take the lease. When Redis is lost, it stops leading at that age.
 *
 * `start()` (or `RedisLeadership.open`) makes the first attempt and starts the timer (unref'd);
 * `close()` stops it and gives the lease back if held. The connection belongs to the caller.
 */
export class RedisLeadership implements Leadership {
  private readonly leaseMs: number;
  private readonly marginMs: number;
  private readonly key: string;
  private readonly token = randomUUID();
  private readonly onChange: (leader: boolean) => void;
  private readonly onError: (error: Error) => void;
  /** True while the key is believed to hold this replica's token (renewals are then tried). */
  private holding = false;
  /** performance.now() when the last successful acquire or renew was sent. */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private reported = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private started = false;
  private closed = false;

  /** Creates the leadership and makes its first attempt (resolves once it is known whether this replica leads). */
  static async open(context: RedisContext, options: RedisLeadershipOptions = {}): Promise<RedisLeadership> {
    const leadership = new RedisLeadership(context, options);
    await leadership.start();
    return leadership;
  }

  constructor(
    private readonly context: RedisContext,
    options: RedisLeadershipOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.marginMs = options.marginMs ?? Math.floor(this.leaseMs / 10);
    if (!(this.leaseMs >= 3)) throw new RangeError(`leaseMs must be at least 3 ms, got ${this.leaseMs}`);
    if (!(this.marginMs >= 0 && this.marginMs < (this.leaseMs * 2) / 3)) {
      throw new RangeError(`marginMs must be in [0, leaseMs*2/3), got ${this.marginMs} for a lease of ${this.leaseMs}`);
    }
    this.key = `${context.prefix}leader`;
    this.onChange = options.onChange ?? (() => undefined);
    this.onError = options.onError ?? (() => undefined);
  }

  /** Makes the first attempt and starts the timer; resolves after that attempt (never rejects). Idempotent. */
  async start(): Promise<void> {
    if (this.started || this.closed) return this.running ?? undefined;
    this.started = true;
    await this.tick();
  }

  isLeader(): boolean {
    return this.holding && performance.now() - this.confirmedAt < this.leaseMs - this.marginMs;
  }

  /** Stops the timers and gives the lease back if this replica holds it (never another's). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    await this.running?.catch(() => undefined);
    if (this.holding) {
      this.holding = false;
      try {
        await this.context.redis.eval(RELEASE, 1, this.key, this.token);
      } catch (error) {
        this.report(`could not release the leader lease (it lapses with its lease)`, error);
      }
    }
    this.notify();
  }

  private tick(): Promise<void> {
    this.running = this.attempt().finally(() => {
      this.running = null;
      if (this.closed) return;
      this.notify();
      this.tickTimer = setTimeout(() => void this.tick(), Math.floor(this.leaseMs / 3));
      this.tickTimer.unref();
    });
    return this.running;
  }

  private async attempt(): Promise<void> {
    const sentAt = performance.now();
    try {
      if (this.holding) {
        const renewed = await this.context.redis.eval(RENEW, 1, this.key, this.token, this.leaseMs);
        if (renewed === 1) return this.confirmed(sentAt);
        // The lease lapsed (this replica could not renew in time): another may hold it now.
        this.holding = false;
      }
      const acquired = await this.context.redis.set(this.key, this.token, 'PX', this.leaseMs, 'NX');
      if (acquired === 'OK') this.confirmed(sentAt);
    } catch (error) {
      // Nothing known: isLeader() turns false as the last confirmation ages; the next tick tries again.
      this.report('could not reach Redis for the leader lease', error);
    }
  }

  private confirmed(sentAt: number): void {
    // Recorded even when closing, so that close() (which waits for this attempt) gives the lease back.
    this.holding = true;
    this.confirmedAt = sentAt;
    if (this.closed) return;
    // Tells onChange when the belief ends without a renewal (Redis lost), not only at the next tick.
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const endsIn = sentAt + this.leaseMs - this.marginMs - performance.now();
    this.expiryTimer = setTimeout(() => this.notify(), Math.max(0, endsIn) + 1);
    this.expiryTimer.unref();
  }

  private notify(): void {
    const leader = this.isLeader();
    if (leader === this.reported) return;
    this.reported = leader;
    try {
      this.onChange(leader);
    } catch {
      // A failing listener must not stop the lease.
    }
  }

  private clearTimers(): void {
    if (this.tickTimer) clearTimeout(this.tickTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.tickTimer = this.expiryTimer = null;
  }

  private report(what: string, error: unknown): void {
    try {
      this.onError(new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`));
    } catch {
      // A failing reporter must not stop the lease.
    }
  }
}
