import { ClientRef, entityEntryPoints } from './references.js';
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

entityEntryPoints(ClientRef, 'clients', { description: 'Clients by their 1C-Connect ClientIDs', idsDescription: 'ClientIDs (UUIDs).' });
