import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createLogger, type Level, REDACTED_PATHS } from '../../src/server/logger.js';

const ROOT = new URL('../..', import.meta.url).pathname;

function capture(level?: Level) {
  const lines: string[] = [];
  const logger = createLogger({ ...(level ? { level } : {}), destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger (pino)', () => {
  it('writes one JSON line per call: level by name, ISO time, message, then the fields at top level', () => {
    const { logger, lines, parsed } = capture();
    logger.info('listening', { url: 'http://127.0.0.1:4000/graphql', upstream: 'simulator', graphiql: true });
    logger.warn('no fields');
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('}\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const [first, second] = parsed();
    expect(Object.keys(first as object)).toEqual(['level', 'time', 'message', 'url', 'upstream', 'graphiql']);
    expect(first).toMatchObject({ level: 'info', message: 'listening', url: 'http://127.0.0.1:4000/graphql', upstream: 'simulator', graphiql: true });
    expect(new Date(first?.['time'] as string).toISOString()).toBe(first?.['time']);
    expect(second).toEqual({ level: 'warn', time: expect.any(String), message: 'no fields' });
    // What supervisors and the npm-start tests look for: the message, then the first field.
    expect(lines[0]).toContain('"message":"listening","url":"http://127.0.0.1:4000/graphql"');
    // No pid or hostname as pino adds by default.
    expect(lines.join('')).not.toMatch(/"pid"|"hostname"|"msg"/);
  });

  it('writes nothing below its level; info by default', () => {
    const byDefault = capture();
    const warn = capture('warn');
    const debug = capture('debug');
    for (const { logger } of [byDefault, warn, debug]) {
      logger.debug('d');
      logger.info('i');
      logger.warn('w');
      logger.error('e', { code: 'X' });
    }
    const levels = (c: ReturnType<typeof capture>) => c.parsed().map((l) => [l['level'], l['message']]);
    expect(levels(byDefault)).toEqual([['info', 'i'], ['warn', 'w'], ['error', 'e']]);
    expect(levels(warn)).toEqual([['warn', 'w'], ['error', 'e']]);
    expect(levels(debug)).toEqual([['debug', 'd'], ['info', 'i'], ['warn', 'w'], ['error', 'e']]);
    expect(warn.parsed()[1]).toMatchObject({ code: 'X' });
  });

  it('redacts the password, login and API keys at each shape logged, and leaves the caller its objects', () => {
    const { logger, lines, parsed } = capture('debug');
    const secret = (n: number): string => `s3cr3t-${n}`;
    const settings = { port: 4000, connect: { url: 'https://connect.example/ws', login: secret(1), password: secret(2) }, apiKeys: [secret(3), secret(4)] };
    const shapes: Array<Record<string, unknown>> = [
      { password: secret(5), login: secret(6), apiKeys: [secret(7)], apiKey: secret(8) },
      { connect: { password: secret(9), login: secret(10) } },
      { settings },
      { headers: { authorization: `Bearer ${secret(11)}`, 'x-api-key': secret(12) } },
      { req: { headers: { authorization: `Basic ${secret(13)}`, 'x-api-key': secret(14) } } },
      { request: { headers: { authorization: `Bearer ${secret(15)}` } } },
      { env: { CONNECT_PASSWORD: secret(16), CONNECT_LOGIN: secret(17), API_KEYS: `${secret(18)},${secret(19)}` } },
      { authorization: `Bearer ${secret(20)}`, 'x-api-key': secret(21) },
      { calls: [{ password: secret(22) }] },
    ];
    for (const [i, fields] of shapes.entries()) logger.info(`shape ${i}`, fields);
    logger.error('shutdown failed', { error: 'boom', settings });

    const text = lines.join('');
    for (let n = 1; n <= 22; n++) expect(text).not.toContain(secret(n));
    expect(text.match(/"\[Redacted\]"/g)).toHaveLength(23);
    const out = parsed();
    expect(out[0]).toMatchObject({ password: '[Redacted]', login: '[Redacted]', apiKeys: '[Redacted]', apiKey: '[Redacted]' });
    expect(out[2]).toMatchObject({
      settings: { port: 4000, connect: { url: 'https://connect.example/ws', login: '[Redacted]', password: '[Redacted]' }, apiKeys: '[Redacted]' },
    });
    expect(out[4]).toMatchObject({ req: { headers: { authorization: '[Redacted]', 'x-api-key': '[Redacted]' } } });
    expect(out[8]).toMatchObject({ calls: [{ password: '[Redacted]' }] });
    expect(out[9]).toMatchObject({ message: 'shutdown failed', error: 'boom' });
    // Redaction works on a copy: the settings the server runs with keep their values.
    expect(settings.connect.password).toBe(secret(2));
    expect(settings.apiKeys).toEqual([secret(3), secret(4)]);
  });

  it('does not reach deeper than two levels below a field: such shapes are not logged', () => {
    // A documented limit of pino's paths, pinned so that a change in it is seen.
    const { logger, lines } = capture();
    logger.info('deep', { a: { b: { c: { password: 'deep-secret' } } } });
    expect(lines.join('')).toContain('deep-secret');
    expect(REDACTED_PATHS).toContain('*.*.password');
  });

  it('writes to stderr synchronously: a line logged just before process.exit() is not lost', () => {
    const script = [
      "import { createLogger } from './src/server/logger.ts';",
      "const logger = createLogger({ level: 'info' });",
      "for (let i = 0; i < 2000; i++) logger.info('line', { i, password: 'exit-secret' });",
      "logger.error('last before exit', { exitCode: 2 });",
      'process.exit(2);',
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(2001);
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ level: 'error', message: 'last before exit', exitCode: 2 });
    expect(run.stderr).not.toContain('exit-secret');
  });
});
