/**
 * The seeded dashboard workload of bench/economy: which questions are asked at each 30-second step
 * of 2024-03-21 (a Thursday) 04:00–12:00 Moscow time. The same on every run (src/simulator/random.ts).
 *
 * - 4 dashboards, each polling every minute (two at :00, two at :30 of each minute), with a filter of
 *   its own (none / a client / a support line / a line's missed calls): "today" (today 00:00 to now,
 *   or to tomorrow 00:00) and "this week" (the ISO week's Monday 00:00 to now), maxAge 900 s,
 *   totalCount + stats + freshness + the first 20 calls.
 * - Reports, 2–4 an hour: a past complete ISO week or calendar month within the last 90 days, with a
 *   mixed filter, 1–3 pages of 20/50/100 calls through `after`.
 * - A 90-day question (ending yesterday, or today at now): the first within the first (night) hour,
 *   then every 60–120 minutes.
 */
import type { SimulatedHistory } from '../src/simulator/dataset.js';
import { Random } from '../src/simulator/random.js';
import { addDays, DAY_MS, type LocalDay, localDayOf, startOfDay } from '../src/time/zone.js';

export const ZONE = 'Europe/Moscow';
const HOUR = 3_600_000;
const TODAY: LocalDay = '2024-03-21';
/** Monday of TODAY's ISO week. */
const MONDAY: LocalDay = '2024-03-18';
/** How far back the reports and the 90-day questions reach. */
const LOOKBACK_DAYS = 90;

export const WORKLOAD = {
  today: TODAY,
  start: startOfDay(TODAY, ZONE) + 4 * HOUR,
  end: startOfDay(TODAY, ZONE) + 12 * HOUR,
  stepMs: 30_000,
  description:
    `${TODAY} (a Thursday) 04:00-12:00 Moscow (night to 08:00, then day) in 30-s steps: 4 dashboards polling today and ` +
    'this week every minute (maxAge 900 s), 2-4 weekly/monthly reports an hour (1-3 pages), a 90-day question every 1-2 h',
};

export type QuestionKind = 'today' | 'week' | 'weekly report' | 'monthly report' | '90 days';

/** One question as a dashboard or a report asks it: its pages are asked one after another, through `after`. */
export interface Question {
  kind: QuestionKind;
  /** [from, to), epoch ms. */
  from: number;
  to: number;
  filter: Record<string, string>;
  first: number;
  /** Pages asked at most (fewer when the last one has no next page). */
  pages: number;
  maxAgeSeconds: number;
}

/** The local days a period [from, to) touches (the days the server holds it by). */
export function daysOf(from: number, to: number): LocalDay[] {
  const days: LocalDay[] = [];
  for (let day = localDayOf(from, ZONE); to > from && startOfDay(day, ZONE) < to; day = addDays(day, 1)) days.push(day);
  return days;
}

export function buildWorkload(history: SimulatedHistory, defaultMaxAgeSeconds: number): { steps: Question[][] } {
  const random = new Random('bench/economy');
  const clients = history.clients.map((c) => c.clientId);
  const lines = history.lines.map((l) => l.serviceId);
  const specialists = history.specialists.map((s) => s.specialistId);
  const dayStart = (day: LocalDay): number => startOfDay(day, ZONE);
  const stepCount = Math.round((WORKLOAD.end - WORKLOAD.start) / WORKLOAD.stepMs);
  const steps: Question[][] = Array.from({ length: stepCount }, () => []);
  const stepsPerHour = HOUR / WORKLOAD.stepMs;

  const dashboards: Array<{ phase: number; filter: Record<string, string>; todayToMidnight: boolean }> = [
    { phase: 0, filter: {}, todayToMidnight: false },
    { phase: 1, filter: { clientId: clients[0] as string }, todayToMidnight: true },
    { phase: 0, filter: { serviceId: lines[0] as string }, todayToMidnight: true },
    { phase: 1, filter: { serviceId: lines[1 % lines.length] as string, callResult: 'UNSUCCESSFUL' }, todayToMidnight: false },
  ];

  const mixedFilter = (): Record<string, string> =>
    random.pick<() => Record<string, string>>([
      () => ({}),
      () => ({ clientId: random.pick(clients.slice(0, 8)) }),
      () => ({ serviceId: random.pick(lines) }),
      () => ({ callResult: random.pick(['SUCCESSFUL', 'UNSUCCESSFUL']) }),
      () => ({ specialistId: random.pick(specialists) }),
      () => ({ serviceId: random.pick(lines), callResult: 'UNSUCCESSFUL' }),
    ])();

  const earliest = addDays(TODAY, -LOOKBACK_DAYS);
  const weeks: LocalDay[] = [];
  for (let monday = addDays(MONDAY, -7); monday >= earliest; monday = addDays(monday, -7)) weeks.push(monday);
  const months: Array<{ first: LocalDay; next: LocalDay }> = [];
  for (let next = `${TODAY.slice(0, 7)}-01`; ; ) {
    const first = `${localDayOf(dayStart(next) - DAY_MS / 2, ZONE).slice(0, 7)}-01`;
    if (first < earliest) break;
    months.push({ first, next });
    next = first;
  }

  for (let step = 0; step < stepCount; step++) {
    const now = WORKLOAD.start + step * WORKLOAD.stepMs;
    for (const d of dashboards) {
      if (step % 2 !== d.phase) continue;
      const base = { filter: d.filter, first: 20, pages: 1, maxAgeSeconds: 900 };
      steps[step]?.push({ ...base, kind: 'today', from: dayStart(TODAY), to: d.todayToMidnight ? dayStart(addDays(TODAY, 1)) : now });
      steps[step]?.push({ ...base, kind: 'week', from: dayStart(MONDAY), to: now });
    }
  }

  for (let hour = 0; hour * stepsPerHour < stepCount; hour++) {
    const count = random.int(2, 4);
    for (let i = 0; i < count; i++) {
      const step = hour * stepsPerHour + random.int(0, stepsPerHour - 1);
      const weekly = random.chance(0.6) || months.length === 0;
      const period = weekly
        ? ((monday) => ({ from: dayStart(monday), to: dayStart(addDays(monday, 7)) }))(random.pick(weeks))
        : ((month) => ({ from: dayStart(month.first), to: dayStart(month.next) }))(random.pick(months));
      steps[step]?.push({
        kind: weekly ? 'weekly report' : 'monthly report',
        ...period,
        filter: mixedFilter(),
        first: random.pick([20, 50, 100]),
        pages: random.int(1, 3),
        maxAgeSeconds: defaultMaxAgeSeconds,
      });
    }
  }

  for (let step = random.int(0, stepsPerHour - 1); step < stepCount; step += random.int(60, 120) * 2) {
    const now = WORKLOAD.start + step * WORKLOAD.stepMs;
    const endsToday = random.chance(0.5);
    steps[step]?.push({
      kind: '90 days',
      from: dayStart(addDays(TODAY, endsToday ? -(LOOKBACK_DAYS - 1) : -LOOKBACK_DAYS)),
      to: endsToday ? now : dayStart(TODAY),
      filter: random.chance(0.5) ? {} : { clientId: random.pick(clients.slice(0, 8)) },
      first: 20,
      pages: 1,
      maxAgeSeconds: defaultMaxAgeSeconds,
    });
  }
  return { steps };
}
