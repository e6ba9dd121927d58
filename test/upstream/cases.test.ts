/**
 * Every file of shared/cases, copied to test/fixtures/cases, with the behaviour its README names:
 * through the decode command, and through ConnectClient against a loopback stand-in that serves the
 * file's bytes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { formatIsoWithOffset } from '../../src/time/zone.js';
import { ConnectClient } from '../../src/upstream/connect-client.js';
import { ConnectError } from '../../src/upstream/errors.js';
import { type CaseUpstream, startCaseUpstream } from '../support/case-upstream.js';
import { type CaseCall, CASES, CASES_DIR, caseFiles, SHARED_CASES_DIR } from './shared-cases.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ZONE = 'Europe/Moscow';

describe('the shared cases', () => {
  it('are all copied here byte for byte, so none goes untested', () => {
    if (!existsSync(SHARED_CASES_DIR)) {
      // A clone on its own, with no shared/ beside it. CI always lays shared/ beside the clone, so
      // there this is a failure; elsewhere the copy's own README must name exactly the copied files.
      expect(process.env.CI, 'shared/cases must lie beside the repository in CI').not.toBe('true');
      // The first cell of each table row names its file(s), e.g. `a.xml` + `b.xml`.
      const firstCells = [...readFileSync(`${CASES_DIR}README.md`, 'utf8').matchAll(/^\| (`[^|]+?) \|/gm)].map((m) => m[1] as string);
      const named = firstCells.flatMap((cell) => [...cell.matchAll(/`([^`]+\.xml)`/g)].map((m) => m[1] as string));
      expect(named.sort()).toEqual(caseFiles());
      return;
    }
    const shared = readdirSync(SHARED_CASES_DIR);
    expect(shared.length).toBeGreaterThan(0);
    for (const name of shared) {
      const copy = `${CASES_DIR}${name}`;
      expect(existsSync(copy), `${name} is not in test/fixtures/cases`).toBe(true);
      expect(readFileSync(copy).equals(readFileSync(`${SHARED_CASES_DIR}${name}`)), `${name} differs from its copy`).toBe(true);
    }
  });

  it('each have the behaviour their README names written down below, and nothing else is', () => {
    expect(caseFiles()).toEqual(Object.keys(CASES).sort());
    const readme = readFileSync(`${CASES_DIR}README.md`, 'utf8');
    for (const name of caseFiles()) expect(readme, name).toContain(`\`${name}\``);
  });
});

function decodeCommand(file: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/upstream/decode-cli.ts', file], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, CONNECT_TIMEZONE: ZONE },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the shared cases through the decode command', () => {
  it.each(Object.entries(CASES))('%s: %s', (name, expected) => {
    const { code, stdout, stderr } = decodeCommand(`${CASES_DIR}${name}`);
    if (expected.calls) {
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const calls = stdout.trim().split('\n').map((line): CaseCall => {
        const { callTime, durationSeconds } = JSON.parse(line) as CaseCall;
        return { callTime, durationSeconds };
      });
      expect(calls).toEqual(expected.calls);
    } else {
      expect(code).toBe(1);
      expect(JSON.parse(stderr.trim())).toMatchObject(expected.error as object);
    }
  });
});

describe('the shared cases through ConnectClient', () => {
  let upstream: CaseUpstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  /** One request for the day the cases are about, answered with the file's bytes; counts the requests. */
  async function fetchCase(name: string, contentType: string) {
    const body = readFileSync(`${CASES_DIR}${name}`);
    upstream = await startCaseUpstream(() => ({ body, contentType }));
    const client = new ConnectClient({ url: upstream.url, login: upstream.login, password: upstream.password, zone: ZONE, timeoutMs: 5000 });
    const from = Date.parse('2019-09-26T00:00:00+03:00');
    const calls: CaseCall[] = [];
    let error: ConnectError | undefined;
    try {
      for await (const batch of client.history({ periodFrom: from, periodTo: from + 86_400_000 })) {
        for (const call of batch) {
          calls.push({
            callTime: call.callTime === null ? null : formatIsoWithOffset(call.callTime, ZONE),
            durationSeconds: call.durationSeconds,
          });
        }
      }
    } catch (caught) {
      if (!(caught instanceof ConnectError)) throw caught;
      error = caught;
    }
    return { calls, error, requests: upstream.requests.length };
  }

  const contentTypes = ['application/soap+xml; charset=utf-8', 'application/soap+xml'];
  it.each(
    Object.entries(CASES)
      .filter(([name]) => name !== 'out-of-limit-windows-1251.xml')
      .flatMap(([name, expected]) => contentTypes.map((type) => [name, type, expected] as const)),
  )('%s served as %s', async (name, contentType, expected) => {
    const { calls, error, requests } = await fetchCase(name, contentType);
    expect(requests).toBe(1);
    if (expected.calls) {
      expect(error).toBeUndefined();
      expect(calls).toEqual(expected.calls);
    } else {
      expect(error?.toJSON()).toMatchObject(expected.error as object);
    }
  });

  const limit = CASES['out-of-limit-windows-1251.xml']?.error as Record<string, unknown>;
  it.each([
    ['with charset=windows-1251', 'application/soap+xml; charset=windows-1251'],
    ['with no charset (the XML declaration decides)', 'application/soap+xml'],
    ['as text/xml with a quoted charset', 'text/xml; charset="Windows-1251"'],
  ])('recognises OUT_OF_LIMIT in windows-1251 served %s, its Russian text intact', async (_how, contentType) => {
    const { error, requests } = await fetchCase('out-of-limit-windows-1251.xml', contentType);
    expect(requests).toBe(1);
    expect(error?.toJSON()).toEqual({ ...limit, message: `1C-Connect answered OUT_OF_LIMIT: ${limit.resultText as string}` });
  });

  it('recognises OUT_OF_LIMIT in windows-1251 served with a wrong charset=utf-8, trusting none of its text', async () => {
    const { error, requests } = await fetchCase('out-of-limit-windows-1251.xml', 'application/soap+xml; charset=utf-8');
    expect(requests).toBe(1);
    expect(error?.toJSON()).toMatchObject({ name: 'UpstreamOutOfLimitError', kind: 'out-of-limit', resultCode: 'OUT_OF_LIMIT', resultText: '' });
  });
});
