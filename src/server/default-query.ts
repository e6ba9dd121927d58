import { addDays, localDayOf } from '../time/zone.js';

/**
 * GraphiQL's first query: the last seven days, so it answers at once; in demo mode it says so first.
 * A closing comment shows the shape a partner gateway asks for (its own clients, our calls on them).
 */
export function defaultQuery(options: { demo: boolean; now: number; zone: string }): string {
  const today = localDayOf(options.now, options.zone);
  const banner = options.demo
    ? '# DEMO MODE: no CONNECT_URL is set, so this server answers from its built-in\n' +
      '# 1C-Connect simulator (generated calls, real quota rules). Set CONNECT_URL,\n' +
      '# CONNECT_LOGIN and CONNECT_PASSWORD to serve your own call history.\n#\n'
    : '';
  const periodFrom = `${addDays(today, -6)}T00:00:00`;
  const periodTo = `${addDays(today, 1)}T00:00:00`;
  return `${banner}# Calls of the last seven days (${options.zone}), with totals and freshness.
query LastWeek {
  serviceCalls(
    filter: { periodFrom: "${periodFrom}", periodTo: "${periodTo}" }
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

# In a partner's graph, a stitching or Federation gateway hangs these calls on the partner's own
# clients. Asked at the gateway (not here), this counts each client's calls of the week, with one
# request to this server for all of them:
#
# {
#   partnerClients {
#     name
#     serviceCalls(filter: { periodFrom: "${periodFrom}", periodTo: "${periodTo}" }) { totalCount }
#   }
# }
`;
}
