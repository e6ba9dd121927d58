import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('ends quietly with exit 0 when its reader stops early (| head -1)', () => {
    // Enough rows that the pipe fills long after head has gone.
    const seed = readFileSync(SEED, 'utf8');
    const rowStart = seed.indexOf('<row>');
    const rowEnd = seed.indexOf('</row>') + '</row>'.length;
    const big = seed.slice(0, rowStart) + seed.slice(rowStart, rowEnd).repeat(20_000) + seed.slice(rowEnd);
    const dir = mkdtempSync(join(tmpdir(), 'decode-head-'));
    try {
      const file = join(dir, 'big.xml');
      writeFileSync(file, big);
      const result = spawnSync(
        'bash',
        ['-c', `"${process.execPath}" --import tsx src/upstream/decode-cli.ts "$1" | head -1; echo "status=\${PIPESTATUS[0]}" >&2`, 'decode', file],
        // stdin not a socket: bash would take itself for a remote shell and read ~/.bashrc.
        { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, CONNECT_TIMEZONE: 'Europe/Moscow' } },
      );
      expect(result.stdout.trim().split('\n')).toHaveLength(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ callId: '5f99f58f-2003-4e1c-a049-2cf58efc68a1' });
      expect(result.stderr.trim()).toBe('status=0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints callTime null for the empty date, and exits 1 with the complete decode error of a bad value', () => {
    const seed = readFileSync(SEED, 'utf8');
    const empty = decode(['-'], seed.replace('2019-09-26T18:31:04', '0001-01-01T00:00:00'));
    expect(empty.code).toBe(0);
    expect(empty.stdout.trim().split('\n').map((l) => JSON.parse(l).callTime)).toEqual(['2019-09-26T18:29:37+03:00', null]);
    const bad = decode(['-'], seed.replace('2019-09-26T18:31:04', '1999-12-31T23:00:00'));
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr.trim())).toMatchObject({ name: 'ValueConversionError', row: 2, column: 'CallTime', complete: true });
  });
});
