/**
 * One JSON line per event, on stderr, written by pino:
 *   {"level":"info","time":"2024-03-20T07:00:00.000Z","message":"listening","url":"http://…"}
 * the level by name, the time as an ISO string, then `message`, then the caller's fields at top
 * level (supervisors and tests look for `"message":"listening","url":…`).
 *
 * Callers pass codes, counts and IDs, never credentials. Should a secret reach the fields anyway,
 * pino replaces it with "[Redacted]" (see REDACTED_PATHS). The message text is never redacted: it
 * must never interpolate a secret.
 */
import pino, { type DestinationStream } from 'pino';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * Field names that hold a secret of the settings: the upstream login and password
 * (settings.connect.login/password, CONNECT_LOGIN/CONNECT_PASSWORD), the API keys (settings.apiKeys,
 * API_KEYS) and the headers that carry a key or Basic credentials (authorization, x-api-key).
 */
export const SECRET_KEYS = [
  'password',
  'login',
  'apiKeys',
  'apiKey',
  'authorization',
  'x-api-key',
  'CONNECT_PASSWORD',
  'CONNECT_LOGIN',
  'API_KEYS',
] as const;

/**
 * pino's `*` matches exactly one level, so each depth is listed: the key itself (`password`), one
 * level down (`connect.password`, `headers.authorization`, `env.CONNECT_PASSWORD`) and two levels
 * down (`settings.connect.password`, `req.headers.x-api-key`, `request.headers.authorization`). That
 * covers every shape logged here; a secret nested deeper would not be redacted, so none is logged.
 */
export const REDACTED_PATHS: readonly string[] = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

export interface LoggerOptions {
  /** The lowest level written (default 'info'). */
  level?: Level;
  /**
   * Where lines go (default: stderr, written synchronously so that a line logged just before
   * `process.exit()` is not lost). Tests pass a stream: `{ write(line) { lines.push(line) } }`;
   * pino calls it synchronously, one line (ending in "\n") per call.
   */
  destination?: DestinationStream;
}

let stderr: DestinationStream | undefined;

export function createLogger(options: LoggerOptions = {}): Logger {
  // pino's default destination buffers its writes; process.exit() (config error, listen error, the
  // end of a shutdown) would drop what is still buffered. A synchronous fd-2 writer drops nothing.
  const destination = options.destination ?? (stderr ??= pino.destination({ dest: 2, sync: true }));
  const log = pino(
    {
      level: options.level ?? 'info',
      // Today's line: no pid/hostname, the level by name, the time as an ISO string, `message`.
      base: undefined,
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACTED_PATHS], censor: '[Redacted]' },
    },
    destination,
  );
  // The message goes first in the logged object (not as pino's msg argument, which pino writes
  // after the fields), so the line reads `"message":"…"` followed by the fields, as before.
  const at =
    (level: Level) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (log.isLevelEnabled(level)) log[level]({ message, ...fields });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
