/**
 * The zone code against Temporal (the @js-temporal/polyfill, a reference that shares only Intl's
 * zone data with it) over years 1..9999, DST, half-hour and LMT offsets. No wall clock, no machine zone.
 */
import { Temporal } from '@js-temporal/polyfill';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDays,
  formatIsoWithOffset,
  isIsoRepresentable,
  localDayOf,
  offsetAt,
  startOfDay,
  wallToInstant,
} from '../../src/time/zone.js';

const ZONES = ['Europe/Moscow', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'UTC'] as const;
const FIRST_WALL = Date.parse('0001-01-01T00:00:00Z');
const END_WALL = Date.parse('+010000-01-01T00:00:00Z');
const DAY = 86_400_000;
const RUNS = { numRuns: 400 };

const zone = fc.constantFrom(...ZONES);
/** Whole-millisecond wall times of years 1..9999. */
const wall = fc.integer({ min: FIRST_WALL, max: END_WALL - 1 });
/** Instants whose wall time is in years 1..9999 in every zone here (offsets stay within ±15 h). */
const instant = fc.integer({ min: FIRST_WALL + DAY, max: END_WALL - DAY });

const zdtOf = (ms: number, z: string): Temporal.ZonedDateTime => Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(z);
const offsetMsOf = (ms: number, z: string): number => zdtOf(ms, z).offsetNanoseconds / 1e6;
const isoDay = (wallMs: number): string => new Date(wallMs).toISOString().slice(0, 10);

/** Temporal's PlainDateTime of a wall time (ms as if UTC), built from its fields (no parsing of our output). */
function plainOf(wallMs: number): Temporal.PlainDateTime {
  const d = new Date(wallMs);
  return new Temporal.PlainDateTime(
    d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(),
    d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds(),
  );
}

/**
 * Instants around the zone's offset changes: a random instant, the next change Temporal finds after it
 * (when there is one before year 9999 ends), and a few seconds either side of that change.
 */
const nearChange = fc
  .record({ zone, from: fc.integer({ min: Date.parse('1850-01-01T00:00:00Z'), max: Date.parse('2200-01-01T00:00:00Z') }), delta: fc.integer({ min: -3_700_000, max: 3_700_000 }) })
  .map(({ zone: z, from, delta }) => {
    const next = zdtOf(from, z).getTimeZoneTransition('next');
    const at = next && next.epochMilliseconds < END_WALL - DAY ? next.epochMilliseconds : from;
    return { zone: z, instant: at + delta, change: at };
  });

describe('zone code against Temporal, years 1..9999', () => {
  it('gives the offset Temporal gives at any instant, LMT seconds included', () => {
    fc.assert(
      fc.property(zone, instant, (z, i) => {
        expect(offsetAt(i, z)).toBe(offsetMsOf(i, z));
      }),
      RUNS,
    );
  });

  it('gives the offset Temporal gives within an hour of every kind of change', () => {
    fc.assert(
      fc.property(nearChange, ({ zone: z, instant: i }) => {
        expect(offsetAt(i, z)).toBe(offsetMsOf(i, z));
        expect(offsetAt(i - 1, z)).toBe(offsetMsOf(i - 1, z));
      }),
      { numRuns: 1000 },
    );
  });

  it("reads a wall time as Temporal's 'compatible' disambiguation does, anywhere in years 1..9999", () => {
    fc.assert(
      fc.property(zone, wall, (z, w) => {
        const expected = plainOf(w).toZonedDateTime(z, { disambiguation: 'compatible' }).epochMilliseconds;
        expect(wallToInstant(w, z)).toBe(expected);
      }),
      RUNS,
    );
  });

  it("reads wall times in gaps and overlaps as Temporal's 'compatible' does", () => {
    fc.assert(
      fc.property(nearChange, ({ zone: z, instant: i }) => {
        // The wall times shown just before and just after a change: in a gap or an overlap when near it.
        for (const w of [i + offsetMsOf(i, z), i + offsetMsOf(i - 3_600_000, z)]) {
          const expected = plainOf(w).toZonedDateTime(z, { disambiguation: 'compatible' }).epochMilliseconds;
          expect(wallToInstant(w, z)).toBe(expected);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('names the local day of an instant, and writes it as ISO 8601 with its offset exactly when it can', () => {
    fc.assert(
      fc.property(fc.oneof(fc.record({ zone, instant }), nearChange), ({ zone: z, instant: i }) => {
        const zdt = zdtOf(i, z);
        expect(localDayOf(i, z)).toBe(zdt.toPlainDate().toString());
        const representable = zdt.offsetNanoseconds % 60e9 === 0;
        expect(isIsoRepresentable(i, z)).toBe(representable);
        if (representable) {
          const text = formatIsoWithOffset(i, z);
          // The same instant, the same wall clock reading as Temporal's, the same offset.
          expect(Temporal.Instant.from(text).epochMilliseconds).toBe(i);
          expect(text.slice(0, 19)).toBe(zdt.toPlainDateTime().toString({ smallestUnit: 'second' }));
          expect(text.endsWith(zdt.offset)).toBe(true);
        } else {
          expect(() => formatIsoWithOffset(i, z)).toThrow(RangeError);
        }
      }),
      RUNS,
    );
  });

  it("starts a day where Temporal's startOfDay does", () => {
    fc.assert(
      fc.property(zone, fc.integer({ min: FIRST_WALL / DAY + 1, max: END_WALL / DAY - 2 }), (z, dayNumber) => {
        const day = isoDay(dayNumber * DAY);
        expect(startOfDay(day, z)).toBe(Temporal.PlainDate.from(day).toZonedDateTime(z).epochMilliseconds);
      }),
      RUNS,
    );
  });

  it('counts days as Temporal does, and refuses to leave years 1..9999', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: FIRST_WALL / DAY, max: END_WALL / DAY - 1 }),
        fc.integer({ min: -4_000_000, max: 4_000_000 }),
        (dayNumber, days) => {
          const day = isoDay(dayNumber * DAY);
          const target = Temporal.PlainDate.from(day).add({ days });
          if (target.year >= 1 && target.year <= 9999) expect(addDays(day, days)).toBe(target.toString());
          else expect(() => addDays(day, days)).toThrow(RangeError);
        },
      ),
      RUNS,
    );
  });
});
