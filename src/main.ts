/** Reads the environment, starts the server on HOST:PORT, and shuts down cleanly on SIGTERM/SIGINT. */
import { ConfigError, loadSettings } from './config.js';
import { jsonLogger } from './server/logger.js';
import { systemClock } from './time/clock.js';

// graphql-js skips its development-only checks (a measurable share of every request) in production;
// it reads NODE_ENV when it loads, so the server is imported only after this.
process.env.NODE_ENV ??= 'production';
const { startServer } = await import('./server/start-server.js');

let settings;
try {
  settings = loadSettings(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  jsonLogger().error(`invalid configuration: ${error.message}`, { variable: error.variable });
  process.exit(2);
}
const logger = jsonLogger(settings.logLevel);

const server = await startServer(settings, systemClock, logger);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down: finishing requests and upstream calls in flight', { signal });
  server.close().then(
    () => {
      logger.info('stopped');
      process.exit(0);
    },
    (error: unknown) => {
      logger.error('shutdown failed', { error: error instanceof Error ? error.message : String(error) });
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
