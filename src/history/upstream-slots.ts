import type { CallPriority } from './quota-ledger.js';

/**
 * At most `size` upstream calls open at once (CONNECT_CONCURRENCY): a 90-day question does not open
 * thirteen connections to the partner's upstream at the same moment. Waiting calls start in order,
 * every interactive one before any background one; background work never holds the last slot while
 * `size` > 1, so a question never waits behind it for a slot.
 */
export class UpstreamSlots {
  private open = 0;
  private openBackground = 0;
  private readonly waiting: Record<CallPriority, Array<() => void>> = { interactive: [], background: [] };

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`upstream concurrency must be a positive integer, got ${size}`);
  }

  /** Calls open now. */
  get active(): number {
    return this.open;
  }

  /** Runs `call` when a slot is free for its priority; the slot is given back when it settles. */
  async run<T>(priority: CallPriority, call: () => Promise<T>): Promise<T> {
    if (this.mayStart(priority)) this.take(priority);
    // next() takes the slot for a waiting call before it wakes, so nobody else can take it meanwhile.
    else await new Promise<void>((resolve) => this.waiting[priority].push(resolve));
    try {
      return await call();
    } finally {
      this.open--;
      if (priority === 'background') this.openBackground--;
      this.next();
    }
  }

  private mayStart(priority: CallPriority): boolean {
    if (this.open >= this.size) return false;
    if (priority === 'interactive') return true;
    // Interactive calls first; background ones leave a slot free for them.
    return this.waiting.interactive.length === 0 && (this.size === 1 || this.openBackground < this.size - 1);
  }

  private take(priority: CallPriority): void {
    this.open++;
    if (priority === 'background') this.openBackground++;
  }

  private next(): void {
    for (const priority of ['interactive', 'background'] as const) {
      const queue = this.waiting[priority];
      if (queue.length && this.mayStartWaiting(priority)) {
        this.take(priority);
        (queue.shift() as () => void)();
        return;
      }
    }
  }

  private mayStartWaiting(priority: CallPriority): boolean {
    if (this.open >= this.size) return false;
    return priority === 'interactive' || this.size === 1 || this.openBackground < this.size - 1;
  }
}
