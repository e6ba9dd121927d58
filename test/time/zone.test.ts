import { describe, expect, it } from 'vitest';
import {
  addDays,
  formatIsoWithOffset,
  formatLocal,
  isIsoRepresentable,
  localDayOf,
  localHour,
  offsetAt,
  parseWallDateTime,
  startOfDay,
  wallToInstant,
} from '../../src/time/zone.js';

const wallOf = (iso: string): number => Date.parse(`${iso}Z`);

describe('zone-aware time', () => {
  it('parses offset-less date-times, years 1..99 as written, and rejects what is not one', () => {
    expect(parseWallDateTime('2019-09-26T18:29:37')).toBe(Date.UTC(2019, 8, 26, 18, 29, 37));
    expect(parseWallDateTime('2024-02-29T00:00:00.25')).toBe(Date.UTC(2024, 1, 29, 0, 0, 0, 250));
    expect(parseWallDateTime('0001-01-01T00:00:00')).toBe(Date.parse('0001-01-01T00:00:00Z'));
    expect(parseWallDateTime('0099-12-31T23:59:59')).toBe(Date.parse('0099-12-31T23:59:59Z'));
    // 24:00:00 is valid xs:dateTime: the next day's midnight.
    expect(parseWallDateTime('2024-01-01T24:00:00')).toBe(Date.UTC(2024, 0, 2));
    for (const bad of ['2023-02-29T00:00:00', '2024-13-01T00:00:00', '2024-01-01 10:00:00',
      '2024-01-01T10:00', '2024-01-01T10:00:00+03:00', '2024-01-01T10:00:00.', 'x024-01-01T10:00:00', '']) {
      expect(parseWallDateTime(bad), bad).toBeNull();
    }
  });

  it('converts wall time and instants in a zone with DST, across both switches', () => {
    const berlin = 'Europe/Berlin';
    // 2024-03-31: 02:00 CET jumps to 03:00 CEST; 2024-10-27: 03:00 CEST falls back to 02:00 CET.
    expect(offsetAt(Date.parse('2024-03-31T00:59:59Z'), berlin)).toBe(3_600_000);
    expect(offsetAt(Date.parse('2024-03-31T01:00:00Z'), berlin)).toBe(7_200_000);
    expect(wallToInstant(Date.UTC(2024, 2, 31, 12), berlin)).toBe(Date.parse('2024-03-31T10:00:00Z'));
    expect(wallToInstant(Date.UTC(2024, 9, 27, 12), berlin)).toBe(Date.parse('2024-10-27T11:00:00Z'));
    expect(formatIsoWithOffset(Date.parse('2024-07-01T06:30:00Z'), berlin)).toBe('2024-07-01T08:30:00+02:00');
    expect(formatIsoWithOffset(Date.parse('2024-01-01T06:30:00.5Z'), berlin)).toBe('2024-01-01T07:30:00.500+01:00');
  });

  it("disambiguates like Temporal's 'compatible': the earlier instant in an overlap, past the gap in a gap", () => {
    // 02:30 happens twice on 2024-10-27 in Berlin (CEST, then CET): the first.
    expect(wallToInstant(wallOf('2024-10-27T02:30:00'), 'Europe/Berlin')).toBe(Date.parse('2024-10-27T02:30:00+02:00'));
    // 02:30 never happens on 2024-03-31: read with the offset before the gap, it is 03:30 CEST.
    expect(wallToInstant(wallOf('2024-03-31T02:30:00'), 'Europe/Berlin')).toBe(Date.parse('2024-03-31T03:30:00+02:00'));
    // The same west of Greenwich.
    expect(wallToInstant(wallOf('2024-11-03T01:30:00'), 'America/New_York')).toBe(Date.parse('2024-11-03T01:30:00-04:00'));
    expect(wallToInstant(wallOf('2024-03-10T02:30:00'), 'America/New_York')).toBe(Date.parse('2024-03-10T03:30:00-04:00'));
  });

  it('finds local days and their starts in the upstream zone, whatever the machine zone', () => {
    expect(localDayOf(Date.parse('2024-03-20T21:30:00Z'), 'Europe/Moscow')).toBe('2024-03-21');
    expect(startOfDay('2024-03-21', 'Europe/Moscow')).toBe(Date.parse('2024-03-20T21:00:00Z'));
    expect(formatLocal(Date.parse('2019-09-20T22:00:00Z'), 'Europe/Moscow')).toBe('2019-09-21T01:00:00');
    expect(localHour(Date.parse('2019-09-20T22:00:00Z'), 'Europe/Moscow')).toBe(1);
    // Lord Howe moves its clock by half an hour.
    expect(offsetAt(Date.parse('2024-07-01T00:00:00Z'), 'Australia/Lord_Howe')).toBe(10.5 * 3_600_000);
    expect(offsetAt(Date.parse('2024-01-01T00:00:00Z'), 'Australia/Lord_Howe')).toBe(11 * 3_600_000);
  });

  it('reads years 1..99 and LMT offsets with seconds exactly (Moscow was +02:30:17 before 1880)', () => {
    expect(offsetAt(Date.parse('0001-01-01T00:00:00Z'), 'Europe/Moscow')).toBe((2 * 3600 + 30 * 60 + 17) * 1000);
    expect(startOfDay('0001-01-02', 'Europe/Moscow')).toBe(Date.parse('0001-01-02T00:00:00Z') - 9017_000);
    expect(localDayOf(Date.parse('0050-06-15T12:00:00Z'), 'UTC')).toBe('0050-06-15');
    expect(formatLocal(Date.parse('0001-01-01T00:00:00Z') - 9017_000, 'Europe/Moscow')).toBe('0001-01-01T00:00:00');
  });

  it('says which instants ISO 8601 with the zone offset can write, and refuses to write the others', () => {
    const lmt = Date.parse('1850-01-01T00:00:00Z');
    expect(isIsoRepresentable(lmt, 'Europe/Moscow')).toBe(false);
    expect(() => formatIsoWithOffset(lmt, 'Europe/Moscow')).toThrow(RangeError);
    expect(isIsoRepresentable(Date.parse('2024-01-01T00:00:00Z'), 'Europe/Moscow')).toBe(true);
    expect(isIsoRepresentable(Date.parse('0001-01-01T00:00:00Z'), 'UTC')).toBe(true);
    expect(formatIsoWithOffset(Date.parse('0001-01-01T00:00:00Z'), 'UTC')).toBe('0001-01-01T00:00:00+00:00');
    expect(isIsoRepresentable(Date.parse('0001-01-01T00:00:00Z') - 1, 'UTC')).toBe(false);
    expect(isIsoRepresentable(Date.parse('9999-12-31T23:59:59.999Z'), 'UTC')).toBe(true);
    expect(isIsoRepresentable(Date.parse('9999-12-31T23:00:00Z'), 'Europe/Moscow')).toBe(false);
    expect(isIsoRepresentable(0.5, 'UTC')).toBe(false);
  });

  it('counts days over the whole range of 4-digit years, and refuses to leave it', () => {
    expect(addDays('0001-01-01', 0)).toBe('0001-01-01');
    expect(addDays('0099-12-31', 1)).toBe('0100-01-01');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('1900-02-28', 1)).toBe('1900-03-01');
    expect(addDays('9999-12-30', 1)).toBe('9999-12-31');
    expect(addDays('0001-01-01', 3_652_058)).toBe('9999-12-31');
    expect(() => addDays('9999-12-31', 1)).toThrow(RangeError);
    expect(() => addDays('0001-01-01', -1)).toThrow(RangeError);
    expect(() => addDays('2024-02-30', 1)).toThrow(RangeError);
    expect(() => addDays('2024-01-01', 0.5)).toThrow(RangeError);
    expect(() => localDayOf(Date.parse('+010000-01-01T00:00:00Z'), 'UTC')).toThrow(RangeError);
  });
});
