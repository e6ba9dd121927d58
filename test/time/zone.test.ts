import { describe, expect, it } from 'vitest';
import { formatIsoWithOffset, formatLocal, localDayOf, offsetAt, parseWallDateTime, startOfDay, wallToInstant } from '../../src/time/zone.js';

describe('zone-aware time', () => {
  it('parses offset-less date-times and rejects what is not one', () => {
    expect(parseWallDateTime('2019-09-26T18:29:37')).toBe(Date.UTC(2019, 8, 26, 18, 29, 37));
    expect(parseWallDateTime('2024-02-29T00:00:00.25')).toBe(Date.UTC(2024, 1, 29, 0, 0, 0, 250));
    expect(parseWallDateTime('0001-01-01T00:00:00')).toBe(Date.parse('0001-01-01T00:00:00Z'));
    for (const bad of ['2023-02-29T00:00:00', '2024-13-01T00:00:00', '2024-01-01T24:00:00', '2024-01-01 10:00:00',
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

  it('finds local days and their starts in the upstream zone, whatever the machine zone', () => {
    expect(localDayOf(Date.parse('2024-03-20T21:30:00Z'), 'Europe/Moscow')).toBe('2024-03-21');
    expect(startOfDay('2024-03-21', 'Europe/Moscow')).toBe(Date.parse('2024-03-20T21:00:00Z'));
    expect(formatLocal(Date.parse('2019-09-20T22:00:00Z'), 'Europe/Moscow')).toBe('2019-09-21T01:00:00');
  });
});
