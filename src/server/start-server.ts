import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Settings } from '../config.js';
import { createHistory, type History } from '../history/create-history.js';
import { startBackgroundWork } from '../history/background-schedule.js';
import { openSharedHistory } from '../history/redis/open-shared-history.js';
import { startRetention } from '../history/retention.js';
import { type Simulator, startSimulator } from '../simulator/server.js';
import type { Clock } from '../time/clock.js';
import { addDays, localDayOf } from '../time/zone.js';
import { buildYoga } from '../yoga.js';
import type { Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import type { Drainable } from './shutdown.js';

export interface RunningServer extends Drainable {
  url: string;
  demo: boolean;
  /** The upstream's host, or 'simulator' in demo mode (never credentials). */
  upstream: string;
  /**
   * Begins the drain: /ready answers 503, the listener stops accepting, idle keep-alive sockets
   * close (and busy ones once their answer is sent). Resolves when every request and upstream call
   * in flight has finished. Later calls return the same promise.
   */
  close(): Promise<void>;
  /**
   * Aborts the upstream calls in flight (nothing of them is kept) and destroys every socket left:
   * idle, half-sent requests, answers the client does not read. `close()` then settles promptly.
   */
  cut(): void;
  /** What the drain still waits for: answers not yet sent, open sockets, and its current step. */
  openWork(): { requests: number; sockets: number; waitingFor: DrainStep };
}

/** The drain's steps, in order: requests (with the upstream calls they wait for), then upstream calls left, then the demo simulator. */
export type DrainStep = 'not draining' | 'requests' | 'upstream calls' | 'demo simulator' | 'nothing';

/** Demo history: a few months ending today, about a busy partner's volume. */
const DEMO_DAYS = 120;
const DEMO_CALLS_PER_DAY = 400;
const DEMO_SEED = 20_240_301;

export async function startServer(configured: Settings, clock: Clock, logger: Logger): Promise<RunningServer> {
  let settings = configured;
  const c = settings.connect;
  let simulator: Simulator | undefined;
  if (!c.url) {
    simulator = await startSimulator({
      clock,
      zone: c.timeZone,
      seed: DEMO_SEED,
      callsPerDay: DEMO_CALLS_PER_DAY,
      firstDay: addDays(localDayOf(clock.now(), c.timeZone), -DEMO_DAYS),
      dayHours: c.dayHours,
      dayLimit: c.dayLimit,
      nightLimit: c.nightLimit,
      dayMaxDays: c.dayMaxDays,
      // As 1C-Connect answers: periods select calls by when they started ringing, CallTime is when
      // they were answered, and calls never answered may carry 1C's empty date.
      answerTimes: 'realistic',
    });
    settings = { ...settings, connect: { ...c, url: simulator.url, login: simulator.login, password: simulator.password } };
    logger.warn('DEMO MODE: CONNECT_URL is not set; serving generated calls from the built-in 1C-Connect simulator', {
      simulator: simulator.url,
      days: DEMO_DAYS,
    });
  }
  // Read at each scrape, once the core exists (the core reports to the metrics' events).
  const metrics = createMetrics({ clock, quota: () => core.quota.state(), held: () => core.store.summary(clock.now()) });
  let created: History;
  try {
    created = settings.redisUrl
      ? await openSharedHistory(settings, clock, { logger, events: metrics.events, leaseMs: settings.redisLeaseMs })
      : createHistory(settings, clock, { logger, events: metrics.events });
  } catch (error) {
    await simulator?.close();
    throw error;
  }
  const core = created;
  const { history, quota } = core;
  const stopRetention = settings.retentionDays
    ? startRetention({ history, clock, zone: c.timeZone, days: settings.retentionDays, logger })
    : () => undefined;
  const stopBackground = startBackgroundWork({ history, logger });
  let step: DrainStep = 'not draining';
  const draining = (): boolean => step !== 'not draining';
  const yoga = buildYoga({ settings, clock, quota, history, logger, demo: simulator !== undefined, isReady: () => !draining() && (core.ready?.() ?? true), metrics });
  const server = createServer();
  // Counted for the shutdown log; responses also let a draining server close their keep-alive sockets.
  const sockets = new Set<Socket>();
  const responses = new Set<ServerResponse>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (_request, response) => {
    responses.add(response);
    // While draining, an answer says `Connection: close`: a keep-alive client would otherwise
    // hold its socket, and with it the drain, until the keep-alive timeout.
    if (draining()) response.shouldKeepAlive = false;
    response.once('finish', () => {
      // An answer whose headers went out before the drain still said keep-alive: its socket is
      // idle now, and closed at once.
      if (draining()) server.closeIdleConnections();
    });
    response.once('close', () => responses.delete(response));
  });
  server.on('request', yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/graphql`;
  let drained: Promise<void> | undefined;

  return {
    url,
    demo: simulator !== undefined,
    upstream: simulator ? 'simulator' : new URL(settings.connect.url as string).host,
    close: () => (drained ??= drain()),
    cut: () => {
      history.abort();
      server.closeAllConnections();
    },
    openWork: () => ({ requests: responses.size, sockets: sockets.size, waitingFor: step }),
  };

  async function drain(): Promise<void> {
    step = 'requests';
    for (const response of responses) if (!response.headersSent) response.shouldKeepAlive = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
    // Upstream calls outlive the requests that started them when a client went away.
    step = 'upstream calls';
    stopRetention();
    stopBackground();
    await history.drain();
    await core.close();
    step = 'demo simulator';
    await simulator?.close();
    step = 'nothing';
  }
}
