/**
 * Test helpers for the simulator: requests built with xmlbuilder2 (independent of the project's
 * envelope builder), and responses read with fast-xml-parser (independent of the project's decoder).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { create } from 'xmlbuilder2';
import {
  CORE_NS,
  HISTORY_ACTION,
  PARTNER_NS,
  SOAP_11_NS,
  SOAP_12_NS,
  XSI_NS,
  XS_NS,
} from '../../src/upstream/history-request.js';
import type { ServiceCall } from '../../src/domain/service-call.js';
import type { Simulator } from '../../src/simulator/server.js';

export type SoapVersion = '1.2' | '1.1';
export type ParamName = 'PeriodFrom' | 'PeriodTo' | 'ClientID' | 'ServiceUserID' | 'ServiceID' | 'SpecialistID' | 'CallResult';

const PARAM_TYPES: Record<ParamName, string> = {
  PeriodFrom: 'xs:dateTime',
  PeriodTo: 'xs:dateTime',
  ClientID: 'xs:string',
  ServiceUserID: 'xs:string',
  ServiceID: 'xs:string',
  SpecialistID: 'xs:string',
  CallResult: 'xs:decimal',
};

/** A request envelope like the seed's; values are written as given (dates as wall time). */
export function historyEnvelope(params: Partial<Record<ParamName, string>>, version: SoapVersion = '1.2'): string {
  const soap = version === '1.2' ? SOAP_12_NS : SOAP_11_NS;
  const xmlns = 'http://www.w3.org/2000/xmlns/';
  const envelope = create()
    .ele(soap, 'soap:Envelope')
    .att(xmlns, 'xmlns:par', PARTNER_NS)
    .att(xmlns, 'xmlns:xs', XS_NS)
    .att(xmlns, 'xmlns:xsi', XSI_NS);
  envelope.ele(soap, 'soap:Header');
  const list = envelope.ele(soap, 'soap:Body').ele(PARTNER_NS, 'par:GetHistoryOfServiceCalls').ele(PARTNER_NS, 'par:Params');
  for (const [name, value] of Object.entries(params) as [ParamName, string][]) {
    list.ele(CORE_NS, 'Property', { name }).ele(CORE_NS, 'Value').att(XSI_NS, 'xsi:type', PARAM_TYPES[name]).txt(value);
  }
  return envelope.end({ prettyPrint: true });
}

export function basicAuth(login: string, password: string): string {
  return `Basic ${Buffer.from(`${login}:${password}`, 'utf8').toString('base64')}`;
}

export function soapHeaders(version: SoapVersion): Record<string, string> {
  return version === '1.2'
    ? { 'Content-Type': `application/soap+xml; charset=utf-8; action="${HISTORY_ACTION}"` }
    : { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: `"${HISTORY_ACTION}"` };
}

export interface PostOptions {
  version?: SoapVersion;
  /** Authorization header; default: the simulator's own credentials. null sends none. */
  authorization?: string | null;
  body?: string;
  signal?: AbortSignal;
}

export function postHistory(sim: Simulator, params: Partial<Record<ParamName, string>>, options: PostOptions = {}): Promise<Response> {
  const version = options.version ?? '1.2';
  const headers: Record<string, string> = soapHeaders(version);
  const authorization = options.authorization === undefined ? basicAuth(sim.login, sim.password) : options.authorization;
  if (authorization !== null) headers['Authorization'] = authorization;
  return fetch(sim.url, {
    method: 'POST',
    headers,
    body: options.body ?? historyEnvelope(params, version),
    signal: options.signal,
  });
}

export interface ParsedCell {
  type?: string;
  nil: boolean;
  text: string;
}

export interface ParsedResponse {
  /** Namespace URI of the Envelope. */
  envelopeNs: string;
  resultCode: string;
  /** ResultData text when it is not a table. */
  resultText?: string;
  columns: { name: string; types: string[] }[];
  /** Cells by column name, in document order. */
  rows: Record<string, ParsedCell>[];
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  htmlEntities: true,
  isArray: (name) => ['Property', 'column', 'row', 'Value', 'Type'].includes(name),
});

const textOf = (node: unknown): string => {
  if (typeof node === 'string') return node;
  const text = (node as Node | undefined)?.['#text'];
  return typeof text === 'string' ? text : '';
};

export function assertWellFormed(xml: string): void {
  const verdict = XMLValidator.validate(xml);
  if (verdict !== true) throw new Error(`not well-formed: ${JSON.stringify(verdict.err)}`);
}

/** The namespace of the root Envelope (the parser drops xmlns attributes, so read it from the text). */
function envelopeNamespaceOf(xml: string): string {
  const match = /^\s*<(?:([\w.-]+):)?Envelope\b[^>]*?\sxmlns(?::([\w.-]+))?="([^"]*)"/.exec(xml);
  return match?.[3] ?? '';
}

/** Reads a GetHistoryOfServiceCalls response into plain data; throws on anything else. */
export function parseHistoryResponse(xml: string): ParsedResponse {
  assertWellFormed(xml);
  const root = parser.parse(xml) as Node;
  const envelope = root['Envelope'] as Node;
  const envelopeNs = envelopeNamespaceOf(xml);
  const body = envelope['Body'] as Node;
  const ret = (body['GetHistoryOfServiceCallsResponse'] as Node)['return'] as Node;
  const properties = ret['Property'] as Node[];
  const property = (name: string): Node => {
    const found = properties.find((p) => p['@name'] === name);
    if (!found) throw new Error(`no Property ${name}`);
    return (found['Value'] as Node[])[0] as Node;
  };
  const resultCode = textOf(property('ResultCode'));
  const data = property('ResultData');
  if (data['@type'] !== 'ValueTable') return { envelopeNs, resultCode, resultText: textOf(data), columns: [], rows: [] };
  const columns = ((data['column'] as Node[] | undefined) ?? []).map((c) => ({
    name: textOf(c['Name']),
    types: (((c['ValueType'] as Node | string | undefined) as Node | undefined)?.['Type'] as unknown[] | undefined ?? []).map(textOf),
  }));
  const rows = ((data['row'] as Node[] | undefined) ?? []).map((row) => {
    const values = row['Value'] as Node[];
    if (values.length !== columns.length) throw new Error(`row has ${values.length} cells for ${columns.length} columns`);
    const cells: Record<string, ParsedCell> = {};
    values.forEach((value, i) => {
      const nil = value['@nil'] === 'true';
      const type = value['@type'] as string | undefined;
      cells[(columns[i] as { name: string }).name] = { ...(type === undefined ? {} : { type }), nil, text: textOf(value) };
    });
    return cells;
  });
  return { envelopeNs, resultCode, columns, rows };
}

export interface ParsedFault {
  envelopeNs: string;
  code: string;
  reason: string;
}

export function parseFault(xml: string): ParsedFault {
  assertWellFormed(xml);
  const envelope = (parser.parse(xml) as Node)['Envelope'] as Node;
  const fault = (envelope['Body'] as Node)['Fault'] as Node;
  const envelopeNs = envelopeNamespaceOf(xml);
  if ('Code' in fault) {
    const code = textOf(((fault['Code'] as Node)['Value'] as unknown[])[0]);
    return { envelopeNs, code, reason: textOf((fault['Reason'] as Node)['Text']) };
  }
  return { envelopeNs, code: textOf(fault['faultcode']), reason: textOf(fault['faultstring']) };
}

/** The CallID column of a parsed table. */
export function callIdsOf(parsed: ParsedResponse): string[] {
  return parsed.rows.map((r) => r['CallID']?.text ?? '');
}

/** A call's callTime, which it must have: with realism off (the default) no call lacks one. */
export function timeOf(call: ServiceCall): number {
  if (call.callTime === null) throw new Error(`call ${call.callId} has no callTime`);
  return call.callTime;
}
