import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { loadSettings, type Settings } from '../../src/config.js';
import { createHistory } from '../../src/history/create-history.js';
import type { HistoryService } from '../../src/history/history-service.js';
import type { QuotaLedger } from '../../src/history/quota-ledger.js';
import { type Logger, silentLogger } from '../../src/server/logger.js';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../src/simulator/server.js';
import { ManualClock } from '../../src/time/clock.js';
import { buildYoga, type ConnectYoga } from '../../src/yoga.js';

export interface GraphQLResponse<T> {
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }>;
}

/** The server over the simulator. */
export interface Harness extends GraphQLServer {
  clock: ManualClock;
  simulator: Simulator;
  /** Upstream calls the simulator has received so far. */
  upstreamCalls(): number;
  close(): Promise<void>;
}

/** The GraphQL server in-process (yoga.fetch) over a given upstream, on a clock the test moves. */
export interface GraphQLServer {
  settings: Settings;
  history: HistoryService;
  ledger: QuotaLedger;
  yoga: ConnectYoga;
  query<T, V>(document: TypedDocumentNode<T, V> | string, variables?: V, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** Several operations in one HTTP request, as a gateway batches them. */
  batch(operations: Array<{ query: string; variables?: Record<string, unknown> }>): Promise<Array<GraphQLResponse<unknown>>>;
}

export function startGraphQL(options: {
  clock: ManualClock;
  upstream: { url: string; login: string; password: string };
  env?: Record<string, string>;
  logger?: Logger;
}): GraphQLServer {
  const settings = loadSettings({
    CONNECT_URL: options.upstream.url,
    CONNECT_LOGIN: options.upstream.login,
    CONNECT_PASSWORD: options.upstream.password,
    CONNECT_TIMEOUT_MS: '2000',
    ...options.env,
  });
  const logger = options.logger ?? silentLogger;
  const { history, ledger } = createHistory(settings, options.clock, { logger });
  const yoga = buildYoga({ settings, clock: options.clock, ledger, history, logger, demo: false });
  return {
    settings,
    history,
    ledger,
    yoga,
    async query(document, variables, headers = {}) {
      const response = await yoga.fetch('http://yoga.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
      });
      return (await response.json()) as GraphQLResponse<never>;
    },
    async batch(operations) {
      const response = await yoga.fetch('http://yoga.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(operations),
      });
      return (await response.json()) as Array<GraphQLResponse<unknown>>;
    },
  };
}

/** The server in-process (yoga.fetch) over the simulator on loopback, on a clock the test moves. */
export async function startHarness(options: {
  now: string | number;
  env?: Record<string, string>;
  simulator?: Partial<SimulatorOptions>;
  logger?: Logger;
}): Promise<Harness> {
  const clock = new ManualClock(typeof options.now === 'number' ? options.now : Date.parse(options.now));
  const simulator = await startSimulator({ clock, seed: 7, callsPerDay: 120, zone: 'Europe/Moscow', ...options.simulator });
  const server = startGraphQL({ clock, upstream: simulator, env: options.env, logger: options.logger });
  return {
    ...server,
    clock,
    simulator,
    // Every request that reached the upstream, even one it refused.
    upstreamCalls: () => simulator.received.length,
    async close() {
      await server.history.drain();
      await simulator.close();
    },
  };
}
