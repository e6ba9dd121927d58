import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SEED_RESPONSE_FILE } from '../fixtures/seed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SEED = SEED_RESPONSE_FILE;

function decode(args: string[], input?: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/upstream/decode-cli.ts', ...args], {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, CONNECT_TIMEZONE: 'Europe/Moscow' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('decode command', () => {
  it('prints one JSON line per call of a captured response', () => {
    const { code, stdout, stderr } = decode([SEED]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({
      callId: '5f99f58f-2003-4e1c-a049-2cf58efc68a1',
      clientId: '90028e2b-ff47-11e7-2003-0025904f970f',
      serviceUserId: '0e0a9b78-ee6b-2003-bd33-ca248f7f2003',
      serviceId: 'fbe839ae-07ec-11e8-2003-0025904f970f',
      callTime: '2019-09-26T18:29:37+03:00',
      callerId: '79d4067b-6f12-451a-8efb-2003d6a61c1e',
      calleeId: '0e0a9b78-2003-4f6c-bd33-ca248f7f9baf',
      callResult: 'SUCCESSFUL',
      durationSeconds: 13,
      direction: 'UNKNOWN',
      specialistId: null,
    });
  });

  it('prints only a summary with --summary, reading stdin', () => {
    const { code, stdout } = decode(['--summary'], readFileSync(SEED, 'utf8'));
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(Object.keys(summary)).toEqual(['rows', 'columns', 'nulls', 'ms']);
    expect(summary).toMatchObject({ rows: 2, nulls: 0 });
    expect(summary.columns).toHaveLength(9);
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['a non-SUCCESS code', readFileSync(SEED, 'utf8').replace('>SUCCESS<', '>OUT_OF_LIMIT<'), 'UpstreamOutOfLimitError'],
    ['broken XML', readFileSync(SEED, 'utf8').replace('</row>', '</rwo>'), 'UpstreamProtocolError'],
    ['a cut body', readFileSync(SEED, 'utf8').slice(0, 4000), 'UpstreamProtocolError'],
    [
      'a SOAP Fault',
      '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>boom</faultstring></s:Fault></s:Body></s:Envelope>',
      'SoapFaultError',
    ],
  ])('prints the typed error of %s to stderr and exits 1', (_name, input, name) => {
    const { code, stderr } = decode(['-'], input);
    expect(code).toBe(1);
    expect(JSON.parse(stderr.trim())).toMatchObject({ name });
  });
});
