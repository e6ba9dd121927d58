import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useContentEncoding } from '@whatwg-node/server';
import type { GraphQLError } from 'graphql';
import { createYoga, type GraphiQLOptions, type Plugin, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import type { Settings } from './config.js';
import type { HistoryService } from './history/history-service.js';
import type { QuotaAuthority } from './history/quota-authority.js';
import type { GraphQLContext } from './schema/context.js';
import { schema } from './schema/index.js';
import { PeriodLoader } from './schema/period-loader.js';
import { useEntityRepresentationCheck } from './schema/entity-representations.js';
import { useRequestWorkLimits } from './schema/request-work.js';
import { apiKeyDigest, useApiKeys } from './server/api-keys.js';
import { useVariableErrorCodes } from './server/variable-errors.js';
import { defaultQuery } from './server/default-query.js';
import type { Logger } from './server/logger.js';
import type { ServerMetrics } from './server/metrics.js';
import type { Clock } from './time/clock.js';

export interface YogaDependencies {
  settings: Settings;
  clock: Clock;
  quota: QuotaAuthority;
  history: HistoryService;
  logger: Logger;
  /** True when the built-in simulator stands in for 1C-Connect. */
  demo: boolean;
  /** False once shutdown began: /ready then answers 503 so a balancer stops sending work. */
  isReady?: () => boolean;
  /** Given: GET /metrics answers them (no API key needed), and every GraphQL operation is counted. */
  metrics?: ServerMetrics;
}

/**
 * Limits on the shape of one GraphQL request (graphql-armor), before it runs. The work it asks for
 * (days of history, calls returned) is counted by the request's PeriodLoader, variables included, so
 * no cost is guessed here. Refusals carry extensions.code REQUEST_TOO_LARGE.
 */
export function requestShapeLimits(settings: Settings) {
  const coded = (_context: unknown, error: GraphQLError): void => {
    (error.extensions as Record<string, unknown>).code = 'REQUEST_TOO_LARGE';
  };
  return {
    maxAliases: { n: settings.requestLimits.maxAliases, onReject: [coded] },
    maxDepth: { n: 12, onReject: [coded] },
    maxDirectives: { n: 50, onReject: [coded] },
    maxTokens: { n: 20_000, onReject: [coded] },
    costLimit: { enabled: false },
  };
}

export type ConnectYoga = YogaServerInstance<Record<string, unknown>, GraphQLContext>;

export function buildYoga(deps: YogaDependencies): ConnectYoga {
  const { settings, history, logger } = deps;
  const plugins: Plugin[] = [
    useReadinessCheck({ endpoint: '/ready', check: () => deps.isReady?.() ?? true }),
    // Every serviceCalls field can cost a plan of upstream calls and a filter over a year of calls:
    // a request's size is bounded before it runs.
    EnvelopArmorPlugin(requestShapeLimits(settings)),
    useVariableErrorCodes(),
    useRequestWorkLimits(settings.requestLimits, settings.connect.timeZone),
    useEntityRepresentationCheck(),
    // Answers gzip- or deflate-encoded to a client that accepts it: GraphiQL's page is 9 MB with
    // every asset inlined (2.4 MB gzipped), and large JSON answers shrink too. A compressed request
    // body is inflated as it is read, and Yoga's 25 MB body limit counts the inflated bytes.
    useContentEncoding<Record<string, unknown>>(),
  ];
  if (settings.apiKeys.length) plugins.push(useApiKeys(settings.apiKeys));
  // /metrics is answered in onRequest, before the API key check (onParams) is reached.
  if (deps.metrics) plugins.push(deps.metrics.plugin);
  const loaders = new WeakMap<Request, GraphQLContext['periods']>();

  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/health',
    landingPage: false,
    maskedErrors: true,
    logging: {
      debug: (...args) => logger.debug(String(args[0])),
      info: (...args) => logger.info(String(args[0])),
      warn: (...args) => logger.warn(String(args[0])),
      error: (...args) => logger.error(String(args[0]), { error: args[1] instanceof Error ? args[1].message : undefined }),
    },
    graphiql: settings.graphiql
      ? () => ({
          title: 'connect-calls-graphql',
          defaultQuery: defaultQuery({ demo: deps.demo, now: deps.clock.now(), zone: settings.connect.timeZone }),
        })
      : false,
    // Yoga's own page loads GraphiQL from a public CDN: a blank "Loading…" page offline.
    ...(settings.graphiql ? { renderGraphiQL: offlineGraphiQL } : {}),
    plugins,
    // A gateway may send several operations in one HTTP request: they share one loader.
    batching: { limit: 10 },
    context: ({ request }): GraphQLContext => {
      let periods = loaders.get(request);
      if (!periods) {
        periods = new PeriodLoader(history, settings.requestLimits, apiKeyDigest(request));
        loaders.set(request, periods);
      }
      return { settings, clock: deps.clock, quota: deps.quota, history, periods };
    },
  });
}

let graphiqlRenderer: Promise<(options: GraphiQLOptions) => string> | undefined;

/**
 * GraphiQL with its scripts, styles and workers inlined in the page: nothing is fetched from
 * anywhere but this server. The renderer holds 9 MB of assets (about 47 MB of RSS once loaded), so
 * it is imported when a browser first asks for the page, never by a server with GraphiQL off or
 * one nobody opens it on.
 */
function offlineGraphiQL(options: GraphiQLOptions): Promise<string> {
  graphiqlRenderer ??= import('@graphql-yoga/render-graphiql').then((module) => module.renderGraphiQL);
  // The 9 MB page changes only with its options (the default query names today's dates): the last
  // one is kept rather than built again for every page request.
  const key = JSON.stringify(options);
  if (lastPage?.key === key) return Promise.resolve(lastPage.html);
  return graphiqlRenderer.then((render) => {
    const html = render(options);
    lastPage = { key, html };
    return html;
  });
}

let lastPage: { key: string; html: string } | undefined;
