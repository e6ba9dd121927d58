import { builder } from './builder.js';
import { ClientRef, referencesOf } from './references.js';
import { entityServiceCallsField, serviceCallFilterInput } from './service-call-connection.js';

ClientRef.implement({
  description: 'A client organisation of the partner, whose employees receive support (1C-Connect ClientID).',
  fields: (t) => ({ id: t.exposeID('id', { description: 'The 1C-Connect ClientID (UUID).' }) }),
});

entityServiceCallsField(
  ClientRef,
  serviceCallFilterInput('ClientServiceCallFilter', "Which of the client's calls: a period (required) and the other filters.", ['clientId']),
  { description: "The client's calls (upstream ClientID) answered in a period, filtered and paged.", bind: (id) => ({ clientId: id }) },
);

builder.asEntity(ClientRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: ({ id }) => referencesOf([id])[0] ?? null,
});

builder.queryField('clients', (t) =>
  t.field({
    type: [ClientRef],
    nullable: { list: false, items: true },
    description:
      'Clients by their 1C-Connect ClientIDs, one per ID in order (null for an ID that is not a UUID), without ' +
      "any I/O: the stitching entry point a partner gateway merges its Client on.",
    args: { ids: t.arg.idList({ required: true, description: 'ClientIDs (UUIDs).' }) },
    resolve: (_root, { ids }) => referencesOf(ids),
  }),
);
