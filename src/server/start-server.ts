import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Settings } from '../config.js';
import { createHistory } from '../history/create-history.js';
import { type Simulator, startSimulator } from '../simulator/server.js';
import type { Clock } from '../time/clock.js';
import { addDays, localDayOf } from '../time/zone.js';
import { buildYoga } from '../yoga.js';
import type { Logger } from './logger.js';

export interface RunningServer {
  url: string;
  demo: boolean;
  /** Stops taking requests, lets those in flight finish and every upstream call complete. */
  close(): Promise<void>;
}

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
    });
    settings = { ...settings, connect: { ...c, url: simulator.url, login: simulator.login, password: simulator.password } };
    logger.warn('DEMO MODE: CONNECT_URL is not set; serving generated calls from the built-in 1C-Connect simulator', {
      simulator: simulator.url,
      days: DEMO_DAYS,
    });
  }
  if (settings.redisUrl) {
    logger.warn('REDIS_URL is set, but the shared store is not built yet: this replica keeps its own cache and quota ledger');
  }
  const { history, ledger } = createHistory(settings, clock, { logger });
  let ready = true;
  const yoga = buildYoga({ settings, clock, ledger, history, logger, demo: simulator !== undefined, isReady: () => ready });
  const server = createServer(yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}/graphql`;
  logger.info('listening', { url, upstream: simulator ? 'simulator' : new URL(settings.connect.url as string).host, graphiql: settings.graphiql });

  return {
    url,
    demo: simulator !== undefined,
    close: async () => {
      ready = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await history.drain();
      await simulator?.close();
    },
  };
}
