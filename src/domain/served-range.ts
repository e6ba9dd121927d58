/**
 * The calendar range this server serves, as wall time in CONNECT_TIMEZONE: local days from
 * 2000-01-01 up to and excluding 2100-01-01. 1C-Connect holds no history before it, and a bound
 * keeps every loop over days finite. GraphQL periods outside it are refused as BAD_USER_INPUT; an
 * upstream CallTime outside it is a decode error naming its row and column, so every call accepted
 * can be selected by some period.
 */
export const SERVED_FIRST_DAY = '2000-01-01';
/** Exclusive. */
export const SERVED_END_DAY = '2100-01-01';

/** Wall time (ms, written as if UTC) of the range's bounds. */
export const SERVED_WALL_FROM = Date.UTC(2000, 0, 1);
export const SERVED_WALL_TO = Date.UTC(2100, 0, 1);

/** Is a wall time (ms as if UTC, in CONNECT_TIMEZONE) inside the served range? */
export function isServedWall(wall: number): boolean {
  return wall >= SERVED_WALL_FROM && wall < SERVED_WALL_TO;
}
