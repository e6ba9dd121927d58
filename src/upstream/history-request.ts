import type { CallResult } from '../domain/service-call.js';

/** The parameters of one GetHistoryOfServiceCalls call; unset ones are left out of the envelope. */
export interface HistoryRequest {
  /** Calls that started at or after this instant (epoch ms). */
  periodFrom?: number;
  /** Calls that started before this instant (epoch ms). */
  periodTo?: number;
  clientId?: string;
  serviceUserId?: string;
  serviceId?: string;
  specialistId?: string;
  callResult?: CallResult;
}

export const SOAP_12_NS = 'http://www.w3.org/2003/05/soap-envelope';
export const SOAP_11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const PARTNER_NS = 'http://buhphone.com/PartnerWebAPI2';
export const CORE_NS = 'http://v8.1c.ru/8.1/data/core';
export const XS_NS = 'http://www.w3.org/2001/XMLSchema';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
export const HISTORY_ACTION = 'http://buhphone.com/PartnerWebAPI2#PartnerWebAPI2:GetHistoryOfServiceCalls';
