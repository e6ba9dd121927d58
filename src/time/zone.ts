/**
 * Wall-clock time in a named IANA zone (the upstream's CONNECT_TIMEZONE), from instants and back,
 * exact for wall times in years 1..9999 (4-digit years, LMT offsets with seconds included).
 * Built on Intl so the zone rules come from the platform. Offsets are cached per UTC day because
 * the decoder converts every row's CallTime.
 *
 * Units: an instant is epoch milliseconds; a wall time is the zone's clock reading in milliseconds
 * written as if it were UTC; an offset is milliseconds east of UTC (wall = instant + offset).
 */
import { DAY_MS, formatMillis, formatWall, formatWallDate, isWallInRange, parseDay, wallOf } from './civil.js';
import { parseXsDateTime } from './xs-date-time.js';

export { DAY_MS, formatWall } from './civil.js';

const SECOND = 1000;
const MINUTE = 60_000;

interface ZoneCache {
  formatter: Intl.DateTimeFormat;
  /** Per UTC day (floor(instant / DAY_MS)): its offset when it is the same all day, NaN otherwise. */
  days: Map<number, number>;
  /** Per UTC day whose offset changes: the instants of the changes and the offsets they bring. */
  changes: Map<number, DayChanges>;
}

interface DayChanges {
  /** Offset from the start of the day up to the first change. */
  first: number;
  /** Instants (whole seconds) at which the offset changes, ascending. */
  at: number[];
  /** The offset from `at[k]` on. */
  offsets: number[];
}

const caches = new Map<string, ZoneCache>();
// The decoder asks about one zone, row after row: its cache is kept at hand.
let lastZone = '';
let lastCache: ZoneCache | undefined;
const DAY_CACHE_SIZE = 100_000;

function cacheFor(zone: string): ZoneCache {
  if (zone === lastZone && lastCache) return lastCache;
  let cache = caches.get(zone);
  if (!cache) {
    cache = {
      formatter: new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      }),
      days: new Map(),
      changes: new Map(),
    };
    caches.set(zone, cache);
  }
  lastZone = zone;
  lastCache = cache;
  return cache;
}

export function isValidTimeZone(zone: string): boolean {
  try {
    cacheFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** The offset at an instant, asked of Intl (slow: a formatToParts call). Whole seconds. */
function computeOffset(instant: number, formatter: Intl.DateTimeFormat): number {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bce = false;
  for (const part of formatter.formatToParts(instant)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value);
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
      case 'era':
        bce = part.value === 'BC' || part.value === 'B';
        break;
      default:
    }
  }
  // Intl writes 1 BCE as year 1 BC; astronomically it is year 0.
  const astronomicalYear = bce ? 1 - year : year;
  return wallOf(astronomicalYear, month, day, hour, minute, second) - Math.floor(instant / SECOND) * SECOND;
}

/**
 * Learns the offsets of a UTC day. A day whose first and last seconds share an offset is taken to
 * have it all day: tzdata has no zone that changes and changes back within one UTC day.
 */
function learnDay(cache: ZoneCache, day: number): number {
  const start = day * DAY_MS;
  const last = start + DAY_MS - SECOND;
  const first = computeOffset(start, cache.formatter);
  const end = computeOffset(last, cache.formatter);
  if (cache.days.size >= DAY_CACHE_SIZE) {
    cache.days.clear();
    cache.changes.clear();
  }
  if (first === end) {
    cache.days.set(day, first);
    return first;
  }
  // Bisect to the second of each change; several changes in one day are found one after another.
  const at: number[] = [];
  const offsets: number[] = [];
  let lo = start;
  let current = first;
  while (current !== end) {
    let hi = last;
    while (hi - lo > SECOND) {
      const mid = lo + Math.floor((hi - lo) / (2 * SECOND)) * SECOND;
      if (computeOffset(mid, cache.formatter) === current) lo = mid;
      else hi = mid;
    }
    current = computeOffset(hi, cache.formatter);
    at.push(hi);
    offsets.push(current);
    lo = hi;
  }
  cache.changes.set(day, { first, at, offsets });
  cache.days.set(day, Number.NaN);
  return Number.NaN;
}

/** Offset of the zone at an instant (ms east of UTC): wall = instant + offset. */
export function offsetAt(instant: number, zone: string): number {
  const cache = cacheFor(zone);
  const day = Math.floor(instant / DAY_MS);
  let offset = cache.days.get(day);
  if (offset === undefined) offset = learnDay(cache, day);
  if (offset === offset) return offset; // not NaN: the same all day
  let changes = cache.changes.get(day);
  if (!changes) {
    learnDay(cache, day);
    changes = cache.changes.get(day) as DayChanges;
  }
  let result = changes.first;
  for (let k = 0; k < changes.at.length && instant >= (changes.at[k] as number); k++) result = changes.offsets[k] as number;
  return result;
}

/**
 * The instant at which the zone's wall clock shows `wall`, as Temporal's 'compatible'
 * disambiguation: in an overlap (the clock set back) the earlier of the two instants; in a gap
 * (the clock set forward) the wall time is read with the offset from before the gap, so it lands
 * as far past the gap's start as it was written (02:30 in a 02:00→03:00 gap is 03:30).
 */
export function wallToInstant(wall: number, zone: string): number {
  const before = offsetAt(wall - DAY_MS, zone);
  const after = offsetAt(wall + DAY_MS, zone);
  const early = wall - before;
  if (before === after) return early;
  const late = wall - after;
  const earlyFits = offsetAt(early, zone) === before;
  const lateFits = offsetAt(late, zone) === after;
  if (earlyFits && lateFits) return Math.min(early, late);
  if (lateFits) return late;
  // earlyFits alone, or a gap: both give the wall time read with the offset from before.
  return early;
}

/** The zone's wall time (ms as if UTC) at an instant. */
export function instantToWall(instant: number, zone: string): number {
  return instant + offsetAt(instant, zone);
}

/**
 * Can the instant be written exactly as ISO 8601 with the zone's offset (`formatIsoWithOffset`)?
 * True when it is a whole millisecond, the zone's offset then is a whole number of minutes (not an
 * LMT offset such as +02:30:17) and its wall time lies in years 1..9999.
 */
export function isIsoRepresentable(instant: number, zone: string): boolean {
  if (!Number.isInteger(instant)) return false;
  const offset = offsetAt(instant, zone);
  return offset % MINUTE === 0 && isWallInRange(instant + offset);
}

/**
 * `2019-09-26T18:29:37` (an optional fraction and no offset) as wall time (ms, as if UTC), or
 * null when it is not one (or has an offset). Kept for readers of the upstream's offset-less form;
 * new code uses `parseXsDateTime`, which also says why.
 */
export function parseWallDateTime(text: string): number | null {
  const parsed = parseXsDateTime(text);
  return parsed.ok && parsed.offsetMs === null ? parsed.wall : null;
}

/** The instant as the zone's wall time without an offset: what the upstream reads and writes. */
export function formatLocal(instant: number, zone: string): string {
  return formatWall(instantToWall(instant, zone));
}

const isoCaches = new Map<string, Map<number, string>>();
const ISO_CACHE_SIZE = 100_000;

/**
 * ISO 8601 with the zone's offset, e.g. `2019-09-26T18:29:37+03:00` (milliseconds when not 0).
 * Throws RangeError when `isIsoRepresentable` is false: such an instant has no exact form here.
 * Remembered: pages of held calls repeat.
 */
export function formatIsoWithOffset(instant: number, zone: string): string {
  let cache = isoCaches.get(zone);
  if (!cache) {
    cache = new Map();
    isoCaches.set(zone, cache);
  }
  let text = cache.get(instant);
  if (text === undefined) {
    text = isoWithOffset(instant, zone);
    if (cache.size >= ISO_CACHE_SIZE) cache.clear();
    cache.set(instant, text);
  }
  return text;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

function isoWithOffset(instant: number, zone: string): string {
  const offset = offsetAt(instant, zone);
  if (offset % MINUTE !== 0 || !Number.isInteger(instant)) {
    throw new RangeError(
      `${new Date(instant).toISOString()} has no ISO 8601 form in ${zone}: its offset there is ${offset / SECOND} s, not whole minutes`,
    );
  }
  const wall = instant + offset;
  const sign = offset < 0 ? '-' : '+';
  const minutes = Math.abs(offset) / MINUTE;
  return `${formatWall(wall)}${formatMillis(wall)}${sign}${pad2(Math.floor(minutes / 60))}:${pad2(minutes % 60)}`;
}

/** A calendar day of the zone, `YYYY-MM-DD` (years 0001..9999). */
export type LocalDay = string;

/** The zone's calendar day at an instant; throws RangeError outside years 1..9999. */
export function localDayOf(instant: number, zone: string): LocalDay {
  return formatWallDate(instantToWall(instant, zone));
}

/** Wall time (ms) of the midnight that starts a day; throws RangeError for a text that is not a real day. */
export function localDayToWall(day: LocalDay): number {
  const wall = parseDay(day);
  if (wall === null) throw new RangeError(`${JSON.stringify(day)} is not a calendar day YYYY-MM-DD in years 0001..9999`);
  return wall;
}

/** The day `days` (an integer, may be negative) after `day`; throws RangeError past years 1..9999. */
export function addDays(day: LocalDay, days: number): LocalDay {
  if (!Number.isInteger(days)) throw new RangeError(`${days} is not a whole number of days`);
  return formatWallDate(localDayToWall(day) + days * DAY_MS);
}

/** The instant (epoch ms) the day starts in the zone: its first instant when midnight falls in a gap. */
export function startOfDay(day: LocalDay, zone: string): number {
  return wallToInstant(localDayToWall(day), zone);
}

/** The zone's wall-clock hour (0..23) at an instant. */
export function localHour(instant: number, zone: string): number {
  const wall = instantToWall(instant, zone);
  return Math.floor((((wall % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000);
}
