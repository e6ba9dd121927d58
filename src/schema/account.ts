import { builder } from './builder.js';
import { AccountRef, referencesOf } from './references.js';
import { entityServiceCallsField, serviceCallFilterInput } from './service-call-connection.js';

AccountRef.implement({
  description: 'A 1C-Connect account: a service user who gets support, or a specialist who gives it.',
  fields: (t) => ({ id: t.exposeID('id', { description: 'The 1C-Connect AccountID (UUID).' }) }),
});

entityServiceCallsField(
  AccountRef,
  serviceCallFilterInput(
    'AccountServiceCallFilter',
    "Which of the account's calls: a period (required) and the other filters (its role is the field's `role`).",
    ['serviceUserId', 'specialistId'],
  ),
  {
    description: "The account's calls answered in a period, in the role asked for, filtered and paged.",
    withRole: true,
    bind: (id, role) => (role === 'SPECIALIST' ? { onCallSpecialistId: id } : role === 'SERVICE_USER' ? { serviceUserId: id } : { partyId: id }),
  },
);

builder.asEntity(AccountRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: ({ id }) => referencesOf([id])[0] ?? null,
});

builder.queryField('accounts', (t) =>
  t.field({
    type: [AccountRef],
    nullable: { list: false, items: true },
    description:
      'Accounts by their 1C-Connect IDs, one per ID in order (null for an ID that is not a UUID), without any ' +
      'I/O: the stitching entry point for Account.',
    args: { ids: t.arg.idList({ required: true, description: 'Account IDs (UUIDs).' }) },
    resolve: (_root, { ids }) => referencesOf(ids),
  }),
);
