/**
 * Wall-clock time in a named IANA zone (the upstream's CONNECT_TIMEZONE), from instants and back.
 * Built on Intl so DST rules come from the platform; offsets are cached per quarter hour because
 * the decoder converts every row's CallTime.
 */

const MINUTE = 60_000;
const QUARTER_HOUR = 15 * MINUTE;
export const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCaches = new Map<string, Map<number, number>>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(zone: string): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

function computeOffset(instant: number, zone: string): number {
  const parts = formatterFor(zone).formatToParts(new Date(instant));
  const field = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(field('year'), field('month') - 1, field('day'), field('hour'), field('minute'), field('second'));
  return wall - Math.floor(instant / 1000) * 1000;
}

/** Milliseconds to add to an instant to get the zone's wall clock at that instant. */
export function offsetAt(instant: number, zone: string): number {
  let cache = offsetCaches.get(zone);
  if (!cache) {
    cache = new Map();
    offsetCaches.set(zone, cache);
  }
  // Most days have one offset all day: one entry per day then, per quarter hour only on a day
  // whose offset changes (a DST switch).
  const day = Math.floor(instant / DAY_MS);
  let offset = cache.get(day);
  if (offset === undefined) {
    const start = computeOffset(day * DAY_MS, zone);
    const end = computeOffset((day + 1) * DAY_MS - QUARTER_HOUR, zone);
    offset = start === end ? start : Number.NaN;
    if (cache.size > 100_000) cache.clear();
    cache.set(day, offset);
  }
  if (!Number.isNaN(offset)) return offset;
  return computeOffset(Math.floor(instant / QUARTER_HOUR) * QUARTER_HOUR, zone);
}

/**
 * The instant at which the zone's wall clock shows `wall` (wall time written as if it were UTC).
 * In a DST gap the later offset wins; in an overlap, the earlier instant.
 */
export function wallToInstant(wall: number, zone: string): number {
  const first = wall - offsetAt(wall, zone);
  const second = wall - offsetAt(first, zone);
  return second;
}

export function instantToWall(instant: number, zone: string): number {
  return instant + offsetAt(instant, zone);
}

const DIGIT_0 = 48;

/** The number written by the ASCII digits text[from..to), or -1 when one is not a digit. */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * `2019-09-26T18:29:37` (optionally with a fraction) as wall time (ms, as if UTC), or null when it
 * is not a real date-time. Read by hand: the decoder converts one per row.
 */
export function parseWallDateTime(text: string): number | null {
  if (text.length < 19 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) {
    return null;
  }
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  const second = digits(text, 17, 19);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return null;
  }
  let fraction = 0;
  if (text.length > 19) {
    if (text.charCodeAt(19) !== 46 || text.length === 20 || text.length > 29) return null;
    const value = digits(text, 20, text.length);
    if (value < 0) return null;
    fraction = Math.floor((value / 10 ** (text.length - 20)) * 1000);
  }
  // Date.UTC rolls 31 February over into March; a real date is at most its month's length.
  if (day > 28 && day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  // Date.UTC reads years 0..99 as 1900..1999 (1C's empty date is 0001-01-01).
  return year < 100 ? new Date(wall).setUTCFullYear(year) : wall;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Wall time as `YYYY-MM-DDTHH:mm:ss`, the upstream's offset-less form. */
export function formatWall(wall: number): string {
  const d = new Date(wall);
  return (
    `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
  );
}

/** The instant as the zone's wall time without an offset: what the upstream reads and writes. */
export function formatLocal(instant: number, zone: string): string {
  return formatWall(instantToWall(instant, zone));
}

const isoCaches = new Map<string, Map<number, string>>();
const ISO_CACHE_SIZE = 100_000;

/** ISO 8601 with the zone's offset, e.g. `2019-09-26T18:29:37+03:00`. Remembered: pages of held calls repeat. */
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

function isoWithOffset(instant: number, zone: string): string {
  const offset = offsetAt(instant, zone);
  const ms = new Date(instant).getUTCMilliseconds();
  const base = formatWall(instant + offset) + (ms ? `.${String(ms).padStart(3, '0')}` : '');
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / MINUTE;
  return `${base}${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

/** A calendar day of the zone, `YYYY-MM-DD`. */
export type LocalDay = string;

export function localDayOf(instant: number, zone: string): LocalDay {
  return formatWall(instantToWall(instant, zone)).slice(0, 10);
}

export function addDays(day: LocalDay, days: number): LocalDay {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The instant the day starts in the zone. */
export function startOfDay(day: LocalDay, zone: string): number {
  return wallToInstant(Date.parse(`${day}T00:00:00Z`), zone);
}

/** The zone's wall-clock hour (0..23) at an instant. */
export function localHour(instant: number, zone: string): number {
  return new Date(instantToWall(instant, zone)).getUTCHours();
}
