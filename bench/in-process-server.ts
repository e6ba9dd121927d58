import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Settings } from '../src/config.js';
import { createHistory, type History } from '../src/history/create-history.js';
import { silentLogger } from '../src/server/logger.js';
import type { Simulator } from '../src/simulator/server.js';
import type { Clock } from '../src/time/clock.js';
import { buildYoga, type ConnectYoga } from '../src/yoga.js';

/** The server in-process (yoga.fetch) over a simulator, on the bench's clock, in a DATA_DIR of its own. */
export interface InProcessServer extends Pick<History, 'history' | 'quota'> {
  settings: Settings;
  yoga: ConnectYoga;
  /** Waits for upstream calls in flight, closes the store and removes the DATA_DIR (not the simulator). */
  close(): Promise<void>;
}

export function startInProcessServer(options: {
  clock: Clock;
  simulator: Simulator;
  env?: Record<string, string>;
  ingest?: 'worker' | 'in-process';
  name: string;
}): InProcessServer {
  const { clock, simulator } = options;
  const dataDir = mkdtempSync(join(tmpdir(), `connect-calls-${options.name}-`));
  try {
    const settings = loadSettings({
      CONNECT_URL: simulator.url,
      CONNECT_LOGIN: simulator.login,
      CONNECT_PASSWORD: simulator.password,
      DATA_DIR: dataDir,
      ...options.env,
    });
    const core = createHistory(settings, clock, { logger: silentLogger, ingest: options.ingest });
    const yoga = buildYoga({ settings, clock, quota: core.quota, history: core.history, logger: silentLogger, demo: false });
    return {
      settings,
      history: core.history,
      quota: core.quota,
      yoga,
      async close() {
        await core.history.drain();
        await core.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
