/**
 * Reads the environment, starts the server on HOST:PORT, and stops on SIGTERM/SIGINT within
 * SHUTDOWN_TIMEOUT_MS. `npm start` execs this process, so a signal to npm's PID reaches it.
 */
import { ConfigError, loadSettings } from './config.js';
import { StoreOpenError } from './history/create-history.js';
import { createLogger } from './server/logger.js';
import { stopOnSignals } from './server/shutdown.js';
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
  // ConfigError's message names the variable and the problem, never a secret's value.
  createLogger().error(`invalid configuration: ${error.message}`, { variable: error.variable });
  process.exit(2);
}
// Lines are written synchronously to stderr: the process.exit() calls below lose none of them.
const logger = createLogger({ level: settings.logLevel });

let server;
try {
  server = await startServer(settings, systemClock, logger);
} catch (error) {
  // DATA_DIR not writable, a file of a newer version, a disk error: said plainly, exit 2.
  if (error instanceof StoreOpenError) {
    logger.error(error.message, { variable: error.variable });
    process.exit(2);
  }
  // The address cannot be had (taken, not this machine's, no such host): say which, without a stack.
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL' && code !== 'EACCES' && code !== 'ENOTFOUND' && code !== 'EAI_AGAIN') throw error;
  logger.error(`cannot listen on ${settings.host}:${settings.port}: ${code}`, { variable: code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL' ? 'HOST' : 'PORT' });
  process.exit(2);
}

// SIGTERM/SIGINT drain within SHUTDOWN_TIMEOUT_MS, then cut what is left; a second signal cuts at once.
stopOnSignals(server, { timeoutMs: settings.shutdownTimeoutMs, logger });
// Only now: supervisors and tests take this line to mean the server may be used and signalled.
logger.info('listening', { url: server.url, upstream: server.upstream, graphiql: settings.graphiql });
