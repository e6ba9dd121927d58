import { Redis } from 'ioredis';

/**
 * What the shared store's parts (quota, history, fetch locks, leader lease) are given: one command
 * connection, one connection in subscriber mode (pub/sub needs its own), and the prefix of every key
 * and channel they use (`connect-calls:` in production; a test's own prefix in tests, so tests never
 * meet each other's keys).
 */
export interface RedisContext {
  redis: Redis;
  subscriber: Redis;
  prefix: string;
}

/** Options every connection of the shared store is opened with. */
export interface RedisConnectOptions {
  url: string;
  prefix: string;
  /** How long (ms) a command may wait for an answer before it fails (no offline queueing either). */
  commandTimeoutMs?: number;
}

/**
 * Opens the two connections and waits until both answer PING; rejects (closing both) when Redis cannot
 * be reached within `connectTimeoutMs`. Commands fail at once while the connection is down (no offline
 * queue), so nothing waits on a lost Redis: the callers fail closed. ioredis reconnects on its own.
 */
export async function connectRedis(options: RedisConnectOptions & { connectTimeoutMs?: number }): Promise<RedisContext> {
  const open = (): Redis =>
    new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      // Reconnects forever, backing off to 2 s between tries.
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    });
  const redis = open();
  const subscriber = open();
  // Until the caller listens, errors are kept here (ioredis would print them to stderr as
  // "Unhandled error event"), and the last one says why the connection failed.
  let cause: Error | undefined;
  const keep = (error: Error): void => {
    cause = error;
  };
  redis.on('error', keep);
  subscriber.on('error', keep);
  try {
    await Promise.all([redis.connect(), subscriber.connect()]);
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    subscriber.disconnect();
    throw cause ?? error;
  } finally {
    redis.off('error', keep);
    subscriber.off('error', keep);
  }
  return { redis, subscriber, prefix: options.prefix };
}

/** Closes both connections. */
export async function closeRedis(context: RedisContext): Promise<void> {
  await Promise.allSettled([context.redis.quit(), context.subscriber.quit()]);
}
