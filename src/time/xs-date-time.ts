/**
 * The lexical space of XML Schema 1.0's `xs:dateTime`, the one parser for every date-time the
 * server reads: the upstream's cells and requests, and the GraphQL layer's input. Pure: no zone, no
 * clock. XML Schema 1.0 (Second Edition, 3.2.7 and its errata), not 1.1: year 0000 does not exist.
 *
 *   '-'? yyyy '-' mm '-' dd 'T' hh ':' mm ':' ss ('.' s+)? (('+' | '-') hh ':' mm | 'Z')?
 *
 * - the year has at least 4 digits, and no leading zero when it has more;
 * - 24:00:00 (minutes, seconds and fraction all zero) is 00:00:00 of the next day;
 * - offsets lie within ±14:00; leading and trailing XML whitespace is dropped (whiteSpace collapse).
 *
 * A value that is valid but cannot be held exactly (a year outside 1..9999, a negative year, a
 * fraction finer than a millisecond) is refused with `valid: true` and a reason, never rounded.
 */
import { daysInMonth, END_WALL, isLeapYear, MAX_YEAR, MIN_YEAR, wallOf } from './civil.js';

export type XsDateTimeParse =
  | {
      readonly ok: true;
      /** Milliseconds of the written date and time as if it were UTC (the offset is not applied). */
      readonly wall: number;
      /** Milliseconds east of UTC written with the value (`Z` is 0), or null when it has none. */
      readonly offsetMs: number | null;
    }
  | {
      readonly ok: false;
      /** True when the text is a valid `xs:dateTime` that cannot be held exactly (see `reason`). */
      readonly valid: boolean;
      /** Why, for a message: e.g. `day 30 does not exist in 2024-02`. */
      readonly reason: string;
    };

const SHAPE = 'expected [-]YYYY-MM-DDThh:mm:ss[.s+][Z|(+|-)hh:mm]';
const MAX_OFFSET_MINUTES = 14 * 60;

const invalid = (reason: string): XsDateTimeParse => ({ ok: false, valid: false, reason });
const unrepresentable = (reason: string): XsDateTimeParse => ({ ok: false, valid: true, reason });

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * The text without leading and trailing XML whitespace (space, tab, CR, LF): what whiteSpace
 * collapse leaves of a value that has no inner whitespace. Other Unicode spaces are kept, as
 * XML Schema does (String.prototype.trim would drop them).
 */
export function trimXmlSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isSpace(text.charCodeAt(start))) start++;
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Two ASCII digits at `at`, or -1. */
function two(s: string, at: number): number {
  const a = s.charCodeAt(at) - 48;
  const b = s.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Parses one `xs:dateTime` (see the module comment). */
export function parseXsDateTime(text: string): XsDateTimeParse {
  const s = trimXmlSpace(text);
  const n = s.length;
  const negative = s.charCodeAt(0) === 45;
  let i = negative ? 1 : 0;
  const yearStart = i;
  while (i < n && isDigit(s.charCodeAt(i))) i++;
  const yearDigits = i - yearStart;
  if (yearDigits < 4) return invalid(SHAPE);
  if (yearDigits > 4 && s.charCodeAt(yearStart) === 48) return invalid('a year of more than 4 digits has a leading zero');
  // Years past 9 digits are only ever refused: their last 4 digits decide leap years.
  const yearText = s.slice(yearStart, i);
  const year = yearDigits <= 9 ? Number(yearText) : Number.POSITIVE_INFINITY;
  const yearMod400 = Number(yearText.slice(-4)) % 400;
  if (year === 0) return invalid('year 0000 does not exist in XML Schema 1.0');

  // -MM-DDThh:mm:ss
  const p = i;
  if (
    n < p + 15 ||
    s.charCodeAt(p) !== 45 ||
    s.charCodeAt(p + 3) !== 45 ||
    s.charCodeAt(p + 6) !== 84 ||
    s.charCodeAt(p + 9) !== 58 ||
    s.charCodeAt(p + 12) !== 58
  ) {
    return invalid(SHAPE);
  }
  const month = two(s, p + 1);
  const day = two(s, p + 4);
  const hour = two(s, p + 7);
  const minute = two(s, p + 10);
  const second = two(s, p + 13);
  if (month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return invalid(SHAPE);
  i = p + 15;

  let ms = 0;
  let fractionZero = true;
  let finerThanMs = false;
  if (i < n && s.charCodeAt(i) === 46) {
    const start = ++i;
    while (i < n && isDigit(s.charCodeAt(i))) {
      const d = s.charCodeAt(i) - 48;
      const k = i - start;
      if (k < 3) ms += d * (k === 0 ? 100 : k === 1 ? 10 : 1);
      else if (d !== 0) finerThanMs = true;
      if (d !== 0) fractionZero = false;
      i++;
    }
    if (i === start) return invalid(SHAPE);
  }

  let offsetMs: number | null = null;
  if (i < n) {
    const c = s.charCodeAt(i);
    if (c === 90 && i + 1 === n) {
      offsetMs = 0;
    } else if ((c === 43 || c === 45) && i + 6 === n && s.charCodeAt(i + 3) === 58) {
      const oh = two(s, i + 1);
      const om = two(s, i + 4);
      if (oh < 0 || om < 0) return invalid(SHAPE);
      const minutes = oh * 60 + om;
      if (om > 59 || minutes > MAX_OFFSET_MINUTES) {
        return invalid(`offset ${s.slice(i)} is outside -14:00..+14:00`);
      }
      // -00:00 is Z: no negative zero.
      offsetMs = c === 45 && minutes !== 0 ? -minutes * 60_000 : minutes * 60_000;
    } else {
      return invalid(SHAPE);
    }
  }

  // Field ranges. Negative years count astronomically (-0001 is 1 BCE, a leap year).
  if (month < 1 || month > 12) return invalid(`month ${pad2(month)} does not exist`);
  const leapYear = isLeapYear(negative ? (((1 - yearMod400) % 400) + 400) % 400 : yearMod400);
  const monthDays = month === 2 ? (leapYear ? 29 : 28) : daysInMonth(2001, month);
  if (day < 1 || day > monthDays) {
    return invalid(`day ${pad2(day)} does not exist in ${negative ? '-' : ''}${yearText}-${pad2(month)}`);
  }
  if (minute > 59) return invalid(`minute ${pad2(minute)} does not exist`);
  if (second > 59) return invalid(`second ${pad2(second)} does not exist (XML Schema 1.0 has no leap seconds)`);
  if (hour > 24) return invalid(`hour ${pad2(hour)} does not exist`);
  if (hour === 24 && (minute !== 0 || second !== 0 || !fractionZero)) {
    return invalid('hour 24 is allowed only as 24:00:00');
  }

  // Valid: can it be held exactly?
  if (negative || year > MAX_YEAR) {
    return unrepresentable(`year ${negative ? '-' : ''}${yearText} is outside ${MIN_YEAR}..${MAX_YEAR}`);
  }
  if (finerThanMs) return unrepresentable('the fraction is finer than a millisecond');
  const wall =
    hour === 24 ? wallOf(year, month, day) + 86_400_000 : wallOf(year, month, day, hour, minute, second, ms);
  if (wall >= END_WALL) return unrepresentable(`24:00:00 of ${yearText}-12-31 is in year ${year + 1}, outside ${MIN_YEAR}..${MAX_YEAR}`);
  return { ok: true, wall, offsetMs };
}
