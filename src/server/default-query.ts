import { addDays, localDayOf } from '../time/zone.js';

/** GraphiQL's first query: the last seven days, so it answers at once; in demo mode it says so first. */
export function defaultQuery(options: { demo: boolean; now: number; zone: string }): string {
  const today = localDayOf(options.now, options.zone);
  const banner = options.demo
    ? '# DEMO MODE: no CONNECT_URL is set, so this server answers from its built-in\n' +
      '# 1C-Connect simulator (generated calls, real quota rules). Set CONNECT_URL,\n' +
      '# CONNECT_LOGIN and CONNECT_PASSWORD to serve your own call history.\n#\n'
    : '';
  return `${banner}# Calls of the last seven days (${options.zone}), with totals and freshness.
query LastWeek {
  serviceCalls(
    filter: { periodFrom: "${addDays(today, -6)}T00:00:00", periodTo: "${addDays(today, 1)}T00:00:00" }
    first: 20
  ) {
    totalCount
    stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }
    freshness { asOf stale }
    pageInfo { hasNextPage endCursor }
    nodes { callId callTime direction callResult durationSeconds specialistId client { id } service { id } }
  }
  quota { periodKind limitPerHour usedLastHour remaining nextCallAt }
}
`;
}
