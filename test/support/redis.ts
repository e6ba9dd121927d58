import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { closeRedis, connectRedis, type RedisConnectOptions, type RedisContext } from '../../src/history/redis/redis-connection.js';

/** The Redis every test and bench may use (`.ci/run` checks that it answers). */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of a test's own: tests never meet each other's keys, and cleanup deletes exactly its keys. */
export const testPrefix = (): string => `test:${randomUUID()}:`;

/**
 * Deletes every key under `prefix` (SCAN + DEL; never FLUSHDB: other tests share this Redis). Returns how many.
 * Given a URL it opens a connection of its own for it; given a connection, it uses that one.
 */
export async function deleteKeys(on: string | Redis, prefix: string): Promise<number> {
  if (typeof on !== 'string') return deleteKeysWith(on, prefix);
  const redis = new Redis(on, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // the command that failed rejects; nothing else to report
  try {
    await redis.connect();
    return await deleteKeysWith(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

async function deleteKeysWith(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** What `useTestRedis` gives a test file: read its fields inside tests and hooks (they are new for each test). */
export interface TestRedis {
  /** A connection of the file's own, to look at (and change) what the test's replicas wrote. */
  readonly admin: Redis;
  /** This test's key prefix. */
  readonly prefix: string;
  /** The connections `connect` opened in this test, in order. */
  readonly contexts: readonly RedisContext[];
  /** A replica's own two connections on this test's prefix (or `prefix`), closed after the test. */
  connect(options?: Omit<RedisConnectOptions, 'url' | 'prefix'> & { prefix?: string; connectTimeoutMs?: number }): Promise<RedisContext>;
  /** Closes `part` after the test, before the connections are closed; returns it. */
  closeAfter<T extends { close(): Promise<unknown> }>(part: T): T;
}

/**
 * The per-test setup of a test file whose replicas share the Redis at `REDIS_URL` (else SHARED_REDIS_URL):
 * a prefix of each test's own; after each test the parts given to `closeAfter` are closed, then the
 * connections, then every key under the prefix is deleted. With `expectNoKeysLeft`, the test fails when
 * a key appears under its prefix after that (something still wrote once all was closed).
 * Call it once, at the top of the file.
 */
export function useTestRedis(options: { expectNoKeysLeft?: boolean } = {}): TestRedis {
  const url = process.env.REDIS_URL ?? SHARED_REDIS_URL;
  let admin: Redis | undefined;
  let prefix = '';
  let contexts: RedisContext[] = [];
  let parts: Array<{ close(): Promise<unknown> }> = [];

  beforeAll(async () => {
    admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.quit();
  });

  beforeEach(() => {
    prefix = testPrefix();
    contexts = [];
    parts = [];
  });

  afterEach(async () => {
    await Promise.allSettled(parts.map((part) => part.close()));
    await Promise.allSettled(contexts.map((context) => closeRedis(context)));
    await deleteKeys(admin as Redis, prefix);
    if (options.expectNoKeysLeft) expect(await admin!.keys(`${prefix}*`)).toEqual([]);
  });

  return {
    get admin() {
      if (!admin) throw new Error('useTestRedis: admin is there only inside tests and hooks');
      return admin;
    },
    get prefix() {
      return prefix;
    },
    get contexts() {
      return contexts;
    },
    async connect({ prefix: on = prefix, ...connect } = {}) {
      const context = await connectRedis({ url, prefix: on, ...connect });
      contexts.push(context);
      return context;
    },
    closeAfter(part) {
      parts.push(part);
      return part;
    },
  };
}

/** A TCP port nothing listens on right now (the kernel's pick, closed again). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface OwnRedis {
  port: number;
  url: string;
  child: ChildProcess;
  /** SIGKILL (a crash: nothing saved, no goodbye to clients); resolves once it has exited. */
  kill(): Promise<void>;
}

/**
 * A redis-server of the test's own on `port`, keeping nothing on disk (`--save '' --appendonly no`):
 * killed and started again on the same port, it comes back empty. Resolves once it accepts connections.
 */
export async function startRedisServer(port: number): Promise<OwnRedis> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    const onData = (data: Buffer): void => {
      log += data.toString();
      if (/Ready to accept connections/.test(log)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => reject(new Error(`redis-server on port ${port} exited before it was ready:\n${log}`)));
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
