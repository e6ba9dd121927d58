import { afterAll, describe, expect, it } from 'vitest';
import { LISTENING, type NpmProcess, spawnNpm } from '../support/npm-process.js';

let npm: NpmProcess | undefined;

/** `npm start` with no configuration at all, as a newcomer runs it; resolves with the GraphQL URL. */
async function startDemo(): Promise<string> {
  npm = spawnNpm('start', { PORT: '0' });
  return (await npm.waitFor(LISTENING, 60_000))[1] as string;
}

afterAll(async () => {
  await npm?.kill();
});

describe('demo start', () => {
  it('serves /health, GraphiQL with a demo default query, and that query returns calls', async () => {
    const url = await startDemo();
    const log = (): string => npm?.output() ?? '';
    expect(log()).toContain('DEMO MODE');
    const base = url.replace(/\/graphql$/, '');

    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);

    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('GraphiQL');
    const embedded = /"defaultQuery":("(?:[^"\\]|\\.)*")/.exec(html);
    expect(embedded).not.toBeNull();
    const defaultQuery = JSON.parse(embedded?.[1] as string) as string;
    expect(defaultQuery).toMatch(/^# DEMO MODE/);

    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: defaultQuery }),
    });
    const result = (await response.json()) as {
      data?: { serviceCalls: { totalCount: number; nodes: unknown[] }; quota: { usedLastHour: number } };
      errors?: unknown[];
    };
    expect(result.errors).toBeUndefined();
    expect(result.data?.serviceCalls.totalCount).toBeGreaterThan(100);
    expect(result.data?.serviceCalls.nodes).toHaveLength(20);

    // The seven days touch one or two blocks of the calendar grid: one upstream call (to the
    // simulator) each; asking again costs none.
    const calls = result.data?.quota.usedLastHour ?? 0;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(2);
    const again = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: defaultQuery }),
    });
    const second = (await again.json()) as typeof result;
    expect(second.data?.serviceCalls.totalCount).toBe(result.data?.serviceCalls.totalCount);
    expect(second.data?.quota.usedLastHour).toBe(calls);

    // SIGTERM to the whole group, npm and the server alike (npm relays its copy too): one request
    // to stop, so the server finishes what is in flight and stops cleanly.
    // 'closed' waits for the server too: it holds the output pipes until it exits.
    process.kill(-(npm?.pid as number), 'SIGTERM');
    await npm?.closed;
    expect(log()).toContain('"message":"shutting down');
    expect(log()).toContain('"message":"stopped","clean":true');
  }, 90_000);

  it('says which address it cannot listen on, without a stack, and exits 2', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      npm = spawnNpm('start', { PORT: String(port) });
      const closed = await npm.closed;
      expect(closed.code).toBe(2);
      expect(npm.output()).toContain(`"message":"cannot listen on 127.0.0.1:${port}: EADDRINUSE","variable":"PORT"`);
      expect(npm.output()).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);

  it('says when DATA_DIR cannot be opened, naming it, without a stack, and exits 2', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'connect-calls-not-a-dir-'));
    // A file where the directory should be: nothing can be created under it.
    const file = join(dir, 'data');
    writeFileSync(file, 'not a directory');
    try {
      npm = spawnNpm('start', { PORT: '0', DATA_DIR: file });
      const closed = await npm.closed;
      expect(closed.code).toBe(2);
      expect(npm.output()).toMatch(new RegExp(`"message":"cannot open the SQLite store in ${file}: [^"]+","variable":"DATA_DIR"`));
      expect(npm.output()).not.toMatch(/\n\s+at /);
      expect(npm.output()).not.toContain('"message":"listening"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
