import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { buildHistoryEnvelope } from '../../src/upstream/envelope.js';

/** Reads an envelope with an independent parser: the Property list as name, type, value. */
function properties(xml: string): Array<{ name: string; type: string; value: string }> {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    removeNSPrefix: true,
    parseTagValue: false,
    isArray: (name) => name === 'Property',
  });
  const doc = parser.parse(xml);
  const list = doc.Envelope.Body.GetHistoryOfServiceCalls.Params.Property as Array<{
    '@name': string;
    Value: { '@type': string; '#text': string };
  }>;
  return list.map((p) => ({ name: p['@name'], type: p.Value['@type'], value: p.Value['#text'] }));
}

const seed = readFileSync(new URL('../fixtures/seed-request.xml', import.meta.url), 'utf8');

describe('GetHistoryOfServiceCalls envelope', () => {
  it("rebuilds the seed's example request parameter for parameter", () => {
    const built = buildHistoryEnvelope(
      {
        // 2019-09-21T01:00:00 and 2019-09-27T01:00:00 Moscow time (UTC+3)
        periodFrom: Date.UTC(2019, 8, 20, 22, 0, 0),
        periodTo: Date.UTC(2019, 8, 26, 22, 0, 0),
        clientId: '90028e2b-2003-11e7-80e6-0025904f970f',
        serviceUserId: '0e0a9b78-ee6b-4f6c-2003-ca248f7f9baf',
        serviceId: 'fbe839ae-2003-2003-80e6-0025904f970f',
        specialistId: '79d4067b-6f12-451a-8efb-2003d6a61c1e',
        callResult: 'SUCCESSFUL',
      },
      'Europe/Moscow',
    );
    expect(properties(built)).toEqual(properties(seed));
    expect(properties(built).map((p) => p.name)).toEqual([
      'PeriodFrom', 'PeriodTo', 'ClientID', 'ServiceUserID', 'ServiceID', 'SpecialistID', 'CallResult',
    ]);
  });

  it('uses the seed namespaces: SOAP 1.2, par for the operation, core as default for Property', () => {
    const built = buildHistoryEnvelope({ periodFrom: 0 }, 'Europe/Moscow');
    expect(built).toContain('<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"');
    expect(built).toContain('<par:GetHistoryOfServiceCalls><par:Params>');
    expect(built).toContain('<Property xmlns="http://v8.1c.ru/8.1/data/core" name="PeriodFrom">');
    expect(built).toContain('<soap:Header/>');
  });

  it('leaves unset parameters out and writes CallResult 2 for unsuccessful calls', () => {
    const built = buildHistoryEnvelope(
      { periodTo: Date.UTC(2024, 0, 1, 12), callResult: 'UNSUCCESSFUL' },
      'Europe/Moscow',
    );
    expect(properties(built)).toEqual([
      { name: 'PeriodTo', type: 'xs:dateTime', value: '2024-01-01T15:00:00' },
      { name: 'CallResult', type: 'xs:decimal', value: '2' },
    ]);
  });

  it('writes periods in the configured zone without an offset', () => {
    const instant = Date.UTC(2024, 6, 1, 6, 30, 15);
    const [moscow] = properties(buildHistoryEnvelope({ periodFrom: instant }, 'Europe/Moscow'));
    const [berlin] = properties(buildHistoryEnvelope({ periodFrom: instant }, 'Europe/Berlin'));
    expect(moscow?.value).toBe('2024-07-01T09:30:15');
    expect(berlin?.value).toBe('2024-07-01T08:30:15'); // summer time, UTC+2
  });

  it('escapes markup in values through the builder', () => {
    const hostile = 'a&b<c>"d\'</Value><Value>';
    const built = buildHistoryEnvelope({ clientId: hostile }, 'Europe/Moscow');
    expect(properties(built)).toEqual([{ name: 'ClientID', type: 'xs:string', value: hostile }]);
    expect(built).not.toContain('</Value><Value>');
  });
});
