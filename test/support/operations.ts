import { graphql } from '../graphql/index.js';

export const ServiceCallsPage = graphql(`
  query ServiceCallsPage($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {
    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) {
      totalCount
      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }
      freshness { asOf stale }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { callId } }
      nodes {
        id callId clientId serviceUserId serviceId callTime callerId calleeId callResult durationSeconds
        direction specialistId
        client { id } service { id } serviceUser { id } caller { id } callee { id }
      }
    }
  }
`);

export const CallCount = graphql(`
  query CallCount($filter: ServiceCallFilter!, $maxAge: Int) {
    serviceCalls(filter: $filter, first: 0, maxAge: $maxAge) {
      totalCount
      freshness { asOf stale }
    }
  }
`);

export const FiveOverlappingPeriods = graphql(`
  query FiveOverlappingPeriods(
    $a: ServiceCallFilter!, $b: ServiceCallFilter!, $c: ServiceCallFilter!, $d: ServiceCallFilter!, $e: ServiceCallFilter!
  ) {
    a: serviceCalls(filter: $a, first: 1) { totalCount }
    b: serviceCalls(filter: $b, first: 1) { totalCount }
    c: serviceCalls(filter: $c, first: 1) { totalCount }
    d: serviceCalls(filter: $d, first: 1) { totalCount }
    e: serviceCalls(filter: $e, first: 1) { totalCount }
    same: serviceCalls(filter: $a, first: 1) { totalCount }
  }
`);

export const Quota = graphql(`
  query Quota {
    quota { periodKind limitPerHour usedLastHour remaining nextCallAt }
  }
`);

export const ServiceCallsArguments = graphql(`
  query ServiceCallsArguments($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {
    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) { totalCount }
  }
`);
