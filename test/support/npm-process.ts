import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface Closed {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when npm and every process holding its output had exited. */
  at: number;
}

export interface NpmProcess {
  child: ChildProcess;
  /** npm's own PID, the one a service manager would signal. */
  pid: number;
  /** Everything printed so far on stdout and stderr. */
  output(): string;
  /** The first match of `pattern` in the output; rejects after `timeoutMs` or when npm exits first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Settles when npm has exited and its pipes closed: the server holds them until it exits too. */
  closed: Promise<Closed>;
  /** Cleanup after a failed test: SIGKILL to the whole process group if anything still runs. */
  kill(): Promise<void>;
}

/**
 * `npm run <script>` in the repository with only the given environment (plus PATH and HOME), as a
 * newcomer or a service manager runs it. In a process group of its own, so cleanup reaches every
 * process it started.
 */
export function spawnNpm(script: string, env: Record<string, string>): NpmProcess {
  // The server keeps its history and quota in DATA_DIR: a test's own, removed once npm has exited,
  // unless the test names one (to restart on it).
  const dataDir = env.DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'connect-calls-npm-'));
  const child = spawn('npm', ['run', script], {
    cwd: ROOT,
    // No night backfill unless a test asks: these processes run on the machine's clock, and a test
    // run at night would otherwise see background calls among the upstream calls it counts.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, BACKFILL_DAYS: '0', ...(dataDir ? { DATA_DIR: dataDir } : {}), ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`npm run ${script} did not start`);
  let log = '';
  const onData = (data: Buffer): void => {
    log += data.toString();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const closed = once(child, 'close').then(([code, signal]) => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, at: Date.now() };
  });
  let isClosed = false;
  void closed.then(() => (isClosed = true));

  return {
    child,
    pid: child.pid,
    output: () => log,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(log);
          if (!match) return;
          stop();
          resolve(match);
        };
        const onExit = (): void => {
          check();
          stop();
          reject(new Error(`npm run ${script} exited before ${pattern}:\n${log}`));
        };
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${log}`));
        }, timeoutMs);
        const stop = (): void => {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          child.stderr?.off('data', check);
          child.off('close', onExit);
        };
        // Registered after onData, so `log` already holds the new piece when check runs.
        child.stdout?.on('data', check);
        child.stderr?.on('data', check);
        child.once('close', onExit);
        check();
      });
    },
    closed,
    async kill() {
      if (isClosed) return;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // The group is already gone.
      }
      await closed;
    },
  };
}

/** The server's GraphQL URL from its "listening" log line. */
export const LISTENING = /"message":"listening","url":"([^"]+)"/;

/** A started `npm start`: its GraphQL URL, and a query sent there as JSON. */
export interface ServerProcess {
  npm: NpmProcess;
  url: string;
  query<T>(query: string): Promise<{ data?: T; errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }> }>;
}

/** Waits for a spawned `npm start` to listen (rejects after `timeoutMs` or when it exits first). */
export async function listening(npm: NpmProcess, timeoutMs: number): Promise<ServerProcess> {
  const url = (await npm.waitFor(LISTENING, timeoutMs))[1] as string;
  return {
    npm,
    url,
    async query(query) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      return (await response.json()) as never;
    },
  };
}
