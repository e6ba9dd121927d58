import type { GraphQLResolveInfo } from 'graphql';
import type { HeldCall, ServiceCallFilter } from '../domain/service-call.js';
import { SERVED_END_DAY, SERVED_FIRST_DAY, SERVED_WALL_FROM, SERVED_WALL_TO } from '../domain/served-range.js';
import type { CallPosition, CallStats } from '../history/call-selection.js';
import type { PeriodAnswer, PeriodQuery } from '../history/history-service.js';
import type { CallPage } from '../history/history-store.js';
import { builder } from './builder.js';
import type { GraphQLContext } from './context.js';
import { daysOfPeriod } from '../history/fetch-planner.js';
import { instantToWall, localDayOf } from '../time/zone.js';
import { type DateTimeInput, instantOf } from './date-time-value.js';
import { badUserInput, toGraphQLError } from './graphql-errors.js';
import { selectsCalls } from './request-work.js';
import type { ClientRef } from './references.js';
import { CallResultEnum, ServiceCallRef } from './service-call.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ConnectionPage {
  answer: PeriodAnswer;
  /** The page, read from the history when a field of it is first resolved. */
  page(): Promise<CallPage>;
}

export function encodeCursor(call: HeldCall): string {
  return Buffer.from(`${call.placedAt}:${call.callId}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): CallPosition | null {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(-?\d+):(.+)$/.exec(text);
  if (!match || Buffer.from(text, 'utf8').toString('base64url') !== cursor) return null;
  return { placedAt: Number(match[1]), callId: match[2] as string };
}

/** The filters of ServiceCallFilter beside the period, each of which an entity may bind. */
export type FilterKey = 'clientId' | 'serviceUserId' | 'serviceId' | 'specialistId';

const PERIOD_DESCRIPTION =
  'The period selects calls by when they were answered (upstream CallTime). The upstream returns a call ' +
  'with the day it started ringing, so a call that rang before midnight and was answered after it is ' +
  'known only once the day before is held: an answer whose first day is held but not the day before it ' +
  'can miss calls answered early on that first day that started the evening before. A call 1C sent ' +
  'without a CallTime (its empty date) is placed at the start of the first day of the upstream period ' +
  `that returned it. Periods lie between ${SERVED_FIRST_DAY} and ${SERVED_END_DAY} in CONNECT_TIMEZONE.`;

/**
 * A filter input: the period and the filters GetHistoryOfServiceCalls offers, less those an entity
 * binds (Client.serviceCalls has no clientId: it is the client's).
 */
export function serviceCallFilterInput(name: string, description: string, omit: readonly FilterKey[]) {
  const without = new Set<string>(omit);
  return builder.inputType(name, {
    description: `${description} Filters are applied to whole cached days, so any combination costs no extra upstream call. ${PERIOD_DESCRIPTION}`,
    fields: (t) => {
      const all = {
        periodFrom: t.field({ type: 'DateTime', required: true, description: 'Calls answered (CallTime) at or after this instant.' }),
        periodTo: t.field({ type: 'DateTime', required: true, description: 'Calls answered (CallTime) before this instant.' }),
        clientId: t.id({ description: 'Only calls of this client organisation (UUID).' }),
        serviceUserId: t.id({ description: 'Only calls of this service user account (UUID).' }),
        serviceId: t.id({ description: 'Only calls on this support line (UUID).' }),
        specialistId: t.id({ description: 'Only calls where this specialist (UUID) is the caller or the callee.' }),
        callResult: t.field({ type: CallResultEnum, description: 'Only successful or only unsuccessful calls.' }),
      };
      return Object.fromEntries(Object.entries(all).filter(([key]) => !without.has(key))) as typeof all;
    },
  });
}

const ServiceCallFilterInput = serviceCallFilterInput(
  'ServiceCallFilter',
  'Which calls: a period (required) and any of the filters GetHistoryOfServiceCalls offers.',
  [],
);

const ServiceCallEdge = builder.objectRef<{ call: HeldCall }>('ServiceCallEdge').implement({
  description: 'A call with its position in the list.',
  fields: (t) => ({
    cursor: t.string({ description: 'Opaque; pass it as `after` to continue after this call.', resolve: (e) => encodeCursor(e.call) }),
    node: t.field({ type: ServiceCallRef, description: 'The call.', resolve: (e) => e.call }),
  }),
});

const PageInfo = builder.objectRef<ConnectionPage>('PageInfo').implement({
  description: 'Where this page sits in the whole filtered list.',
  // The Relay type a partner graph most likely defines too.
  shareable: true,
  fields: (t) => ({
    hasNextPage: t.boolean({ description: 'More calls follow this page.', resolve: async (p) => (await p.page()).hasNextPage }),
    hasPreviousPage: t.boolean({
      description: 'Calls of the filtered period lie at or before the `after` cursor.',
      resolve: async (p) => (await p.page()).hasPreviousPage,
    }),
    startCursor: t.string({
      nullable: true,
      description: 'Cursor of the first call of the page; null for an empty page.',
      resolve: async (p) => {
        const first = (await p.page()).calls[0];
        return first ? encodeCursor(first) : null;
      },
    }),
    endCursor: t.string({
      nullable: true,
      description: 'Cursor of the last call of the page; null for an empty page.',
      resolve: async (p) => {
        const { calls } = await p.page();
        const last = calls[calls.length - 1];
        return last ? encodeCursor(last) : null;
      },
    }),
  }),
});

const ServiceCallStats = builder.objectRef<CallStats>('ServiceCallStats').implement({
  description: 'Totals over every call of the filtered period, not only the page.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Number of calls.' }),
    successful: t.exposeInt('successful', { description: 'Number of successful calls.' }),
    unsuccessful: t.exposeInt('unsuccessful', { description: 'Number of unsuccessful calls.' }),
    totalDurationSeconds: t.exposeFloat('totalDurationSeconds', {
      description:
        'Talk time of all calls, in seconds (sum of upstream Duration). A Float, so a sum past 2^31 is served ' +
        'exactly (whole numbers are exact up to 2^53).',
    }),
    averageDurationSeconds: t.exposeFloat('averageDurationSeconds', {
      nullable: true,
      description: 'Average talk time of the successful calls, in seconds; null when there are none.',
    }),
  }),
});

const Freshness = builder.objectRef<PeriodAnswer>('Freshness').implement({
  description: 'How old the history behind an answer is.',
  fields: (t) => ({
    asOf: t.field({
      type: 'DateTime',
      description:
        'When the oldest copy of the days used that can still change (unsealed: today, recent days) was fetched from the ' +
        'upstream; when every day used is sealed (final), when the oldest of their copies was fetched.',
      resolve: (a, _args, ctx) => ({ instant: a.asOf, zone: ctx.settings.connect.timeZone }),
    }),
    stale: t.boolean({
      description: 'True when some day is older than maxAge asked for, because no upstream call could be made now.',
      resolve: (a) => a.stale,
    }),
  }),
});

export const ServiceCallConnection = builder.objectRef<ConnectionPage>('ServiceCallConnection').implement({
  description:
    'A page of calls in history order (callTime, then callId; a call without callTime at its placement), ' +
    'with totals over the whole filtered period.',
  fields: (t) => ({
    edges: t.field({
      type: [ServiceCallEdge],
      description: 'The calls of this page with their cursors.',
      resolve: async (p) => (await p.page()).calls.map((call) => ({ call })),
    }),
    nodes: t.field({
      type: [ServiceCallRef],
      description: 'The calls of this page.',
      resolve: async (p) => (await p.page()).calls,
    }),
    pageInfo: t.field({ type: PageInfo, description: 'Where this page sits.', resolve: (p) => p }),
    totalCount: t.int({ description: 'Number of calls in the whole filtered period.', resolve: async (p) => (await p.answer.stats()).total }),
    stats: t.field({ type: ServiceCallStats, description: 'Totals over the whole filtered period.', resolve: (p) => p.answer.stats() }),
    freshness: t.field({ type: Freshness, description: 'How old the history behind this answer is.', resolve: (p) => p.answer }),
  }),
});

export interface ServiceCallsArgs {
  filter: {
    periodFrom: DateTimeInput;
    periodTo: DateTimeInput;
    clientId?: string | null;
    serviceUserId?: string | null;
    serviceId?: string | null;
    specialistId?: string | null;
    callResult?: 'SUCCESSFUL' | 'UNSUCCESSFUL' | null;
  };
  first?: number | null;
  after?: string | null;
  maxAge?: number | null;
}

function uuid(argument: string, value: string | null | undefined): string | null {
  if (value == null) return null;
  if (!UUID.test(value)) throw badUserInput(argument, `${JSON.stringify(value)} is not a UUID`);
  return value.toLowerCase();
}

/** Every argument checked before any upstream work or loop over days; each failure names its argument. */
export function periodQueryOf(
  args: ServiceCallsArgs,
  ctx: GraphQLContext,
  /** Filters an entity binds (its own ID), already valid. */
  bound: ServiceCallFilter = {},
): { query: PeriodQuery; first: number; after: CallPosition | null } {
  const zone = ctx.settings.connect.timeZone;
  const { periodFrom, periodTo } = args.filter;
  // Bounds first, on the wall time as written (no offset exceeds a day), so nothing below ever sees a
  // year the calendar code was not asked to handle.
  if (!(periodFrom.wall >= SERVED_WALL_FROM - DAY_MS)) throw outOfRange('filter.periodFrom');
  if (!(periodTo.wall <= SERVED_WALL_TO + DAY_MS)) throw outOfRange('filter.periodTo');
  const from = instantOf(periodFrom, zone);
  const to = instantOf(periodTo, zone);
  if (instantToWall(from, zone) < SERVED_WALL_FROM) throw outOfRange('filter.periodFrom');
  if (instantToWall(to, zone) > SERVED_WALL_TO) throw outOfRange('filter.periodTo');
  if (from >= to) throw badUserInput('filter.periodTo', 'must be later than filter.periodFrom');
  if (to - from > ctx.settings.maxQueryDays * DAY_MS) {
    throw badUserInput('filter.periodTo', `the period may be at most ${ctx.settings.maxQueryDays} days long (MAX_QUERY_DAYS)`);
  }
  const first = args.first ?? DEFAULT_PAGE;
  if (first < 0 || first > MAX_PAGE) throw badUserInput('first', `must be between 0 and ${MAX_PAGE}`);
  const asked = args.maxAge ?? ctx.settings.cacheMaxAgeSeconds;
  if (asked < 0) throw badUserInput('maxAge', 'must not be negative');
  // A floor, so that no client (a dashboard asking maxAge: 0 every second) spends the hour on one day.
  const maxAge = Math.max(asked, ctx.settings.economy.minMaxAgeSeconds);
  const after = args.after == null ? null : decodeCursor(args.after);
  if (args.after != null && after === null) throw badUserInput('after', 'is not a cursor of this API');
  return {
    query: {
      from,
      to,
      maxAgeMs: maxAge * 1000,
      filter: {
        clientId: uuid('filter.clientId', args.filter.clientId),
        serviceUserId: uuid('filter.serviceUserId', args.filter.serviceUserId),
        serviceId: uuid('filter.serviceId', args.filter.serviceId),
        specialistId: uuid('filter.specialistId', args.filter.specialistId),
        callResult: args.filter.callResult ?? null,
        ...bound,
      },
    },
    first,
    after,
  };
}

function outOfRange(argument: string) {
  return badUserInput(argument, `the period must lie between ${SERVED_FIRST_DAY} and ${SERVED_END_DAY} (CONNECT_TIMEZONE): 1C-Connect holds no history outside it`);
}

/**
 * A page of calls for a serviceCalls field: arguments checked, the question asked through the
 * request's loader (so every field of the request shares one plan), the error typed.
 */
export async function serviceCallsPage(
  args: ServiceCallsArgs,
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  bound: ServiceCallFilter = {},
): Promise<ConnectionPage> {
  const { query, first, after } = periodQueryOf(args, ctx, bound);
  const days = daysOfPeriod(query.from, query.to, (t) => localDayOf(t, ctx.settings.connect.timeZone)).length;
  // A field that asks only for totals returns no calls, whatever its page size.
  const calls = selectsCalls(info.fieldNodes, info.fragments) ? first : 0;
  let answer: PeriodAnswer;
  try {
    answer = await ctx.periods.load(query, { days, calls });
  } catch (error) {
    throw toGraphQLError(error);
  }
  // Read when a field asks, in field resolvers: a store failure then is as typed as any other.
  const typed = (error: unknown): never => {
    throw toGraphQLError(error);
  };
  let page: Promise<CallPage> | undefined;
  let stats: Promise<CallStats> | undefined;
  return {
    answer: { ...answer, stats: () => (stats ??= answer.stats().catch(typed)) },
    page: () => (page ??= answer.page(after, first).catch(typed)),
  };
}

export const SERVICE_CALLS_NULLABILITY =
  'Null, with the error at its path, when the upstream could not provide a day it needs (QUOTA_EXHAUSTED, ' +
  'UPSTREAM_ERROR, ...): the other fields of the response are kept.';

/** The paging arguments every serviceCalls field takes beside its filter. */
export const pageArgDescriptions = {
  first: `Page size, 0 to ${MAX_PAGE}; default ${DEFAULT_PAGE}.`,
  after: 'Continue after this cursor (from edges.cursor or pageInfo.endCursor).',
  maxAge:
    'How old (seconds) a copy of an unsealed day (today, recent days) may be before it is refetched; ' +
    'default CACHE_MAX_AGE_SECONDS; a smaller value than MIN_MAX_AGE_SECONDS (default 60) is raised to it. ' +
    'Sealed days are never refetched. A day asked for in the last hour is refreshed in the background shortly ' +
    'before it would be older than this, while the quota above the reserve allows.',
} as const;

builder.queryField('serviceCalls', (t) =>
  t.field({
    type: ServiceCallConnection,
    nullable: true,
    description:
      "Calls on the partner's support lines answered in a period, filtered and paged. Answered from cached days; " +
      `only missing days, or unsealed days older than maxAge, cost upstream calls. ${SERVICE_CALLS_NULLABILITY}`,
    args: {
      filter: t.arg({ type: ServiceCallFilterInput, required: true, description: 'The period and filters.' }),
      first: t.arg.int({ description: pageArgDescriptions.first }),
      after: t.arg.string({ description: pageArgDescriptions.after }),
      maxAge: t.arg.int({ description: pageArgDescriptions.maxAge }),
    },
    resolve: (_root, args, ctx, info) => serviceCallsPage(args, ctx, info),
  }),
);

const AccountCallRoleEnum = builder.enumType('AccountCallRole', {
  description: "An account's part in a call.",
  values: {
    SPECIALIST: {
      description:
        "The partner employee who gave support: the call's specialistId (the party that is not the service user; " +
        'calls whose direction is UNKNOWN have none).',
    },
    SERVICE_USER: { description: 'The account that received support (upstream ServiceUserID).' },
    ANY: { description: 'Either: the service user, the caller or the callee.' },
  } as const,
});

/**
 * `serviceCalls` on an entity of the partner graph: the calls bound to its ID, through the same
 * per-request loader as Query.serviceCalls, so the questions of a gateway's whole batch form one plan.
 */
export function entityServiceCallsField(
  ref: typeof ClientRef,
  filter: ReturnType<typeof serviceCallFilterInput>,
  options: { description: string; bind: (id: string, role: 'SPECIALIST' | 'SERVICE_USER' | 'ANY') => ServiceCallFilter; withRole?: boolean },
): void {
  builder.objectField(ref, 'serviceCalls', (t) =>
    t.field({
      type: ServiceCallConnection,
      nullable: true,
      description: `${options.description} ${SERVICE_CALLS_NULLABILITY}`,
      args: {
        filter: t.arg({ type: filter, required: true, description: 'The period and the other filters.' }),
        ...(options.withRole
          ? { role: t.arg({ type: AccountCallRoleEnum, defaultValue: 'ANY', required: true, description: "The account's part in the call; default ANY." }) }
          : {}),
        first: t.arg.int({ description: pageArgDescriptions.first }),
        after: t.arg.string({ description: pageArgDescriptions.after }),
        maxAge: t.arg.int({ description: pageArgDescriptions.maxAge }),
      },
      resolve: (parent, args, ctx, info) => {
        const role = (args as { role?: 'SPECIALIST' | 'SERVICE_USER' | 'ANY' }).role ?? 'ANY';
        return serviceCallsPage(args, ctx, info, options.bind(parent.id, role));
      },
    }),
  );
}
