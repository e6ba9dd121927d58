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
  const bucket = Math.floor(instant / QUARTER_HOUR);
  let offset = cache.get(bucket);
  if (offset === undefined) {
    offset = computeOffset(bucket * QUARTER_HOUR, zone);
    if (cache.size > 100_000) cache.clear();
    cache.set(bucket, offset);
  }
  return offset;
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

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** `2019-09-26T18:29:37` as wall time (ms, as if UTC), or null when it is not a real date-time. */
export function parseWallDateTime(text: string): number | null {
  const m = LOCAL_DATE_TIME.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number, number, number, number, number, number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const fraction = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, fraction);
  // Date.UTC rolls 31 February over into March; a real date survives the round trip.
  if (new Date(wall).getUTCDate() !== day) return null;
  return wall;
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

/** ISO 8601 with the zone's offset, e.g. `2019-09-26T18:29:37+03:00`. */
export function formatIsoWithOffset(instant: number, zone: string): string {
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
