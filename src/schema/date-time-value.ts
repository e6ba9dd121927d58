import { parseXsDateTime } from '../time/xs-date-time.js';
import { formatIsoWithOffset, wallToInstant } from '../time/zone.js';

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

const BARE_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** ISO 8601's basic offset (`+0300`), which xs:dateTime writes with a colon. */
const BASIC_OFFSET = /([+-]\d{2})(\d{2})$/;

/**
 * A DateTime argument: an `xs:dateTime` (what 1C and XML Schema write: `Z` or `±hh:mm` optional,
 * `24:00:00` allowed), a bare date `YYYY-MM-DD` for its midnight, or an ISO basic offset `+0300`.
 * The reason it is refused otherwise, for the client's message.
 */
export function parseDateTimeInput(text: string): DateTimeInput | string {
  const trimmed = text.trim();
  const written = BARE_DATE.test(trimmed) ? `${trimmed}T00:00:00` : /T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{4}$/.test(trimmed) ? trimmed.replace(BASIC_OFFSET, '$1:$2') : trimmed;
  const parsed = parseXsDateTime(written);
  if (!parsed.ok) return parsed.reason;
  return { wall: parsed.wall, offsetMs: parsed.offsetMs, text };
}

/** The instant meant: input without an offset is read in the upstream's zone. */
export function instantOf(input: DateTimeInput, zone: string): number {
  return input.offsetMs === null ? wallToInstant(input.wall, zone) : input.wall - input.offsetMs;
}

export function formatZonedInstant(value: ZonedInstant): string {
  return formatIsoWithOffset(value.instant, value.zone);
}
