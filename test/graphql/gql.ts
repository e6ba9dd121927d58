/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query CaseCalls($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 100, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      edges { cursor node { callId callTime durationSeconds callResult } }\n    }\n    quota { usedLastHour remaining }\n  }\n": typeof types.CaseCallsDocument,
    "\n  query CallsAndQuota($filter: ServiceCallFilter!) {\n    before: quota { usedLastHour remaining }\n    serviceCalls(filter: $filter, first: 0) { totalCount }\n    after: quota { usedLastHour remaining }\n  }\n": typeof types.CallsAndQuotaDocument,
    "\n  query EconomyQuota {\n    quota { periodKind usedLastHour remaining reserve backgroundUsedLastHour maxDaysPerCall nextBackgroundAt }\n  }\n": typeof types.EconomyQuotaDocument,
    "\n  query PeriodCallIds($filter: ServiceCallFilter!) {\n    serviceCalls(filter: $filter, first: 1000) {\n      totalCount\n      nodes { callId }\n    }\n    quota { usedLastHour }\n  }\n": typeof types.PeriodCallIdsDocument,
    "\n  query ServiceCallsPage($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      freshness { asOf stale }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      edges { cursor node { callId } }\n      nodes {\n        id callId clientId serviceUserId serviceId callTime callerId calleeId callResult durationSeconds\n        direction specialistId\n        client { id } service { id } serviceUser { id } caller { id } callee { id }\n      }\n    }\n  }\n": typeof types.ServiceCallsPageDocument,
    "\n  query CallCount($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 0, maxAge: $maxAge) {\n      totalCount\n      freshness { asOf stale }\n    }\n  }\n": typeof types.CallCountDocument,
    "\n  query FiveOverlappingPeriods(\n    $a: ServiceCallFilter!, $b: ServiceCallFilter!, $c: ServiceCallFilter!, $d: ServiceCallFilter!, $e: ServiceCallFilter!\n  ) {\n    a: serviceCalls(filter: $a, first: 1) { totalCount }\n    b: serviceCalls(filter: $b, first: 1) { totalCount }\n    c: serviceCalls(filter: $c, first: 1) { totalCount }\n    d: serviceCalls(filter: $d, first: 1) { totalCount }\n    e: serviceCalls(filter: $e, first: 1) { totalCount }\n    same: serviceCalls(filter: $a, first: 1) { totalCount }\n  }\n": typeof types.FiveOverlappingPeriodsDocument,
    "\n  query Quota {\n    quota { periodKind limitPerHour usedLastHour remaining nextCallAt }\n  }\n": typeof types.QuotaDocument,
    "\n  query ServiceCallsArguments($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) { totalCount }\n  }\n": typeof types.ServiceCallsArgumentsDocument,
};
const documents: Documents = {
    "\n  query CaseCalls($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 100, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      edges { cursor node { callId callTime durationSeconds callResult } }\n    }\n    quota { usedLastHour remaining }\n  }\n": types.CaseCallsDocument,
    "\n  query CallsAndQuota($filter: ServiceCallFilter!) {\n    before: quota { usedLastHour remaining }\n    serviceCalls(filter: $filter, first: 0) { totalCount }\n    after: quota { usedLastHour remaining }\n  }\n": types.CallsAndQuotaDocument,
    "\n  query EconomyQuota {\n    quota { periodKind usedLastHour remaining reserve backgroundUsedLastHour maxDaysPerCall nextBackgroundAt }\n  }\n": types.EconomyQuotaDocument,
    "\n  query PeriodCallIds($filter: ServiceCallFilter!) {\n    serviceCalls(filter: $filter, first: 1000) {\n      totalCount\n      nodes { callId }\n    }\n    quota { usedLastHour }\n  }\n": types.PeriodCallIdsDocument,
    "\n  query ServiceCallsPage($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      freshness { asOf stale }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      edges { cursor node { callId } }\n      nodes {\n        id callId clientId serviceUserId serviceId callTime callerId calleeId callResult durationSeconds\n        direction specialistId\n        client { id } service { id } serviceUser { id } caller { id } callee { id }\n      }\n    }\n  }\n": types.ServiceCallsPageDocument,
    "\n  query CallCount($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 0, maxAge: $maxAge) {\n      totalCount\n      freshness { asOf stale }\n    }\n  }\n": types.CallCountDocument,
    "\n  query FiveOverlappingPeriods(\n    $a: ServiceCallFilter!, $b: ServiceCallFilter!, $c: ServiceCallFilter!, $d: ServiceCallFilter!, $e: ServiceCallFilter!\n  ) {\n    a: serviceCalls(filter: $a, first: 1) { totalCount }\n    b: serviceCalls(filter: $b, first: 1) { totalCount }\n    c: serviceCalls(filter: $c, first: 1) { totalCount }\n    d: serviceCalls(filter: $d, first: 1) { totalCount }\n    e: serviceCalls(filter: $e, first: 1) { totalCount }\n    same: serviceCalls(filter: $a, first: 1) { totalCount }\n  }\n": types.FiveOverlappingPeriodsDocument,
    "\n  query Quota {\n    quota { periodKind limitPerHour usedLastHour remaining nextCallAt }\n  }\n": types.QuotaDocument,
    "\n  query ServiceCallsArguments($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) { totalCount }\n  }\n": types.ServiceCallsArgumentsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CaseCalls($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 100, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      edges { cursor node { callId callTime durationSeconds callResult } }\n    }\n    quota { usedLastHour remaining }\n  }\n"): (typeof documents)["\n  query CaseCalls($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 100, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      edges { cursor node { callId callTime durationSeconds callResult } }\n    }\n    quota { usedLastHour remaining }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CallsAndQuota($filter: ServiceCallFilter!) {\n    before: quota { usedLastHour remaining }\n    serviceCalls(filter: $filter, first: 0) { totalCount }\n    after: quota { usedLastHour remaining }\n  }\n"): (typeof documents)["\n  query CallsAndQuota($filter: ServiceCallFilter!) {\n    before: quota { usedLastHour remaining }\n    serviceCalls(filter: $filter, first: 0) { totalCount }\n    after: quota { usedLastHour remaining }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EconomyQuota {\n    quota { periodKind usedLastHour remaining reserve backgroundUsedLastHour maxDaysPerCall nextBackgroundAt }\n  }\n"): (typeof documents)["\n  query EconomyQuota {\n    quota { periodKind usedLastHour remaining reserve backgroundUsedLastHour maxDaysPerCall nextBackgroundAt }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PeriodCallIds($filter: ServiceCallFilter!) {\n    serviceCalls(filter: $filter, first: 1000) {\n      totalCount\n      nodes { callId }\n    }\n    quota { usedLastHour }\n  }\n"): (typeof documents)["\n  query PeriodCallIds($filter: ServiceCallFilter!) {\n    serviceCalls(filter: $filter, first: 1000) {\n      totalCount\n      nodes { callId }\n    }\n    quota { usedLastHour }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ServiceCallsPage($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      freshness { asOf stale }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      edges { cursor node { callId } }\n      nodes {\n        id callId clientId serviceUserId serviceId callTime callerId calleeId callResult durationSeconds\n        direction specialistId\n        client { id } service { id } serviceUser { id } caller { id } callee { id }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ServiceCallsPage($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) {\n      totalCount\n      stats { total successful unsuccessful totalDurationSeconds averageDurationSeconds }\n      freshness { asOf stale }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n      edges { cursor node { callId } }\n      nodes {\n        id callId clientId serviceUserId serviceId callTime callerId calleeId callResult durationSeconds\n        direction specialistId\n        client { id } service { id } serviceUser { id } caller { id } callee { id }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CallCount($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 0, maxAge: $maxAge) {\n      totalCount\n      freshness { asOf stale }\n    }\n  }\n"): (typeof documents)["\n  query CallCount($filter: ServiceCallFilter!, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: 0, maxAge: $maxAge) {\n      totalCount\n      freshness { asOf stale }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query FiveOverlappingPeriods(\n    $a: ServiceCallFilter!, $b: ServiceCallFilter!, $c: ServiceCallFilter!, $d: ServiceCallFilter!, $e: ServiceCallFilter!\n  ) {\n    a: serviceCalls(filter: $a, first: 1) { totalCount }\n    b: serviceCalls(filter: $b, first: 1) { totalCount }\n    c: serviceCalls(filter: $c, first: 1) { totalCount }\n    d: serviceCalls(filter: $d, first: 1) { totalCount }\n    e: serviceCalls(filter: $e, first: 1) { totalCount }\n    same: serviceCalls(filter: $a, first: 1) { totalCount }\n  }\n"): (typeof documents)["\n  query FiveOverlappingPeriods(\n    $a: ServiceCallFilter!, $b: ServiceCallFilter!, $c: ServiceCallFilter!, $d: ServiceCallFilter!, $e: ServiceCallFilter!\n  ) {\n    a: serviceCalls(filter: $a, first: 1) { totalCount }\n    b: serviceCalls(filter: $b, first: 1) { totalCount }\n    c: serviceCalls(filter: $c, first: 1) { totalCount }\n    d: serviceCalls(filter: $d, first: 1) { totalCount }\n    e: serviceCalls(filter: $e, first: 1) { totalCount }\n    same: serviceCalls(filter: $a, first: 1) { totalCount }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Quota {\n    quota { periodKind limitPerHour usedLastHour remaining nextCallAt }\n  }\n"): (typeof documents)["\n  query Quota {\n    quota { periodKind limitPerHour usedLastHour remaining nextCallAt }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ServiceCallsArguments($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) { totalCount }\n  }\n"): (typeof documents)["\n  query ServiceCallsArguments($filter: ServiceCallFilter!, $first: Int, $after: String, $maxAge: Int) {\n    serviceCalls(filter: $filter, first: $first, after: $after, maxAge: $maxAge) { totalCount }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;