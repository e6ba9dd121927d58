/**
 * Reads an incoming GetHistoryOfServiceCalls request: SOAP 1.2 or 1.1 envelope, any prefixes
 * (elements are matched by local name; the Envelope's namespace gives the version).
 *
 * Stricter than it strictly needs to be, to catch client bugs the real service would not forgive:
 * every Value needs an xsi:type of the parameter's type, and dateTime values must be offset-less
 * wall time of the upstream's zone.
 */
import sax, { type QualifiedTag } from 'sax';
import { callResultFromCode } from '../domain/service-call.js';
import { parseWallDateTime, wallToInstant } from '../time/zone.js';
import { SOAP_11_NS, SOAP_12_NS, type HistoryRequest } from '../upstream/history-request.js';
import type { SoapVersion } from './value-table-writer.js';

export interface IncomingRequest {
  soapVersion: SoapVersion;
  /** Local name of the Body's first element, e.g. `GetHistoryOfServiceCalls`. */
  operation: string;
  params: HistoryRequest;
  /** Property names that are not parameters of the operation, in request order. */
  unknownParams: string[];
}

/** The request cannot be read; answered with a Client/Sender fault in `soapVersion` when known. */
export class RequestReadError extends Error {
  constructor(
    message: string,
    readonly soapVersion?: SoapVersion,
  ) {
    super(message);
    this.name = 'RequestReadError';
  }
}

type ParamKind = 'dateTime' | 'string' | 'decimal';

const PARAMETERS: Record<string, { key: keyof HistoryRequest; kind: ParamKind }> = {
  PeriodFrom: { key: 'periodFrom', kind: 'dateTime' },
  PeriodTo: { key: 'periodTo', kind: 'dateTime' },
  ClientID: { key: 'clientId', kind: 'string' },
  ServiceUserID: { key: 'serviceUserId', kind: 'string' },
  ServiceID: { key: 'serviceId', kind: 'string' },
  SpecialistID: { key: 'specialistId', kind: 'string' },
  CallResult: { key: 'callResult', kind: 'decimal' },
};

const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

interface PendingValue {
  property: string;
  type: string | null;
  nil: boolean;
  text: string;
}

const localOf = (qname: string): string => qname.slice(qname.indexOf(':') + 1);

function convert(name: string, kind: ParamKind, value: PendingValue, zone: string, version: SoapVersion): HistoryRequest {
  const fail = (why: string): never => {
    throw new RequestReadError(`parameter ${name}: ${why}`, version);
  };
  if (value.type === null) fail(`Value has no xsi:type (expected xs:${kind})`);
  if (localOf(value.type as string) !== kind) fail(`xsi:type ${value.type} is not xs:${kind}`);
  const text = value.text.trim();
  const { key } = PARAMETERS[name] as { key: keyof HistoryRequest };
  switch (kind) {
    case 'dateTime': {
      const wall = parseWallDateTime(text);
      if (wall === null) fail(`${JSON.stringify(text)} is not an offset-less dateTime`);
      return { [key]: wallToInstant(wall as number, zone) };
    }
    case 'decimal': {
      const callResult = callResultFromCode(Number(text));
      if ((text !== '1' && text !== '2') || callResult === null) fail(`${JSON.stringify(text)} is not 1 or 2`);
      return { [key]: callResult };
    }
    default:
      return { [key]: value.text };
  }
}

/** Parses the body; throws RequestReadError for anything that is not a readable request. */
export function readRequest(body: string, zone: string): IncomingRequest {
  const parser = sax.parser(true, { xmlns: true, position: false });
  const path: string[] = [];
  let soapVersion: SoapVersion | undefined;
  let operation: string | undefined;
  let params: HistoryRequest = {};
  const unknownParams: string[] = [];
  let property: string | null = null;
  let value: PendingValue | null = null;

  parser.onerror = (error) => {
    throw new RequestReadError(`not well-formed XML: ${error.message.split('\n')[0]}`, soapVersion);
  };
  parser.onopentag = (node) => {
    const tag = node as QualifiedTag; // xmlns mode: every tag is qualified
    const depth = path.length;
    path.push(tag.local);
    if (depth === 0) {
      if (tag.local !== 'Envelope') throw new RequestReadError(`root element is ${tag.name}, not a SOAP Envelope`);
      if (tag.uri === SOAP_12_NS) soapVersion = '1.2';
      else if (tag.uri === SOAP_11_NS) soapVersion = '1.1';
      else throw new RequestReadError(`Envelope namespace ${JSON.stringify(tag.uri)} is neither SOAP 1.2 nor 1.1`);
    } else if (depth === 2 && path[1] === 'Body' && operation === undefined) {
      operation = tag.local;
    } else if (depth === 4 && tag.local === 'Property' && path[3] === 'Params' && path[1] === 'Body') {
      const name = tag.attributes['name'];
      property = name ? name.value : null;
      if (property === null) throw new RequestReadError('a Property has no name', soapVersion);
      if (!PARAMETERS[property] && !unknownParams.includes(property)) unknownParams.push(property);
    } else if (depth === 5 && property !== null && tag.local === 'Value') {
      let type: string | null = null;
      let nil = false;
      for (const attribute of Object.values(tag.attributes)) {
        if (attribute.uri !== XSI_NS) continue;
        if (attribute.local === 'type') type = attribute.value;
        if (attribute.local === 'nil') nil = attribute.value === 'true' || attribute.value === '1';
      }
      value = { property, type, nil, text: '' };
    }
  };
  const onText = (text: string): void => {
    if (value !== null && path.length === 6) value.text += text;
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  parser.onclosetag = () => {
    const depth = path.length - 1;
    path.pop();
    if (depth === 5 && value !== null) {
      const definition = PARAMETERS[value.property];
      if (definition && !value.nil) {
        // A nil Value is an unset parameter. A repeated parameter: the last one wins.
        params = { ...params, ...convert(value.property, definition.kind, value, zone, soapVersion as SoapVersion) };
      }
      value = null;
    } else if (depth === 4) {
      property = null;
    }
  };

  try {
    parser.write(body).close();
  } catch (error) {
    if (error instanceof RequestReadError) throw error;
    throw new RequestReadError(`unreadable request: ${error instanceof Error ? error.message : String(error)}`, soapVersion);
  }
  if (soapVersion === undefined) throw new RequestReadError('empty body: no SOAP Envelope');
  if (operation === undefined) throw new RequestReadError('the SOAP Body holds no operation', soapVersion);
  return { soapVersion, operation, params, unknownParams };
}
