/** The source of "now" for everything that depends on time: quota windows, day/night, freshness. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to: tests shift hours and day/night without waiting. */
export class ManualClock implements Clock {
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  set(instant: number | Date | string): void {
    this.current = typeof instant === 'number' ? instant : new Date(instant).getTime();
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
