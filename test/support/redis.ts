import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** The Redis every test and bench may use (`.ci/run` checks that it answers). */
export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of a test's own: tests never meet each other's keys, and cleanup deletes exactly its keys. */
export const testPrefix = (): string => `test:${randomUUID()}:`;

/** Deletes every key under `prefix` (SCAN + DEL; never FLUSHDB: other tests share this Redis). Returns how many. */
export async function deleteKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // the command that failed rejects; nothing else to report
  try {
    await redis.connect();
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
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
