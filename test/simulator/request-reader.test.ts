import { describe, expect, it } from 'vitest';
import { readRequest, RequestReadError } from '../../src/simulator/request-reader.js';
import { historyEnvelope } from './support.js';

const ZONE = 'Europe/Moscow';

/** The seed's example request, verbatim (mixed tabs and spaces included). */
const SEED_REQUEST = `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:par="http://buhphone.com/PartnerWebAPI2" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:core="http://v8.1c.ru/8.1/data/core" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
   <soap:Header/>
   <soap:Body>
      <par:GetHistoryOfServiceCalls>
         <par:Params>
              <Property xmlns="http://v8.1c.ru/8.1/data/core" name="PeriodFrom">
             <Value xsi:type="xs:dateTime">2019-09-21T01:00:00</Value>
                  </Property>
     \t<Property xmlns="http://v8.1c.ru/8.1/data/core" name="PeriodTo">
             <Value xsi:type="xs:dateTime">2019-09-27T01:00:00</Value>
           </Property>
        \t<Property xmlns="http://v8.1c.ru/8.1/data/core" name="ClientID">
             <Value xsi:type="xs:string">90028e2b-2003-11e7-80e6-0025904f970f</Value>
           </Property>      \t
      \t<Property xmlns="http://v8.1c.ru/8.1/data/core" name="ServiceUserID">
             <Value xsi:type="xs:string">0e0a9b78-ee6b-4f6c-2003-ca248f7f9baf</Value>
           </Property>
       \t<Property xmlns="http://v8.1c.ru/8.1/data/core" name="ServiceID">
             <Value xsi:type="xs:string">fbe839ae-2003-2003-80e6-0025904f970f</Value>
           </Property>                                           
        \t<Property xmlns="http://v8.1c.ru/8.1/data/core" name="SpecialistID">
             <Value xsi:type="xs:string">79d4067b-6f12-451a-8efb-2003d6a61c1e</Value>
           </Property> 
         \t<Property xmlns="http://v8.1c.ru/8.1/data/core" name="CallResult">
             <Value xsi:type="xs:decimal">1</Value>
           </Property>           
         </par:Params>
      </par:GetHistoryOfServiceCalls>
   </soap:Body>
</soap:Envelope>`;

describe('readRequest', () => {
  it("reads the seed's example request", () => {
    expect(readRequest(SEED_REQUEST, ZONE)).toEqual({
      soapVersion: '1.2',
      operation: 'GetHistoryOfServiceCalls',
      params: {
        periodFrom: Date.parse('2019-09-20T22:00:00Z'), // 01:00 Moscow (UTC+3)
        periodTo: Date.parse('2019-09-26T22:00:00Z'),
        clientId: '90028e2b-2003-11e7-80e6-0025904f970f',
        serviceUserId: '0e0a9b78-ee6b-4f6c-2003-ca248f7f9baf',
        serviceId: 'fbe839ae-2003-2003-80e6-0025904f970f',
        specialistId: '79d4067b-6f12-451a-8efb-2003d6a61c1e',
        callResult: 'SUCCESSFUL',
      },
      unknownParams: [],
    });
  });

  it('reads dates as wall time of the given zone', () => {
    const xml = historyEnvelope({ PeriodFrom: '2024-07-01T12:00:00' });
    expect(readRequest(xml, 'Europe/Berlin').params.periodFrom).toBe(Date.parse('2024-07-01T10:00:00Z'));
    expect(readRequest(xml, 'UTC').params.periodFrom).toBe(Date.parse('2024-07-01T12:00:00Z'));
  });

  it('reads SOAP 1.1 and other prefixes by local name', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>
<GetHistoryOfServiceCalls xmlns="http://buhphone.com/PartnerWebAPI2"><Params>
<c:Property xmlns:c="http://v8.1c.ru/8.1/data/core" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" name="CallResult"><c:Value i:type="s:decimal" xmlns:s="http://www.w3.org/2001/XMLSchema">2</c:Value></c:Property>
<c:Property xmlns:c="http://v8.1c.ru/8.1/data/core" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" name="ClientID"><c:Value i:type="xs:string"><![CDATA[a&b]]></c:Value></c:Property>
</Params></GetHistoryOfServiceCalls></e:Body></e:Envelope>`;
    expect(readRequest(xml, ZONE)).toEqual({
      soapVersion: '1.1',
      operation: 'GetHistoryOfServiceCalls',
      params: { callResult: 'UNSUCCESSFUL', clientId: 'a&b' },
      unknownParams: [],
    });
  });

  it('treats nil values as unset and reports unknown parameters', () => {
    const xml = historyEnvelope({ ClientID: 'x' })
      .replace('<Value xsi:type="xs:string">x</Value>', '<Value xsi:nil="true"/>')
      .replace('</par:Params>', '<Property xmlns="http://v8.1c.ru/8.1/data/core" name="Colour"><Value xsi:type="xs:string">red</Value></Property></par:Params>');
    expect(readRequest(xml, ZONE)).toMatchObject({ params: {}, unknownParams: ['Colour'] });
  });

  it('reads another operation and a request without Params', () => {
    const xml = historyEnvelope({}).replace(/GetHistoryOfServiceCalls/g, 'ClientRead');
    expect(readRequest(xml, ZONE)).toMatchObject({ operation: 'ClientRead', params: {} });
  });

  it.each([
    ['empty body', ''],
    ['plain text', 'hello'],
    ['JSON', '{"PeriodFrom":"2024-01-01"}'],
    ['not an envelope', '<a/>'],
    ['foreign envelope namespace', '<soap:Envelope xmlns:soap="urn:x"><soap:Body/></soap:Envelope>'],
    ['truncated envelope', historyEnvelope({ ClientID: 'x' }).slice(0, 200)],
    ['broken tag', historyEnvelope({ ClientID: 'x' }).replace('</Value>', '</Valeu>')],
    ['empty Body', '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body/></soap:Envelope>'],
    ['date with offset', historyEnvelope({ PeriodFrom: '2024-01-01T00:00:00+03:00' })],
    ['impossible date', historyEnvelope({ PeriodFrom: '2024-02-30T00:00:00' })],
    ['CallResult 3', historyEnvelope({ CallResult: '3' })],
    ['date sent as string', historyEnvelope({ PeriodFrom: '2024-01-01T00:00:00' }).replace('xs:dateTime', 'xs:string')],
    ['Value without type', historyEnvelope({ ClientID: 'x' }).replace(' xsi:type="xs:string"', '')],
    ['Property without name', historyEnvelope({ ClientID: 'x' }).replace(' name="ClientID"', '')],
  ])('refuses %s with a RequestReadError', (_, body) => {
    expect(() => readRequest(body, ZONE)).toThrow(RequestReadError);
  });

  it('knows the version of a broken 1.1 request', () => {
    const body = historyEnvelope({ CallResult: '9' }, '1.1');
    try {
      readRequest(body, ZONE);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RequestReadError);
      expect((error as RequestReadError).soapVersion).toBe('1.1');
      expect((error as RequestReadError).message).toContain('CallResult');
    }
  });
});
