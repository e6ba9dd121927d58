import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { REPEAT_SIGNAL_GRACE_MS } from '../../src/server/shutdown.js';
import { LISTENING, type NpmProcess, spawnNpm } from '../support/npm-process.js';

// Every process is real: `npm start` / `npm run simulator` as a service manager runs them, signalled
// by the PID spawn gave (npm's own). Loopback only.

const STARTUP_MS = 60_000;
const PASSWORD = 'never-in-a-log-9f2c';
/** A period no server holds: answering it needs the upstream. */
const QUERY = '{ serviceCalls(filter: { periodFrom: "2024-03-04", periodTo: "2024-03-05" }) { totalCount } }';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNpm(script: 'start' | 'simulator', env: Record<string, string>): Promise<NpmProcess> {
  const npm = spawnNpm(script, env);
  cleanups.push(() => npm.kill());
  return npm;
}

/** `npm start`, waited for until it listens; resolves with the process and the server's port. */
async function startServer(env: Record<string, string>): Promise<{ npm: NpmProcess; url: string; port: number }> {
  const npm = await startNpm('start', { PORT: '0', ...env });
  const url = (await npm.waitFor(LISTENING, STARTUP_MS))[1] as string;
  return { npm, url, port: Number(new URL(url).port) };
}

/** A 1C-Connect stand-in that takes every request and never answers; counts what it got. */
async function stalledUpstream(): Promise<{ env: Record<string, string>; requests: IncomingMessage[]; firstRequest: Promise<unknown> }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((request) => {
    requests.push(request);
    request.resume();
  });
  const firstRequest = once(server, 'request', { signal: AbortSignal.timeout(30_000) });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    requests,
    firstRequest,
    env: {
      CONNECT_URL: `http://127.0.0.1:${port}/cus/ws/PartnerWebAPI2`,
      CONNECT_LOGIN: 'api-user',
      CONNECT_PASSWORD: PASSWORD,
      // Only the shutdown limit may end the wait.
      CONNECT_TIMEOUT_MS: '600000',
    },
  };
}

/** Sends QUERY; settles with the body, or the error when the socket closed without an answer. */
function queryInFlight(url: string): Promise<{ body?: string; error?: unknown }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: QUERY }) })
    .then((response) => response.text())
    .then(
      (body) => ({ body }),
      (error: unknown) => ({ error }),
    );
}

/** Whether a new connection to the port is refused (the listener is closed). */
async function refuses(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect', { signal: AbortSignal.timeout(5_000) });
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  } finally {
    socket.destroy();
  }
}

/** A raw socket that has sent `text` (no more); its received bytes are collected. */
async function rawSocket(port: number, text: string): Promise<{ socket: Socket; received: () => string; closed: Promise<unknown> }> {
  const socket = connect(port, '127.0.0.1');
  cleanups.push(() => {
    socket.destroy();
  });
  let received = '';
  socket.on('data', (data: Buffer) => (received += data.toString()));
  socket.on('error', () => {}); // a reset by the server is an expected way to be closed
  const closed = once(socket, 'close');
  await once(socket, 'connect', { signal: AbortSignal.timeout(5_000) });
  socket.write(text);
  return { socket, received: () => received, closed };
}

function logLines(npm: NpmProcess): Array<Record<string, unknown>> {
  return npm
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function logLine(npm: NpmProcess, messagePrefix: string): Record<string, unknown> | undefined {
  return logLines(npm).find((line) => String(line['message']).startsWith(messagePrefix));
}

describe('stopping the server', () => {
  it('npm start: SIGTERM to npm\'s PID drains, closes the port and exits 0 within the limit', async () => {
    const { npm, port } = await startServer({});
    const sent = Date.now();
    process.kill(npm.pid, 'SIGTERM');
    const closed = await npm.closed;

    expect(closed.code).toBe(0);
    expect(closed.at - sent).toBeLessThan(10_000); // the default SHUTDOWN_TIMEOUT_MS
    expect(logLine(npm, 'shutting down')).toMatchObject({ signal: 'SIGTERM', timeoutMs: 10_000 });
    expect(logLine(npm, 'stopped')).toMatchObject({ clean: true, exitCode: 0 });
    expect(logLine(npm, 'shutdown cut')).toBeUndefined();
    expect(await refuses(port)).toBe(true);
  }, 90_000);

  it('a stalled upstream call is aborted at SHUTDOWN_TIMEOUT_MS: the client gets an error or a closed socket, the process exits 1', async () => {
    const upstream = await stalledUpstream();
    const { npm, url } = await startServer({ ...upstream.env, SHUTDOWN_TIMEOUT_MS: '1000' });
    const answer = queryInFlight(url);
    await upstream.firstRequest;

    const sent = Date.now();
    process.kill(npm.pid, 'SIGTERM');
    const closed = await npm.closed;
    const outcome = await answer;

    expect(closed.code).toBe(1);
    expect(closed.at - sent).toBeGreaterThanOrEqual(900); // not before the limit (timer rounding aside)
    expect(closed.at - sent).toBeLessThan(8_000); // the limit, the cut's settling, the exit: generous
    // The socket was destroyed under the request: no answer, or at most an error, never data.
    if (outcome.error === undefined) expect(JSON.parse(outcome.body as string)).toMatchObject({ errors: expect.any(Array) });
    expect(logLine(npm, 'shutting down')).toMatchObject({ open: { requests: 1, sockets: 1, waitingFor: 'requests' } });
    expect(logLine(npm, 'shutdown cut')).toMatchObject({ reason: 'time limit of 1000 ms', open: { requests: 1 } });
    expect(logLine(npm, 'stopped')).toMatchObject({ clean: false, exitCode: 1 });
    expect(logLine(npm, 'shutdown cut did not settle')).toBeUndefined(); // the cut itself ended everything
    expect(upstream.requests).toHaveLength(1);
    expect(npm.output()).not.toContain(PASSWORD);
  }, 90_000);

  it('a socket that sent half a request header does not hold the exit past the limit', async () => {
    const { npm, port } = await startServer({ SHUTDOWN_TIMEOUT_MS: '1000' });
    const half = await rawSocket(port, 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
    // Generous time for the idle server to accept and read the bytes: the socket is then busy, not idle.
    await sleep(500);

    const sent = Date.now();
    process.kill(npm.pid, 'SIGTERM');
    const closed = await npm.closed;
    await half.closed;

    expect(closed.code).toBe(1);
    expect(closed.at - sent).toBeGreaterThanOrEqual(900);
    expect(closed.at - sent).toBeLessThan(8_000);
    expect(logLine(npm, 'shutting down')).toMatchObject({ open: { requests: 0, sockets: 1 } });
    expect(logLine(npm, 'shutdown cut')).toMatchObject({ reason: 'time limit of 1000 ms', open: { sockets: 1 } });
    expect(logLine(npm, 'shutdown cut did not settle')).toBeUndefined();
    expect(half.received()).toBe('');
  }, 90_000);

  it('while draining: the port refuses, a request finished meanwhile gets /ready 503 and is closed; a second SIGTERM cuts at once', async () => {
    const upstream = await stalledUpstream();
    const { npm, url, port } = await startServer({ ...upstream.env, SHUTDOWN_TIMEOUT_MS: '600000' });
    const answer = queryInFlight(url);
    await upstream.firstRequest;
    const probe = await rawSocket(port, 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await sleep(500); // as above: the probe's socket is busy when the drain begins

    process.kill(npm.pid, 'SIGTERM');
    await npm.waitFor(/"message":"shutting down/, 10_000);
    expect(await refuses(port)).toBe(true);
    probe.socket.write('\r\n');
    await probe.closed;
    expect(probe.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(probe.received()).toMatch(/\r\nconnection: close\r\n/i);
    expect(npm.child.exitCode).toBeNull(); // still waiting for the stalled upstream call

    await sleep(REPEAT_SIGNAL_GRACE_MS + 250); // past the window where a repeat counts as the same signal
    const second = Date.now();
    process.kill(npm.pid, 'SIGTERM');
    const closed = await npm.closed;
    const outcome = await answer;

    expect(closed.code).toBe(1);
    expect(closed.at - second).toBeLessThan(5_000);
    if (outcome.error === undefined) expect(JSON.parse(outcome.body as string)).toMatchObject({ errors: expect.any(Array) });
    expect(logLine(npm, 'shutdown cut')).toMatchObject({ reason: 'second SIGTERM', open: { requests: 1 } });
    expect(logLine(npm, 'stopped')).toMatchObject({ clean: false, exitCode: 1 });
    expect(logLine(npm, 'shutdown cut did not settle')).toBeUndefined(); // the cut itself ended everything
    expect(upstream.requests).toHaveLength(1);
  }, 90_000);

  it("a terminal's Ctrl-C (SIGINT to the group, relayed again by npm) is one request to stop, not two", async () => {
    const upstream = await stalledUpstream();
    const { npm, url } = await startServer({ ...upstream.env, SHUTDOWN_TIMEOUT_MS: '1500' });
    const answer = queryInFlight(url);
    await upstream.firstRequest;

    const sent = Date.now();
    process.kill(-npm.pid, 'SIGINT');
    const closed = await npm.closed;
    await answer;

    // Cut by the time limit, not at once by the relayed copy of the same SIGINT.
    expect(closed.at - sent).toBeGreaterThanOrEqual(1_400);
    expect(logLine(npm, 'shutdown cut')).toMatchObject({ reason: 'time limit of 1500 ms' });
    expect(logLine(npm, 'shutdown cut did not settle')).toBeUndefined();
    expect(upstream.requests).toHaveLength(1);
  }, 90_000);

  it('npm run simulator: SIGTERM to npm\'s PID stops it and closes its port', async () => {
    const npm = await startNpm('simulator', { SIM_PORT: '0' });
    const simulatorUrl = (await npm.waitFor(/listening on (http:\/\/\S+)/, STARTUP_MS))[1] as string;
    const sent = Date.now();
    process.kill(npm.pid, 'SIGTERM');
    const closed = await npm.closed;

    expect(closed.code).toBe(0);
    expect(closed.at - sent).toBeLessThan(10_000);
    expect(logLine(npm, 'shutting down')).toMatchObject({ signal: 'SIGTERM' });
    expect(logLine(npm, 'stopped')).toMatchObject({ clean: true });
    expect(await refuses(Number(new URL(simulatorUrl).port))).toBe(true);
  }, 90_000);
});
