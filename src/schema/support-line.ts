import { entityEntryPoints, SupportLineRef } from './references.js';
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

entityEntryPoints(SupportLineRef, 'supportLines', { description: 'Support lines by their 1C-Connect ServiceIDs', idsDescription: 'ServiceIDs (UUIDs).' });
