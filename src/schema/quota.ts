import type { QuotaState } from '../history/quota-ledger.js';
import { builder } from './builder.js';

const PeriodKindEnum = builder.enumType('PeriodKind', {
  description: "Which of the upstream's hourly limits is in force.",
  values: {
    DAY: { description: 'Daytime hours (CONNECT_DAY_HOURS in CONNECT_TIMEZONE): the smaller limit.' },
    NIGHT: { description: 'Outside the daytime hours: the larger limit.' },
  } as const,
});

const QuotaRef = builder.objectRef<QuotaState & { zone: string }>('Quota').implement({
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
  }),
});

builder.queryField('quota', (t) =>
  t.field({
    type: QuotaRef,
    description:
      'How much of the upstream quota is left. Never calls the upstream. Resolved after every serviceCalls ' +
      'field of the same request, so it counts the upstream calls they made.',
    resolve: async (_root, _args, ctx) => {
      await ctx.periods.settled();
      return { ...ctx.ledger.state(), zone: ctx.settings.connect.timeZone };
    },
  }),
);
