import { describe, expect, it } from 'vitest';
import { directionOf, matchesFilter, type ServiceCall, specialistOf } from '../../src/domain/service-call.js';
import { ValueConversionError } from '../../src/upstream/errors.js';
import { serviceCallFromRow } from '../../src/upstream/service-call-row.js';
import { SEED_RESPONSE } from '../fixtures/seed.js';
import { decodeText } from '../support/decode.js';

const seed = SEED_RESPONSE;
const SPECIALIST = '79d4067b-6f12-451a-8efb-2003d6a61c1e';

function seedCalls(xml = seed): ServiceCall[] {
  return decodeText(xml).rows.map((row, i) => serviceCallFromRow(row, i + 1));
}

describe('ServiceCall mapping', () => {
  it("maps the seed's rows field by field", () => {
    const [first, second] = seedCalls();
    expect(first).toEqual({
      callId: '5f99f58f-2003-4e1c-a049-2cf58efc68a1',
      clientId: '90028e2b-ff47-11e7-2003-0025904f970f',
      serviceUserId: '0e0a9b78-ee6b-2003-bd33-ca248f7f2003',
      serviceId: 'fbe839ae-07ec-11e8-2003-0025904f970f',
      callTime: Date.parse('2019-09-26T18:29:37+03:00'),
      callerId: SPECIALIST,
      calleeId: '0e0a9b78-2003-4f6c-bd33-ca248f7f9baf',
      callResult: 'SUCCESSFUL',
      durationSeconds: 13,
    });
    expect(second?.durationSeconds).toBe(24);
  });

  it("reads the seed's literal rows as UNKNOWN: its IDs are masked differently in each place", () => {
    // The page masks one group of each UUID with "2003", so the service user matches neither party.
    for (const call of seedCalls()) {
      expect(directionOf(call)).toBe('UNKNOWN');
      expect(specialistOf(call)).toBeNull();
    }
  });

  it("gives both directions on the seed's rows once the masked service user is made consistent", () => {
    // Row 1: the specialist called the service user; row 2: the service user called the specialist.
    const user1 = '0e0a9b78-2003-4f6c-bd33-ca248f7f9baf';
    const user2 = '0e0a9b78-ee6b-2003-bd33-ca248f7f9baf';
    const xml = seed.replace('0e0a9b78-ee6b-2003-bd33-ca248f7f2003', user1).replace(
      /(<Value xsi:type="xs:string">)0e0a9b78-2003-4f6c-bd33-ca248f7f9baf(<\/Value>\s*<Value xsi:type="xs:string">fbe82003)/,
      `$1${user2}$2`,
    );
    const [outbound, inbound] = seedCalls(xml);
    expect(outbound?.serviceUserId).toBe(user1);
    expect(directionOf(outbound as ServiceCall)).toBe('OUTBOUND');
    expect(specialistOf(outbound as ServiceCall)).toBe(SPECIALIST);
    expect(inbound?.serviceUserId).toBe(user2);
    expect(directionOf(inbound as ServiceCall)).toBe('INBOUND');
    expect(specialistOf(inbound as ServiceCall)).toBe(SPECIALIST);
  });

  it('handles null parties and a null service user', () => {
    const base: ServiceCall = {
      callId: 'c', clientId: null, serviceUserId: 'u', serviceId: null, callTime: 0,
      callerId: 'u', calleeId: null, callResult: 'UNSUCCESSFUL', durationSeconds: 0,
    };
    expect(directionOf(base)).toBe('INBOUND');
    expect(specialistOf(base)).toBeNull(); // inbound, but the callee is unknown
    expect(directionOf({ ...base, callerId: null, calleeId: 'u' })).toBe('OUTBOUND');
    expect(directionOf({ ...base, serviceUserId: null, callerId: null, calleeId: null })).toBe('UNKNOWN');
    expect(directionOf({ ...base, serviceUserId: null })).toBe('UNKNOWN');
  });

  it('maps CallResult 1 to SUCCESSFUL and anything else to UNSUCCESSFUL, and rejects broken cells', () => {
    const row = {
      CallID: 'c', ClientID: null, ServiceUserID: null, ServiceID: null, CallTime: new Date(0),
      CallerID: null, CalleeID: null, CallResult: 1, Duration: 5,
    };
    expect(serviceCallFromRow(row, 1).callResult).toBe('SUCCESSFUL');
    expect(serviceCallFromRow({ ...row, CallResult: 2 }, 1).callResult).toBe('UNSUCCESSFUL');
    // A code the operation does not define cannot be served as either: a decode error naming it.
    expect(() => serviceCallFromRow({ ...row, CallResult: 0 }, 5)).toThrow(/row 5, column CallResult/);
    expect(() => serviceCallFromRow({ ...row, CallResult: 3 }, 5)).toThrow(ValueConversionError);
    expect(() => serviceCallFromRow({ ...row, Duration: -1 }, 3)).toThrow(ValueConversionError);
    expect(() => serviceCallFromRow({ ...row, CallID: null }, 3)).toThrow(/row 3, column CallID/);
    expect(() => serviceCallFromRow({ ...row, CallTime: 'soon' }, 4)).toThrow(/row 4, column CallTime/);
  });

  it('matches a specialist filter on the caller or the callee, like the upstream', () => {
    const call = seedCalls()[0] as ServiceCall;
    expect(matchesFilter(call, { specialistId: SPECIALIST })).toBe(true);
    expect(matchesFilter(call, { specialistId: call.calleeId })).toBe(true);
    expect(matchesFilter(call, { specialistId: call.serviceUserId })).toBe(false);
    expect(matchesFilter(call, { callResult: 'UNSUCCESSFUL' })).toBe(false);
    expect(matchesFilter(call, { clientId: call.clientId, serviceId: call.serviceId, callResult: 'SUCCESSFUL' })).toBe(true);
  });
});
