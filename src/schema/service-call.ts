import { directionOf, type ServiceCall, specialistOf } from '../domain/service-call.js';
import { builder } from './builder.js';
import { AccountRef, ClientRef, reference, SupportLineRef } from './references.js';

export const CallResultEnum = builder.enumType('CallResult', {
  description: 'How a call ended, as the upstream reports it.',
  values: {
    SUCCESSFUL: { description: 'The call was answered and talked through (upstream CallResult 1).' },
    UNSUCCESSFUL: { description: 'Every other outcome: missed, rejected, failed (upstream CallResult 2).' },
  } as const,
});

export const CallDirectionEnum = builder.enumType('CallDirection', {
  description: 'Who called whom, seen from the support line.',
  values: {
    INBOUND: { description: 'The service user called the specialist.' },
    OUTBOUND: { description: 'The specialist called the service user.' },
    UNKNOWN: { description: 'Neither party is the service user, or the service user is not known.' },
  } as const,
});

export const ServiceCallRef = builder.objectRef<ServiceCall>('ServiceCall').implement({
  description: 'One call on a support line, from the history of 1C-Connect (GetHistoryOfServiceCalls).',
  fields: (t) => ({
    id: t.exposeID('callId', { description: 'Globally unique ID of the call; the same as callId.' }),
    callId: t.exposeID('callId', { description: 'The 1C-Connect CallID (UUID).' }),
    clientId: t.exposeID('clientId', { nullable: true, description: 'The client organisation, when known.' }),
    serviceUserId: t.exposeID('serviceUserId', {
      nullable: true,
      description: 'The account that received support (the voice partner), when known.',
    }),
    serviceId: t.exposeID('serviceId', { nullable: true, description: 'The support line, when known.' }),
    callTime: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the call was answered (upstream CallTime). Null when 1C sent its empty date 0001-01-01T00:00:00 ' +
        '(a date never set, e.g. a call never answered): the call is then listed at the start of the first day ' +
        'of the upstream period that returned it.',
      resolve: (call, _args, ctx) => (call.callTime === null ? null : { instant: call.callTime, zone: ctx.settings.connect.timeZone }),
    }),
    callerId: t.exposeID('callerId', { nullable: true, description: 'The account that called, when known.' }),
    calleeId: t.exposeID('calleeId', { nullable: true, description: 'The account that was called, when known.' }),
    callResult: t.field({ type: CallResultEnum, description: 'How the call ended.', resolve: (call) => call.callResult }),
    durationSeconds: t.exposeInt('durationSeconds', { description: 'Talk time in seconds (0 for unsuccessful calls).' }),
    direction: t.field({
      type: CallDirectionEnum,
      description: 'INBOUND when the service user is the caller, OUTBOUND when the callee, else UNKNOWN.',
      resolve: (call) => directionOf(call),
    }),
    specialistId: t.id({
      nullable: true,
      description: 'The partner employee on the call: the party that is not the service user; null when the direction is UNKNOWN.',
      resolve: (call) => specialistOf(call),
    }),
    client: t.field({
      type: ClientRef,
      nullable: true,
      description: 'The client organisation, as a reference.',
      resolve: (call) => reference(call.clientId),
    }),
    service: t.field({
      type: SupportLineRef,
      nullable: true,
      description: 'The support line, as a reference.',
      resolve: (call) => reference(call.serviceId),
    }),
    serviceUser: t.field({
      type: AccountRef,
      nullable: true,
      description: 'The account that received support, as a reference.',
      resolve: (call) => reference(call.serviceUserId),
    }),
    caller: t.field({ type: AccountRef, nullable: true, description: 'Who called, as a reference.', resolve: (call) => reference(call.callerId) }),
    callee: t.field({ type: AccountRef, nullable: true, description: 'Who was called, as a reference.', resolve: (call) => reference(call.calleeId) }),
  }),
});
