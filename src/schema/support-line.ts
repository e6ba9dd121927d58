import { builder } from './builder.js';
import { referencesOf, SupportLineRef } from './references.js';
import { entityServiceCallsField, serviceCallFilterInput } from './service-call-connection.js';

SupportLineRef.implement({
  description: 'A support line of the partner (1C-Connect ServiceID).',
  fields: (t) => ({ id: t.exposeID('id', { description: 'The 1C-Connect ServiceID (UUID).' }) }),
});

entityServiceCallsField(
  SupportLineRef,
  serviceCallFilterInput('SupportLineServiceCallFilter', "Which of the line's calls: a period (required) and the other filters.", ['serviceId']),
  { description: 'The calls on this line (upstream ServiceID) answered in a period, filtered and paged.', bind: (id) => ({ serviceId: id }) },
);

builder.asEntity(SupportLineRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: ({ id }) => referencesOf([id])[0] ?? null,
});

builder.queryField('supportLines', (t) =>
  t.field({
    type: [SupportLineRef],
    nullable: { list: false, items: true },
    description:
      'Support lines by their 1C-Connect ServiceIDs, one per ID in order (null for an ID that is not a UUID), ' +
      'without any I/O: the stitching entry point for SupportLine.',
    args: { ids: t.arg.idList({ required: true, description: 'ServiceIDs (UUIDs).' }) },
    resolve: (_root, { ids }) => referencesOf(ids),
  }),
);
