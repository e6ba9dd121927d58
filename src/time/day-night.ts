import { localHour } from './zone.js';

export type PeriodKind = 'DAY' | 'NIGHT';

/** Daytime hours in the upstream's zone: `from` inclusive, `to` exclusive (`08-20`). */
export interface DayHours {
  from: number;
  to: number;
}

export const DEFAULT_DAY_HOURS: DayHours = { from: 8, to: 20 };

/** Parses `HH-HH`; null when it is not two hours 0..24 with from < to. */
export function parseDayHours(text: string): DayHours | null {
  const m = /^(\d{1,2})-(\d{1,2})$/.exec(text.trim());
  if (!m) return null;
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from < 0 || to > 24 || from >= to) return null;
  return { from, to };
}

export function periodKindAt(instant: number, zone: string, hours: DayHours): PeriodKind {
  const hour = localHour(instant, zone);
  return hour >= hours.from && hour < hours.to ? 'DAY' : 'NIGHT';
}
