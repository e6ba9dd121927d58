import type { Settings } from '../../config.js';
import type { Logger } from '../../server/logger.js';
import type { Clock } from '../../time/clock.js';
import { ConnectClient } from '../../upstream/connect-client.js';
import { type History, quotaRules, serviceSettings, StoreOpenError } from '../create-history.js';
import type { HistoryEvents } from '../history-events.js';
import { type HistorySource, InProcessIngest } from '../history-ingest.js';
import { HistoryService } from '../history-service.js';
import { closeRedis, connectRedis, type RedisContext } from './redis-connection.js';
import { RedisFetchLocks } from './redis-fetch-locks.js';
import { RedisHistoryStore } from './redis-history-store.js';
import { RedisLeadership } from './redis-leadership.js';
import { RedisQuota } from './redis-quota.js';

/** Where Redis is, for messages: host and port only (a URL may hold a password). */
export function redisAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}

/**
 * The history core of one replica among several (REDIS_URL): the quota, the history, the single
 * flight and the background leader lease all live in Redis under REDIS_PREFIX, so replicas behind a
 * load balancer share one quota and one cache. Rejects with a StoreOpenError naming REDIS_URL (never
 * its password) when Redis cannot be reached at start. Upstream calls are decoded on this thread and
 * committed to Redis; each replica answers pages and totals from its local copy of the shared periods.
 */
export async function openSharedHistory(
  settings: Settings,
  clock: Clock,
  options: { logger?: Logger; source?: HistorySource; events?: HistoryEvents; leaseMs?: number } = {},
): Promise<History> {
  const url = settings.redisUrl;
  if (!url) throw new Error('openSharedHistory needs REDIS_URL');
  const c = settings.connect;
  if (!options.source && !c.url) throw new Error('openSharedHistory needs CONNECT_URL or a source');
  const { logger } = options;
  const where = redisAddress(url);
  let context: RedisContext;
  try {
    context = await connectRedis({ url, prefix: settings.redisPrefix });
  } catch (error) {
    throw new StoreOpenError(`cannot reach Redis at ${where} (REDIS_URL): ${error instanceof Error ? error.message.replace(url, where) : String(error)}`, {
      cause: error,
      variable: 'REDIS_URL',
    });
  }
  // ioredis reconnects by itself; the log says when the shared store is lost and when it is back.
  for (const [name, connection] of [['commands', context.redis], ['subscriber', context.subscriber]] as const) {
    let lost = false;
    connection.on('error', (error: Error) => {
      if (!lost) logger?.error('lost the shared store (Redis); upstream calls wait for it (fail closed)', { redis: where, connection: name, error: error.message });
      lost = true;
    });
    connection.on('ready', () => {
      if (lost) logger?.info('the shared store (Redis) is back', { redis: where, connection: name });
      lost = false;
    });
  }
  const onError = (error: Error): void => logger?.warn('shared store (Redis) operation failed', { redis: where, error: error.message });
  const rules = quotaRules(settings);
  let quota: RedisQuota;
  try {
    quota = await RedisQuota.open(context, rules, clock, { onError });
  } catch (error) {
    await closeRedis(context);
    throw new StoreOpenError(`cannot read the shared quota in Redis at ${where}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      variable: 'REDIS_URL',
    });
  }
  const store = new RedisHistoryStore(context, c.timeZone);
  const locks = new RedisFetchLocks(context, { leaseMs: options.leaseMs, onError });
  const leadership = await RedisLeadership.open(context, {
    leaseMs: options.leaseMs,
    onChange: (leader) => logger?.info(leader ? 'this replica runs background work (leader)' : 'this replica no longer runs background work', { redis: where }),
    onError,
  });
  const source = options.source ?? new ConnectClient({ url: c.url as string, login: c.login, password: c.password, zone: c.timeZone, timeoutMs: c.timeoutMs });
  const ingest = new InProcessIngest(source, store);
  const history = new HistoryService({ ...serviceSettings(settings), store, ingest, ledger: quota, locks, leadership, clock, logger, events: options.events });
  return {
    history,
    quota,
    store,
    ready: () => context.redis.status === 'ready' && context.subscriber.status === 'ready',
    async close() {
      await leadership.close();
      await locks.close();
      await ingest.close();
      await store.close();
      await quota.close();
      await closeRedis(context);
    },
  };
}
