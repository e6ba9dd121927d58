import { Temporal } from '@js-temporal/polyfill';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseXsDateTime, trimXmlSpace } from '../../src/time/xs-date-time.js';

const HOUR = 3_600_000;

describe('parseXsDateTime', () => {
  it.each([
    ['2019-09-26T18:29:37', Date.UTC(2019, 8, 26, 18, 29, 37), null],
    ['2019-09-26T18:29:37.5', Date.UTC(2019, 8, 26, 18, 29, 37, 500), null],
    ['2019-09-26T18:29:37.120000', Date.UTC(2019, 8, 26, 18, 29, 37, 120), null],
    ['2019-09-26T18:29:37Z', Date.UTC(2019, 8, 26, 18, 29, 37), 0],
    ['2019-09-26T18:29:37+03:00', Date.UTC(2019, 8, 26, 18, 29, 37), 3 * HOUR],
    ['2019-09-26T18:29:37-05:30', Date.UTC(2019, 8, 26, 18, 29, 37), -5.5 * HOUR],
    ['2019-09-26T18:29:37-00:00', Date.UTC(2019, 8, 26, 18, 29, 37), 0],
    ['2019-09-26T18:29:37+14:00', Date.UTC(2019, 8, 26, 18, 29, 37), 14 * HOUR],
    ['2019-09-26T18:29:37-14:00', Date.UTC(2019, 8, 26, 18, 29, 37), -14 * HOUR],
    ['2019-12-31T24:00:00', Date.UTC(2020, 0, 1), null],
    ['2024-02-28T24:00:00.000+03:00', Date.UTC(2024, 1, 29), 3 * HOUR],
    ['0001-01-01T00:00:00', Date.parse('0001-01-01T00:00:00Z'), null],
    ['0099-02-28T12:00:00', Date.parse('0099-02-28T12:00:00Z'), null],
    ['2000-02-29T00:00:00', Date.UTC(2000, 1, 29), null],
    ['9999-12-31T23:59:59.999', Date.parse('9999-12-31T23:59:59.999Z'), null],
    [' \t\r\n2019-09-26T18:29:37\n ', Date.UTC(2019, 8, 26, 18, 29, 37), null],
  ])('reads %j', (text, wall, offsetMs) => {
    expect(parseXsDateTime(text)).toEqual({ ok: true, wall, offsetMs });
  });

  it.each([
    ['', 'expected'],
    ['2019-09-26', 'expected'],
    ['2019-09-26 18:29:37', 'expected'],
    ['2019-09-26T18:29', 'expected'],
    ['2019-9-26T18:29:37', 'expected'],
    ['19-09-26T18:29:37', 'expected'],
    ['+2019-09-26T18:29:37', 'expected'],
    ['2019-09-26T18:29:37.', 'expected'],
    ['2019-09-26T18:29:37+03', 'expected'],
    ['2019-09-26T18:29:37+0300', 'expected'],
    ['2019-09-26T18:29:37z', 'expected'],
    ['2019-09-26T18:29:37\u00a0', 'expected'],
    ['2019-09-26t18:29:37', 'expected'],
    ['２019-09-26T18:29:37', 'expected'],
    ['0000-01-01T00:00:00', 'year 0000'],
    ['02019-09-26T18:29:37', 'leading zero'],
    ['2019-13-01T00:00:00', 'month 13'],
    ['2019-00-01T00:00:00', 'month 00'],
    ['2019-02-29T00:00:00', 'day 29 does not exist in 2019-02'],
    ['1900-02-29T00:00:00', 'day 29'],
    ['2019-04-31T00:00:00', 'day 31'],
    ['2019-09-26T25:00:00', 'hour 25'],
    ['2019-09-26T24:00:01', 'hour 24'],
    ['2019-09-26T24:00:00.001', 'hour 24'],
    ['2019-09-26T23:60:00', 'minute 60'],
    ['2019-09-26T23:59:60', 'leap seconds'],
    ['2019-09-26T18:29:37+14:01', 'offset +14:01'],
    ['2019-09-26T18:29:37-15:00', 'offset -15:00'],
    ['2019-09-26T18:29:37+03:60', 'offset +03:60'],
  ])('refuses %j, which is not an xs:dateTime, saying why', (text, reason) => {
    const parsed = parseXsDateTime(text);
    expect(parsed).toMatchObject({ ok: false, valid: false });
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });

  it.each([
    ['-0001-01-01T00:00:00', 'year -0001 is outside 1..9999'],
    ['-2019-09-26T18:29:37Z', 'year -2019'],
    ['10000-01-01T00:00:00', 'year 10000'],
    ['123456789012-01-01T00:00:00', 'year 123456789012'],
    ['9999-12-31T24:00:00', 'year 10000'],
    ['2019-09-26T18:29:37.0001', 'finer than a millisecond'],
  ])('refuses %j, a valid xs:dateTime it cannot hold exactly, saying why', (text, reason) => {
    const parsed = parseXsDateTime(text);
    expect(parsed).toMatchObject({ ok: false, valid: true });
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });

  it('drops only XML whitespace around a value', () => {
    expect(trimXmlSpace(' \t a b \r\n')).toBe('a b');
    expect(trimXmlSpace('\u00a0a')).toBe('\u00a0a');
  });
});

/**
 * A second reading of XML Schema 1.0's lexical space, written differently: one regular expression
 * for the shape, Temporal for the calendar.
 */
function reference(text: string): { ok: true; wall: number; offsetMs: number | null } | { ok: false; valid: boolean } {
  const match = /^[ \t\r\n]*(-?)(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?[ \t\r\n]*$/.exec(text);
  if (!match) return { ok: false, valid: false };
  const [, sign, yearText, mm, dd, hh, mi, ss, fraction = '', zone] = match as unknown as string[];
  if ((yearText as string).length > 4 && (yearText as string).startsWith('0')) return { ok: false, valid: false };
  if (/^0+$/.test(yearText as string)) return { ok: false, valid: false };
  const [month, day, hour, minute, second] = [mm, dd, hh, mi, ss].map(Number) as [number, number, number, number, number];
  // Temporal's calendar decides which days exist; years reduced mod 400 keep leap years (BCE astronomically).
  const year = Number(yearText);
  const reduced = sign ? 2000 - ((year - 1) % 400) : 2000 + (year % 400);
  try {
    Temporal.PlainDate.from({ year: reduced, month, day }, { overflow: 'reject' });
  } catch {
    return { ok: false, valid: false };
  }
  if (minute > 59 || second > 59 || hour > 24) return { ok: false, valid: false };
  if (hour === 24 && (minute || second || /[1-9]/.test(fraction))) return { ok: false, valid: false };
  let offsetMs: number | null = null;
  if (zone === 'Z') offsetMs = 0;
  else if (zone) {
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (om > 59 || oh * 60 + om > 14 * 60) return { ok: false, valid: false };
    offsetMs = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000 || 0;
  }
  if (sign || year > 9999 || /[1-9]/.test(fraction.slice(3))) return { ok: false, valid: true };
  let date = Temporal.PlainDate.from({ year, month, day });
  if (hour === 24) {
    date = date.add({ days: 1 });
    if (date.year > 9999) return { ok: false, valid: true };
  }
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const wall = date
    .toPlainDateTime({ hour: hour % 24, minute, second, millisecond: ms })
    .toZonedDateTime('UTC').epochMilliseconds;
  return { ok: true, wall, offsetMs };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Date-times built from fields: every year 1..9999, 24:00, fractions, every offset up to ±14:00. */
const wellFormed = fc
  .record({
    year: fc.oneof(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 9990, max: 12000 })),
    negative: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.oneof(fc.integer({ min: 0, max: 23 }), fc.constant(24)),
    minute: fc.oneof(fc.integer({ min: 0, max: 59 }), fc.constant(0)),
    second: fc.oneof(fc.integer({ min: 0, max: 59 }), fc.constant(0)),
    fraction: fc.option(fc.stringMatching(/^\d{1,7}$/), { nil: undefined }),
    zone: fc.option(
      fc.oneof(fc.constant('Z'), fc.record({ sign: fc.constantFrom('+', '-'), h: fc.integer({ min: 0, max: 15 }), m: fc.integer({ min: 0, max: 59 }) })
        .map(({ sign, h, m }) => `${sign}${pad(h, 2)}:${pad(m, 2)}`)),
      { nil: undefined },
    ),
    space: fc.constantFrom('', ' ', '\t\n'),
  })
  .map((f) =>
    `${f.space}${f.negative ? '-' : ''}${pad(f.year, 4)}-${pad(f.month, 2)}-${pad(f.day, 2)}T${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)}` +
    `${f.fraction === undefined ? '' : `.${f.fraction}`}${f.zone ?? ''}${f.space}`,
  );

/** Those, with one character replaced, removed or added: mostly not date-times any more. */
const mangled = fc
  .record({ text: wellFormed, at: fc.nat(), what: fc.constantFrom('replace', 'remove', 'insert'), char: fc.constantFrom(...'0129-+:.TZ tx\u00a0') })
  .map(({ text, at, what, char }) => {
    const i = at % (text.length + 1);
    if (what === 'remove') return text.slice(0, i) + text.slice(i + 1);
    if (what === 'insert') return text.slice(0, i) + char + text.slice(i);
    return text.slice(0, i) + char + text.slice(i + 1);
  });

describe('parseXsDateTime against a second reading of XML Schema 1.0', () => {
  it('agrees on every value: what is valid, what can be held, and the wall time and offset', () => {
    fc.assert(
      fc.property(fc.oneof(wellFormed, mangled), (text) => {
        const expected = reference(text);
        const actual = parseXsDateTime(text);
        if (expected.ok) expect(actual).toEqual(expected);
        else expect(actual).toMatchObject({ ok: false, valid: expected.valid });
      }),
      { numRuns: 3000 },
    );
  });
});
