import { create } from 'xmlbuilder2';
import { callResultCode } from '../domain/service-call.js';
import { formatLocal } from '../time/zone.js';
import { CORE_NS, type HistoryRequest, PARTNER_NS, SOAP_12_NS, XS_NS, XSI_NS } from './history-request.js';

interface EnvelopeProperty {
  name: string;
  type: 'xs:dateTime' | 'xs:string' | 'xs:decimal';
  value: string;
}

/** The request's parameters in the seed's order, each with the seed's xsi:type; unset ones are left out. */
export function historyProperties(request: HistoryRequest, zone: string): EnvelopeProperty[] {
  const properties: EnvelopeProperty[] = [];
  const add = (name: string, type: EnvelopeProperty['type'], value: string | undefined): void => {
    if (value !== undefined) properties.push({ name, type, value });
  };
  add('PeriodFrom', 'xs:dateTime', request.periodFrom === undefined ? undefined : formatLocal(request.periodFrom, zone));
  add('PeriodTo', 'xs:dateTime', request.periodTo === undefined ? undefined : formatLocal(request.periodTo, zone));
  add('ClientID', 'xs:string', request.clientId);
  add('ServiceUserID', 'xs:string', request.serviceUserId);
  add('ServiceID', 'xs:string', request.serviceId);
  add('SpecialistID', 'xs:string', request.specialistId);
  add('CallResult', 'xs:decimal', request.callResult && String(callResultCode(request.callResult)));
  return properties;
}

/**
 * A SOAP 1.2 GetHistoryOfServiceCalls envelope of the seed's shape. Instants are written as the
 * upstream's wall time in `zone`, without an offset, as the service expects.
 */
export function buildHistoryEnvelope(request: HistoryRequest, zone: string): string {
  const doc = create({ version: '1.0', encoding: 'UTF-8' });
  const envelope = doc
    .ele(SOAP_12_NS, 'soap:Envelope')
    .att('http://www.w3.org/2000/xmlns/', 'xmlns:par', PARTNER_NS)
    .att('http://www.w3.org/2000/xmlns/', 'xmlns:xs', XS_NS)
    .att('http://www.w3.org/2000/xmlns/', 'xmlns:core', CORE_NS)
    .att('http://www.w3.org/2000/xmlns/', 'xmlns:xsi', XSI_NS);
  envelope.ele(SOAP_12_NS, 'soap:Header');
  const params = envelope
    .ele(SOAP_12_NS, 'soap:Body')
    .ele(PARTNER_NS, 'par:GetHistoryOfServiceCalls')
    .ele(PARTNER_NS, 'par:Params');
  for (const property of historyProperties(request, zone)) {
    // As in the seed: Property and Value in the core namespace by default declaration.
    params
      .ele(CORE_NS, 'Property', { xmlns: CORE_NS, name: property.name })
      .ele(CORE_NS, 'Value')
      .att(XSI_NS, 'xsi:type', property.type)
      .txt(property.value);
  }
  return doc.end({ prettyPrint: false });
}
