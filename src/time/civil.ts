/**
 * Exact proleptic Gregorian calendar arithmetic for years 1..9999, on wall time: milliseconds written
 * as if UTC (`Date.UTC` would read years 0..99 as 1900..1999, so it is not used to build values).
 */

export const DAY_MS = 86_400_000;

/** The years every date and wall time here is exact for: what a 4-digit ISO 8601 year can write. */
export const MIN_YEAR = 1;
export const MAX_YEAR = 9999;

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). Integer arithmetic only
 * (H. Hinnant's days_from_civil), so every year is read as written.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in a month (1..12) of a proleptic Gregorian year (astronomical numbering: 0 is 1 BCE). */
export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (MONTH_DAYS[month - 1] as number);
}

/** Wall time (ms as if UTC) of a date and time; no range check. */
export function wallOf(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000 + ms;
}

/** 0001-01-01T00:00:00, the first wall time of the exact range; also 1C's empty date. */
export const MIN_WALL = wallOf(MIN_YEAR, 1, 1);
/** 10000-01-01T00:00:00, the first wall time past the exact range (exclusive bound). */
export const END_WALL = wallOf(MAX_YEAR + 1, 1, 1);

/** Is a wall time (ms as if UTC) a whole millisecond in years 1..9999? */
export function isWallInRange(wall: number): boolean {
  return Number.isInteger(wall) && wall >= MIN_WALL && wall < END_WALL;
}

function rangeError(wall: number): RangeError {
  const what = Number.isFinite(wall) ? new Date(wall).toISOString() : String(wall);
  return new RangeError(`wall time ${what} is outside years ${MIN_YEAR}..${MAX_YEAR}`);
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));
const pad4 = (n: number): string => (n >= 1000 ? String(n) : String(n).padStart(4, '0'));

/** `YYYY-MM-DD` of a wall time; throws RangeError outside years 1..9999 rather than write another year. */
export function formatWallDate(wall: number): string {
  if (!isWallInRange(wall)) throw rangeError(wall);
  const d = new Date(wall);
  return `${pad4(d.getUTCFullYear())}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

/**
 * `YYYY-MM-DDThh:mm:ss` of a wall time, milliseconds dropped (the upstream's offset-less form);
 * throws RangeError outside years 1..9999.
 */
export function formatWall(wall: number): string {
  if (!isWallInRange(wall)) throw rangeError(wall);
  const d = new Date(wall);
  return (
    `${pad4(d.getUTCFullYear())}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}` +
    `T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
  );
}

/** `.sss` of a wall time or instant's milliseconds, or '' when they are 0. */
export function formatMillis(ms: number): string {
  const part = ((ms % 1000) + 1000) % 1000;
  return part ? `.${String(part).padStart(3, '0')}` : '';
}

const DAY_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Wall time (ms) of the midnight starting a calendar day `YYYY-MM-DD` (years 0001..9999), or null
 * when the text is not such a real day.
 */
export function parseDay(day: string): number | null {
  const match = DAY_TEXT.exec(day);
  if (!match) return null;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const date = Number(match[3]);
  if (year < MIN_YEAR || month < 1 || month > 12 || date < 1 || date > daysInMonth(year, month)) return null;
  return wallOf(year, month, date);
}
