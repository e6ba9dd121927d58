import { AccountRef, entityEntryPoints } from './references.js';
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

entityEntryPoints(AccountRef, 'accounts', { description: 'Accounts by their 1C-Connect IDs', idsDescription: 'Account IDs (UUIDs).' });
