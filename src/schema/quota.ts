import type { QuotaState } from '../history/quota-ledger.js';
import { builder } from './builder.js';
import { toGraphQLError } from './graphql-errors.js';

const PeriodKindEnum = builder.enumType('PeriodKind', {
  description: "Which of the upstream's hourly limits is in force.",
  values: {
    DAY: { description: 'Daytime hours (CONNECT_DAY_HOURS in CONNECT_TIMEZONE): the smaller limit.' },
    NIGHT: { description: 'Outside the daytime hours: the larger limit.' },
  } as const,
});

interface QuotaView extends QuotaState {
  zone: string;
  maxDaysPerCall: number;
  nextBackgroundAt: number | null;
}

const QuotaRef = builder.objectRef<QuotaView>('Quota').implement({
  description: 'The upstream call budget of GetHistoryOfServiceCalls as this server counts it (a sliding hour).',
  fields: (t) => ({
    periodKind: t.field({ type: PeriodKindEnum, description: 'Day or night now.', resolve: (q) => q.periodKind }),
    limitPerHour: t.exposeInt('limitPerHour', { description: 'Upstream calls allowed per sliding hour now.' }),
    usedLastHour: t.exposeInt('usedLastHour', { description: 'Upstream calls made in the last 60 minutes.' }),
    remaining: t.exposeInt('remaining', {
      description: 'Calls that may still be made now (0 while an OUT_OF_LIMIT from the upstream holds calls back).',
    }),
    nextCallAt: t.field({
      type: 'DateTime',
      description: 'When the next upstream call may be made; now when one may be made now.',
      resolve: (q) => ({ instant: q.nextCallAt, zone: q.zone }),
    }),
    reserve: t.exposeInt('reserve', {
      description: 'Calls per hour kept for interactive questions now (QUOTA_RESERVE): background work spends only above them.',
    }),
    backgroundUsedLastHour: t.exposeInt('backgroundLastHour', {
      description: 'Of usedLastHour, the calls made by background work (refresh ahead, sealing, night backfill) of this server process.',
    }),
    maxDaysPerCall: t.exposeInt('maxDaysPerCall', {
      description:
        'The longest period (days) of one upstream call now: CONNECT_DAY_MAX_DAYS by day, CONNECT_NIGHT_MAX_DAYS at night ' +
        '(lowered to the daytime length, and remembered, if the upstream refused a longer night period).',
    }),
    nextBackgroundAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When background work next has an upstream call to make, as its last run saw it; null when none is due.',
      resolve: (q) => (q.nextBackgroundAt === null ? null : { instant: q.nextBackgroundAt, zone: q.zone }),
    }),
  }),
});

builder.queryField('quota', (t) =>
  t.field({
    type: QuotaRef,
    nullable: true,
    description:
      'How much of the upstream quota is left. Never calls the upstream. Resolved after every serviceCalls ' +
      'field of the same request, so it counts the upstream calls they made. Null, with STORE_UNAVAILABLE at ' +
      'its path, while a shared quota (Redis) cannot be read: the other fields of the response are kept.',
    resolve: async (_root, _args, ctx) => {
      await ctx.periods.settled();
      const now = ctx.clock.now();
      let state;
      try {
        state = await ctx.quota.state();
      } catch (error) {
        throw toGraphQLError(error);
      }
      return {
        ...state,
        zone: ctx.settings.connect.timeZone,
        maxDaysPerCall: ctx.history.maxDaysPerCallAt(now),
        nextBackgroundAt: ctx.history.nextBackgroundAt,
      };
    },
  }),
);
