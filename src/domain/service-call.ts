/** One call on a support line, as the history holds it. IDs are 1C-Connect UUIDs. */
export interface ServiceCall {
  callId: string;
  clientId: string | null;
  serviceUserId: string | null;
  serviceId: string | null;
  /**
   * Epoch milliseconds: when the call was answered (upstream CallTime). Null when 1C wrote its empty
   * date `0001-01-01T00:00:00`, its mark for a date never set (a call never answered).
   */
  callTime: number | null;
  callerId: string | null;
  calleeId: string | null;
  callResult: CallResult;
  durationSeconds: number;
}

export type CallResult = 'SUCCESSFUL' | 'UNSUCCESSFUL';
export type CallDirection = 'INBOUND' | 'OUTBOUND' | 'UNKNOWN';

/** The upstream's CallResult: 1 is a successful call, 2 every other; null for a code it does not define. */
export function callResultFromCode(code: number): CallResult | null {
  return code === 1 ? 'SUCCESSFUL' : code === 2 ? 'UNSUCCESSFUL' : null;
}

export function callResultCode(result: CallResult): 1 | 2 {
  return result === 'SUCCESSFUL' ? 1 : 2;
}

/** Incoming when the service user called, outgoing when the service user was called. */
export function directionOf(call: Pick<ServiceCall, 'serviceUserId' | 'callerId' | 'calleeId'>): CallDirection {
  if (call.serviceUserId === null) return 'UNKNOWN';
  if (call.callerId === call.serviceUserId) return 'INBOUND';
  if (call.calleeId === call.serviceUserId) return 'OUTBOUND';
  return 'UNKNOWN';
}

/** The partner's employee on the call: the party that is not the service user. */
export function specialistOf(call: Pick<ServiceCall, 'serviceUserId' | 'callerId' | 'calleeId'>): string | null {
  switch (directionOf(call)) {
    case 'INBOUND':
      return call.calleeId;
    case 'OUTBOUND':
      return call.callerId;
    default:
      return null;
  }
}

/** The filters GetHistoryOfServiceCalls offers, applied by us to whole unfiltered days. */
export interface ServiceCallFilter {
  clientId?: string | null;
  serviceUserId?: string | null;
  serviceId?: string | null;
  specialistId?: string | null;
  callResult?: CallResult | null;
  /** An account in any role: the service user, the caller or the callee (Account.serviceCalls). */
  partyId?: string | null;
  /** The partner employee on the call as derived (`specialistOf`: the party that is not the service user). */
  onCallSpecialistId?: string | null;
}

/**
 * Like the upstream's SpecialistID filter, a specialist matches a call where they are the caller
 * or the callee, whatever the derived direction.
 */
export function matchesFilter(call: ServiceCall, filter: ServiceCallFilter): boolean {
  if (filter.clientId != null && call.clientId !== filter.clientId) return false;
  if (filter.serviceUserId != null && call.serviceUserId !== filter.serviceUserId) return false;
  if (filter.serviceId != null && call.serviceId !== filter.serviceId) return false;
  if (filter.callResult != null && call.callResult !== filter.callResult) return false;
  if (filter.specialistId != null && call.callerId !== filter.specialistId && call.calleeId !== filter.specialistId) {
    return false;
  }
  if (filter.onCallSpecialistId != null && specialistOf(call) !== filter.onCallSpecialistId) return false;
  const party = filter.partyId;
  if (party != null && call.serviceUserId !== party && call.callerId !== party && call.calleeId !== party) return false;
  return true;
}

/**
 * A call as the history holds it: with the instant it is placed at for period selection, ordering
 * and cursors. That is its callTime, or, when 1C sent no CallTime, the start of the first local day
 * of the upstream period that returned it (the call started in that period; nothing more is known).
 */
export interface HeldCall extends ServiceCall {
  /** Epoch milliseconds. */
  placedAt: number;
}

/** History order: by placement (callTime), then by call ID, so pages are stable. */
export function compareHeldCalls(a: HeldCall, b: HeldCall): number {
  return a.placedAt - b.placedAt || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0);
}
