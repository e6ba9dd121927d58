/** One call on a support line, as the history holds it. IDs are 1C-Connect UUIDs. */
export interface ServiceCall {
  callId: string;
  clientId: string | null;
  serviceUserId: string | null;
  serviceId: string | null;
  /** Epoch milliseconds: when the call was answered. */
  callTime: number;
  callerId: string | null;
  calleeId: string | null;
  callResult: CallResult;
  durationSeconds: number;
}

export type CallResult = 'SUCCESSFUL' | 'UNSUCCESSFUL';
export type CallDirection = 'INBOUND' | 'OUTBOUND' | 'UNKNOWN';

/** The upstream's CallResult: 1 is a successful call, anything else is not. */
export function callResultFromCode(code: number): CallResult {
  return code === 1 ? 'SUCCESSFUL' : 'UNSUCCESSFUL';
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
  return true;
}

/** History order: by call time, then by call ID, so pages are stable. */
export function compareServiceCalls(a: ServiceCall, b: ServiceCall): number {
  return a.callTime - b.callTime || (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0);
}
