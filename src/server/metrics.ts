/**
 * Prometheus metrics for one server: what the history core reports (upstream calls, rows decoded,
 * answers), what the quota ledger and the store hold (read at each scrape), and the GraphQL
 * operations Yoga answers (by outcome and error code). Served on GET /metrics by `plugin`.
 *
 * Each `createMetrics()` has its own prom-client Registry (never the global one), so two servers, or
 * two tests, in one process do not collide ("A metric with the name … has already been registered").
 */
import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AnswerSource, HistoryEvents, UpstreamOutcome } from '../history/history-events.js';
import type { HeldSummary } from '../history/history-store.js';
import type { QuotaState } from '../history/quota-ledger.js';
import type { Clock } from '../time/clock.js';

export interface ServerMetrics {
  registry: Registry;
  /** Pass to the history core (createHistory's `events`): its upstream calls, rows and answers. */
  events: HistoryEvents;
  /** For Yoga: answers GET /metrics and counts every GraphQL operation answered. */
  plugin: Plugin;
}

export interface MetricSources {
  /** The quota's state (`quota.state()`), read at each scrape. */
  quota: () => Promise<QuotaState>;
  /** What the store holds (`store.summary(clock.now())`), read at each scrape. */
  held: () => Promise<HeldSummary>;
  /** The ledger's clock: how long an OUT_OF_LIMIT block still holds. */
  clock: Clock;
}

export const UPSTREAM_OUTCOMES: readonly UpstreamOutcome[] = ['ok', 'out_of_limit', 'refused', 'undecodable', 'unavailable', 'aborted'];
export const ANSWER_SOURCES: readonly AnswerSource[] = ['held', 'fetched', 'failed'];
export type OperationOutcome = 'ok' | 'partial' | 'error';

/** A year by day is 53 upstream calls of a week each; one can take minutes. Past 600 s: +Inf. */
const UPSTREAM_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** An operation answered from held days takes milliseconds; one that waits for upstream calls, minutes. */
const OPERATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Error codes are ours or Yoga's (UPPER_SNAKE); anything else is one label value, not one series each. */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export function createMetrics(sources: MetricSources): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const upstreamCalls = new Counter({
    name: 'connect_calls_upstream_calls_total',
    help: 'Upstream calls (1C-Connect GetHistoryOfServiceCalls) ended, by outcome: ok, out_of_limit, refused, undecodable, unavailable, aborted. From the history core.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const upstreamSeconds = new Histogram({
    name: 'connect_calls_upstream_call_duration_seconds',
    help: 'Wall time of each upstream call from its start to its end, by outcome. From the history core.',
    labelNames: ['outcome'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers,
  });
  const rowsDecoded = new Counter({
    name: 'connect_calls_upstream_rows_decoded_total',
    help: 'Rows decoded from upstream responses, whether or not their call then completed. From the history core.',
    registers,
  });
  const answers = new Counter({
    name: 'connect_calls_history_answers_total',
    help: 'History questions (serviceCalls fields) answered, by source: held (0 upstream calls), fetched (after upstream calls), failed. From the history core.',
    labelNames: ['source'] as const,
    registers,
  });
  for (const outcome of UPSTREAM_OUTCOMES) {
    upstreamCalls.inc({ outcome }, 0);
    upstreamSeconds.zero({ outcome });
  }
  for (const source of ANSWER_SOURCES) answers.inc({ source }, 0);

  // The ledger and the store are read once per scrape, however many gauges show them: every
  // collect of one scrape starts in the same tick and shares the reading.
  let quota: Promise<QuotaState | undefined> | undefined;
  const quotaNow = (): Promise<QuotaState | undefined> =>
    (quota ??= sources
      .quota()
      // A quota that cannot be read (a shared store lost) shows NaN, not the last value.
      .catch(() => undefined)
      .finally(() => (quota = undefined)));
  let held: Promise<HeldSummary | undefined> | undefined;
  const heldNow = (): Promise<HeldSummary | undefined> =>
    (held ??= sources
      .held()
      // A store that cannot answer (closed during shutdown, a failing disk) shows NaN, not the last value.
      .catch(() => undefined)
      .finally(() => (held = undefined)));

  const quotaGauge = (name: string, help: string, read: (state: QuotaState) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const state = await quotaNow();
        this.set(state ? read(state) : Number.NaN);
      },
    });
  };
  quotaGauge(
    'connect_calls_quota_used_calls',
    'Upstream calls made in the last sliding hour, as the quota ledger counts them (read at scrape).',
    (s) => s.usedLastHour,
  );
  quotaGauge(
    'connect_calls_quota_remaining_calls',
    'Upstream calls the quota ledger still allows in the sliding hour; 0 while an OUT_OF_LIMIT block holds (read at scrape).',
    (s) => s.remaining,
  );
  quotaGauge(
    'connect_calls_quota_limit_calls',
    'Upstream calls allowed per hour now: CONNECT_DAY_LIMIT or CONNECT_NIGHT_LIMIT by the upstream day hours (read at scrape).',
    (s) => s.limitPerHour,
  );
  quotaGauge(
    'connect_calls_quota_block_remaining_seconds',
    'Seconds until the block after an upstream OUT_OF_LIMIT lifts; 0 when none holds (read at scrape).',
    (s) => (s.blockedUntil === null ? 0 : Math.max(0, (s.blockedUntil - sources.clock.now()) / 1000)),
  );

  const heldGauge = (name: string, help: string, read: (summary: HeldSummary) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const summary = await heldNow();
        this.set(summary ? read(summary) : Number.NaN);
      },
    });
  };
  heldGauge('connect_calls_held_days', 'Days with a copy of their calls held by the store (read at scrape; NaN when the store cannot answer).', (s) => s.daysHeld);
  heldGauge(
    'connect_calls_held_sealed_days',
    'Days held that are sealed: fetched long enough after they ended never to be fetched again (read at scrape).',
    (s) => s.daysSealed,
  );
  heldGauge(
    'connect_calls_held_failed_days',
    'Days whose upstream response could not be decoded and are not asked for again until FAILED_RETRY_SECONDS pass (read at scrape).',
    (s) => s.daysFailed,
  );
  heldGauge('connect_calls_held_calls', 'Calls held by the store, each CallID once (read at scrape).', (s) => s.calls);

  const operations = new Counter({
    name: 'connect_calls_graphql_operations_total',
    help:
      'GraphQL operations answered (each of a batch), by outcome (ok: no errors, partial: data with errors, error: no data, refusals before execution included) ' +
      'and error code (each distinct extensions.code once, NONE when an error has none or there is no error). An operation with two codes counts under each.',
    labelNames: ['outcome', 'code'] as const,
    registers,
  });
  const operationSeconds = new Histogram({
    name: 'connect_calls_graphql_operation_duration_seconds',
    help: 'Time from the HTTP request reaching Yoga until the results of its operations are ready, observed once per operation (of a batch too), by outcome. Its _count is the number of operations.',
    labelNames: ['outcome'] as const,
    buckets: OPERATION_BUCKETS,
    registers,
  });

  const events: HistoryEvents = {
    upstreamCall(outcome, seconds) {
      upstreamCalls.inc({ outcome });
      upstreamSeconds.observe({ outcome }, seconds);
    },
    rowsDecoded(count) {
      rowsDecoded.inc(count);
    },
    answered(source, count) {
      answers.inc({ source }, count);
    },
  };

  const count = (result: ExecutionResult, seconds: number): void => {
    const errors = result.errors ?? [];
    const outcome: OperationOutcome = !errors.length ? 'ok' : result.data != null ? 'partial' : 'error';
    const codes = new Set<string>();
    for (const error of errors) codes.add(codeOf(error));
    if (!codes.size) codes.add('NONE');
    for (const code of codes) operations.inc({ outcome, code });
    operationSeconds.observe({ outcome }, seconds);
  };

  // When each HTTP request reached Yoga, by its server context (one object per request, the same
  // in onRequest and onResultProcess); deleted once counted, so a request is counted once.
  const started = new WeakMap<object, number>();

  const plugin: Plugin = {
    onRequest({ request, url, endResponse, fetchAPI, serverContext }) {
      if (url.pathname !== '/metrics') {
        started.set(serverContext as object, performance.now());
        return;
      }
      // Outside the API key check (which guards GraphQL operations, in onParams): the metrics hold
      // counts, durations and error codes, never a secret or a request's contents, and a Prometheus
      // scraper has no key to send.
      if (request.method !== 'GET') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET' } }));
        return;
      }
      return registry.metrics().then(
        (text) => endResponse(new fetchAPI.Response(text, { status: 200, headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } })),
        () => endResponse(new fetchAPI.Response('metrics could not be collected\n', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } })),
      );
    },
    // Every answer to a GraphQL request passes here, refusals before execution included (a body
    // that is not JSON, a parse or validation error, REQUEST_TOO_LARGE, UNAUTHENTICATED), with its
    // errors as the client gets them (masked, coded).
    onResultProcess({ result, serverContext }) {
      const at = started.get(serverContext as object);
      if (at === undefined) return;
      started.delete(serverContext as object);
      const seconds = (performance.now() - at) / 1000;
      // A streamed result (subscription, @defer) is not counted: the schema has none.
      for (const one of Array.isArray(result) ? result : [result]) if (!isAsyncIterable(one)) count(one as ExecutionResult, seconds);
    },
  };

  return { registry, events, plugin };
}

function codeOf(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  if (code === undefined || code === null) return 'NONE';
  return typeof code === 'string' && CODE.test(code) ? code : 'OTHER';
}
