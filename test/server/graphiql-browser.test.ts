import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config.js';
import { silentLogger } from '../../src/server/logger.js';
import { type RunningServer, startServer } from '../../src/server/start-server.js';
import { ManualClock } from '../../src/time/clock.js';

/** Debian's package (`apt-get install -y chromium`); `npx playwright install` cannot download browsers here. */
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];
const ARTIFACTS = new URL('../../artifacts/', import.meta.url).pathname;
/** Every wait in this file is bounded by this (or less). */
const WAIT_MS = 30_000;

let browser: Browser | undefined;
let server: RunningServer | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  // The browser first: its keep-alive sockets would otherwise hold the server's drain.
  await browser?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** True for a URL whose request would leave this machine: anything but loopback, data: and blob:. */
function leavesTheMachine(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === 'data:' || protocol === 'blob:' || protocol === 'about:') return false;
  return !(hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname));
}

describe('GraphiQL in a real browser', () => {
  it('loads offline, runs the demo default query and shows its totalCount, with one upstream call per grid block', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: this test needs Debian's package. ` +
          'Install it with `apt-get install -y chromium` (as .ci/run does), then run the tests again.',
      );
    }
    // Demo mode on loopback: the server and its built-in simulator both listen on 127.0.0.1.
    const clock = new ManualClock(Date.parse('2024-03-20T10:00:00+03:00'));
    dataDir = mkdtempSync(join(tmpdir(), 'connect-calls-graphiql-'));
    server = await startServer(loadSettings({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir }), clock, silentLogger);
    expect(server.demo).toBe(true);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: WAIT_MS });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);

    // Every request the page makes is recorded; one that would leave the machine is blocked and fails the test.
    const requested: string[] = [];
    const outside: string[] = [];
    const problems: string[] = [];
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (leavesTheMachine(url)) {
        outside.push(url);
        await route.abort('blockedbyclient');
      } else {
        await route.continue();
      }
    });
    await context.routeWebSocket(/.*/, (socket) => {
      if (leavesTheMachine(socket.url())) {
        outside.push(socket.url());
        void socket.close();
      } else {
        socket.connectToServer();
      }
    });
    const page = await context.newPage();
    page.on('request', (request) => requested.push(request.url()));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });

    const loaded = await page.goto(server.url, { waitUntil: 'load', timeout: WAIT_MS });
    expect(loaded?.status()).toBe(200);
    // 9 MB of inlined assets go gzipped to a browser.
    expect((await loaded?.allHeaders())?.['content-encoding']).toBe('gzip');
    expect(await page.title()).toBe('connect-calls-graphql');
    // Yoga's own page loads its scripts from a CDN: offline it stays "Loading __TITLE__".
    expect(outside, 'requests that would leave this machine').toEqual([]);
    expect(await page.locator('body').innerText()).not.toContain('__TITLE__');

    // The editor holds the demo default query.
    const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await editor.waitFor({ state: 'visible', timeout: WAIT_MS });
    await expect.poll(() => editor.innerText(), { timeout: WAIT_MS }).toMatch(/DEMO\s+MODE/);
    await expect.poll(() => editor.innerText(), { timeout: WAIT_MS }).toMatch(/query\s+LastWeek/);

    const answered = page.waitForResponse(
      (response) => response.request().method() === 'POST' && (response.request().postData() ?? '').includes('LastWeek'),
      { timeout: WAIT_MS },
    );
    await page.locator('.graphiql-execute-button').first().click({ timeout: WAIT_MS });
    const result = (await (await answered).json()) as {
      data?: { serviceCalls: { totalCount: number }; quota: { usedLastHour: number } };
      errors?: unknown[];
    };
    expect(result.errors).toBeUndefined();
    const totalCount = result.data?.serviceCalls.totalCount ?? 0;
    expect(totalCount).toBeGreaterThan(100);
    // The seven days came in one upstream call to the simulator per block of the calendar grid they touch (one or two).
    const calls = result.data?.quota.usedLastHour ?? 0;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(2);

    // The result pane shows it.
    const response = page.locator('.graphiql-response').first();
    await expect
      .poll(async () => (await response.innerText()).replace(/\s+/g, ' '), { timeout: WAIT_MS })
      .toContain(`"totalCount": ${totalCount}`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}graphiql.png`, timeout: WAIT_MS });

    // Nothing the page did (loading, introspection, the query) cost another upstream call.
    const quota = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ quota { usedLastHour } }' }),
      signal: AbortSignal.timeout(WAIT_MS),
    });
    expect(((await quota.json()) as { data: { quota: { usedLastHour: number } } }).data.quota.usedLastHour).toBe(calls);

    expect(outside, 'requests that would leave this machine').toEqual([]);
    expect(requested.filter(leavesTheMachine)).toEqual([]);
    expect(requested.length).toBeGreaterThan(1);
    expect(problems).toEqual([]);
  }, 60_000);
});
