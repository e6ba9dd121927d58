import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import { afterEach } from 'vitest';
import { loadSettings, type Settings } from '../../src/config.js';
import { createHistory } from '../../src/history/create-history.js';
import type { HistoryService } from '../../src/history/history-service.js';
import type { HistoryStore } from '../../src/history/history-store.js';
import type { QuotaAuthority } from '../../src/history/quota-authority.js';
import { type Logger, silentLogger } from '../../src/server/logger.js';
import { createMetrics } from '../../src/server/metrics.js';
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
  quota: QuotaAuthority;
  store: HistoryStore;
  yoga: ConnectYoga;
  /** Waits for upstream calls in flight, closes the store and removes its temporary DATA_DIR. */
  close(): Promise<void>;
  query<T, V>(document: TypedDocumentNode<T, V> | string, variables?: V, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** Several operations in one HTTP request, as a gateway batches them. */
  batch(operations: Array<{ query: string; variables?: Record<string, unknown> }>): Promise<Array<GraphQLResponse<unknown>>>;
}

export function startGraphQL(options: {
  clock: ManualClock;
  upstream: { url: string; login: string; password: string };
  env?: Record<string, string>;
  logger?: Logger;
  /** How the SQLite store is written: in this thread (default, fast to start) or by the ingest worker. */
  ingest?: 'worker' | 'in-process';
  /** Serve /metrics (a prom-client registry of the server's own). */
  metrics?: boolean;
}): GraphQLServer {
  // The default store (SQLite) in a DATA_DIR of the test's own, unless the test names one.
  const dataDir = options.env?.DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'connect-calls-test-'));
  const settings = loadSettings({
    CONNECT_URL: options.upstream.url,
    CONNECT_LOGIN: options.upstream.login,
    CONNECT_PASSWORD: options.upstream.password,
    CONNECT_TIMEOUT_MS: '2000',
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
    ...options.env,
  });
  const logger = options.logger ?? silentLogger;
  const clock = options.clock;
  const metrics = options.metrics
    ? createMetrics({ clock, quota: () => core.quota.state(), held: () => core.store.summary(clock.now()) })
    : undefined;
  const core = createHistory(settings, clock, { logger, ingest: options.ingest ?? 'in-process', events: metrics?.events });
  const { history, quota, store } = core;
  const yoga = buildYoga({ settings, clock, quota, history, logger, demo: false, metrics });
  let closed: Promise<void> | undefined;
  return {
    settings,
    history,
    quota,
    store,
    yoga,
    close: () =>
      (closed ??= (async () => {
        await history.drain();
        await core.close();
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      })()),
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
  ingest?: 'worker' | 'in-process';
  metrics?: boolean;
}): Promise<Harness> {
  const clock = new ManualClock(typeof options.now === 'number' ? options.now : Date.parse(options.now));
  const simulator = await startSimulator({ clock, seed: 7, callsPerDay: 120, zone: 'Europe/Moscow', ...options.simulator });
  const server = startGraphQL({ clock, upstream: simulator, env: options.env, logger: options.logger, ingest: options.ingest, metrics: options.metrics });
  return {
    ...server,
    clock,
    simulator,
    // Every request that reached the upstream, even one it refused.
    upstreamCalls: () => simulator.received.length,
    async close() {
      await server.close();
      await simulator.close();
    },
  };
}

/**
 * For a test file whose tests each start one harness: returns the function that starts it; the
 * harness is closed after each test.
 */
export function harnessPerTest(): (options: Parameters<typeof startHarness>[0]) => Promise<Harness> {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });
  return async (options) => {
    harness = await startHarness(options);
    return harness;
  };
}
