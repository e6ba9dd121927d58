import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';

let child: ChildProcess | undefined;
let log = '';

/** `npm start` with no configuration at all, as a newcomer runs it; resolves with the GraphQL URL. */
async function startDemo(): Promise<string> {
  child = spawn('npm', ['start'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within 60 s:\n${log}`)), 60_000);
    const onData = (data: Buffer): void => {
      log += data.toString();
      const match = /"message":"listening","url":"([^"]+)"/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child?.stdout?.on('data', onData);
    child?.stderr?.on('data', onData);
    child?.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${log}`)));
  });
}

afterAll(async () => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) {
    const closed = once(child, 'close');
    process.kill(-child.pid, 'SIGTERM');
    await closed;
  }
});

describe('demo start', () => {
  it('serves /health, GraphiQL with a demo default query, and that query returns calls', async () => {
    const url = await startDemo();
    expect(log).toContain('DEMO MODE');
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

    // One upstream call (to the simulator) brought the whole week; asking again costs none.
    const again = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: defaultQuery }),
    });
    const second = (await again.json()) as typeof result;
    expect(second.data?.serviceCalls.totalCount).toBe(result.data?.serviceCalls.totalCount);
    expect(second.data?.quota.usedLastHour).toBe(1);

    // SIGTERM (to npm and the server alike): the server finishes what is in flight and stops.
    // 'close' waits for the server too: it holds the output pipes until it exits.
    const closed = once(child as ChildProcess, 'close');
    process.kill(-(child?.pid as number), 'SIGTERM');
    await closed;
    expect(log).toContain('"message":"shutting down');
    expect(log).toContain('"message":"stopped"');
  }, 90_000);
});
