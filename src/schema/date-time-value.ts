import { formatIsoWithOffset, parseWallDateTime, wallToInstant } from '../time/zone.js';

/** An instant with the zone it is shown in: DateTime output always carries that zone's offset. */
export interface ZonedInstant {
  instant: number;
  zone: string;
}

/** A DateTime as a client wrote it: wall time, and its offset when one was given (ms east of UTC). */
export interface DateTimeInput {
  wall: number;
  offsetMs: number | null;
  text: string;
}

const OFFSET = /(Z|[+-]\d{2}:?\d{2})$/;

export function parseDateTimeInput(text: string): DateTimeInput | null {
  const match = OFFSET.exec(text);
  const local = match ? text.slice(0, match.index) : text;
  const wall = parseWallDateTime(local.length === 10 ? `${local}T00:00:00` : local);
  if (wall === null) return null;
  if (!match) return { wall, offsetMs: null, text };
  const offset = match[1] as string;
  if (offset === 'Z') return { wall, offsetMs: 0, text };
  const digits = offset.replace(':', '');
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  if (Number(digits.slice(3, 5)) > 59 || minutes > 18 * 60) return null;
  return { wall, offsetMs: (offset.startsWith('-') ? -1 : 1) * minutes * 60_000, text };
}

/** The instant meant: input without an offset is read in the upstream's zone. */
export function instantOf(input: DateTimeInput, zone: string): number {
  return input.offsetMs === null ? wallToInstant(input.wall, zone) : input.wall - input.offsetMs;
}

export function formatZonedInstant(value: ZonedInstant): string {
  return formatIsoWithOffset(value.instant, value.zone);
}
