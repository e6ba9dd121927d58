import { type DayHours, parseDayHours } from './time/day-night.js';
import { isValidTimeZone } from './time/zone.js';

/** Everything the server reads from the environment (the contract in shared/design.md), validated. */
export interface Settings {
  port: number;
  host: string;
  connect: ConnectSettings;
  maxQueryDays: number;
  cacheMaxAgeSeconds: number;
  cacheSettleHours: number;
  /** How long (s) days whose complete upstream response could not be decoded are not asked for again. */
  failedRetrySeconds: number;
  /** How the hourly quota is shared between interactive questions and background work. */
  economy: EconomySettings;
  /** Longest wait (ms) on SIGTERM for requests and upstream calls in flight before they are cut. */
  shutdownTimeoutMs: number;
  /** What one GraphQL request may ask for, however it is written (aliases, entity lists, batches, variables). */
  requestLimits: RequestLimits;
  /** Where history, coverage and the quota ledger are kept: `sqlite` files in dataDir, or `memory` (a restart forgets). */
  store: 'sqlite' | 'memory';
  dataDir: string;
  /** Days of history kept (older ones dropped at start and daily); undefined keeps everything. */
  retentionDays: number | undefined;
  /** The shared store of several replicas (quota, history, single flight, leader lease); unset: this process alone. */
  redisUrl: string | undefined;
  /** The prefix of every Redis key and channel of this deployment (replicas sharing one quota share it). */
  redisPrefix: string;
  /** The lease (ms) of a fetch lock and of the background leader in Redis: how soon another replica takes over a dead one's work. */
  redisLeaseMs: number;
  apiKeys: string[];
  graphiql: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export interface RequestLimits {
  /** Days of history all its serviceCalls fields ask for together (a week for 50 clients is 350). */
  maxDays: number;
  /** Calls all its pages may return together (the sum of their `first`): bounds the response size. */
  maxCalls: number;
  /** Values (leaf fields) its response may hold: bounds the response's bytes (a value is ~20–60 bytes). */
  maxValues: number;
  /** Aliases in one operation (a gateway's batch names each delegation with one). */
  maxAliases: number;
}

export interface EconomySettings {
  /** Calls per hour kept for interactive questions: background work spends only above them (day, night). */
  reserve: { day: number; night: number };
  /** Never-held past days (counted back from today) fetched in the background at night. */
  backfillDays: number;
  /** Upstream calls open at once; the rest wait, interactive before background. */
  concurrency: number;
  /** The smallest `maxAge` (s) a question may ask for: a smaller one is raised to it. */
  minMaxAgeSeconds: number;
  /** Calls one HTTP request (all its operations) may spend; undefined: half the hourly limit in force. */
  maxCallsPerRequest: number | undefined;
}

export interface ConnectSettings {
  /** Unset: demo mode, the built-in simulator. */
  url: string | undefined;
  login: string;
  password: string;
  timeZone: string;
  dayHours: DayHours;
  dayLimit: number;
  nightLimit: number;
  dayMaxDays: number;
  nightMaxDays: number;
  timeoutMs: number;
}

/** A setting that stops start-up; the message names the variable, never a secret's value. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `${JSON.stringify(raw)} is not a whole number`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `${value} is outside ${min}..${max}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `${JSON.stringify(env[name])} is not true or false`);
}

function connectUrl(env: Env): string | undefined {
  const raw = env.CONNECT_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('CONNECT_URL', 'is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('CONNECT_URL', 'must be http(s)');
  if (url.username || url.password) {
    throw new ConfigError('CONNECT_URL', 'must not hold credentials: set CONNECT_LOGIN and CONNECT_PASSWORD');
  }
  return url.toString();
}

/** `N` (day and night) or `DAY,NIGHT`. */
function reserve(env: Env, limits: { day: number; night: number }): EconomySettings['reserve'] {
  const raw = env.QUOTA_RESERVE?.trim();
  if (!raw) return { day: Math.min(3, limits.day - 1), night: Math.min(10, limits.night - 1) };
  const m = /^(\d+)(?:\s*,\s*(\d+))?$/.exec(raw);
  if (!m) throw new ConfigError('QUOTA_RESERVE', `${JSON.stringify(raw)} is not N or DAY,NIGHT (whole numbers of calls per hour)`);
  const day = Number(m[1]);
  const night = Number(m[2] ?? m[1]);
  if (day >= limits.day) throw new ConfigError('QUOTA_RESERVE', `${day} by day leaves no call of CONNECT_DAY_LIMIT (${limits.day}) for background work; use less`);
  if (night >= limits.night) throw new ConfigError('QUOTA_RESERVE', `${night} at night leaves no call of CONNECT_NIGHT_LIMIT (${limits.night}) for background work; use less`);
  return { day, night };
}

function redisUrl(env: Env): string | undefined {
  const raw = env.REDIS_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'is not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new ConfigError('REDIS_URL', 'must be redis:// or rediss://');
  return raw;
}

function store(env: Env): Settings['store'] {
  const raw = env.STORE?.trim().toLowerCase() || 'sqlite';
  if (raw === 'sqlite' || raw === 'memory') return raw;
  throw new ConfigError('STORE', `${JSON.stringify(env.STORE)} is not sqlite or memory`);
}

function logLevel(env: Env): Settings['logLevel'] {
  const raw = env.LOG_LEVEL?.trim().toLowerCase() || 'info';
  if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error') return raw;
  throw new ConfigError('LOG_LEVEL', `${JSON.stringify(env.LOG_LEVEL)} is not debug, info, warn or error`);
}

export function loadSettings(env: Env = process.env): Settings {
  const url = connectUrl(env);
  const login = env.CONNECT_LOGIN ?? '';
  const password = env.CONNECT_PASSWORD ?? '';
  if (url && !login) throw new ConfigError('CONNECT_LOGIN', 'is required when CONNECT_URL is set');
  if (url && !password) throw new ConfigError('CONNECT_PASSWORD', 'is required when CONNECT_URL is set');

  const timeZone = env.CONNECT_TIMEZONE?.trim() || 'Europe/Moscow';
  if (!isValidTimeZone(timeZone)) throw new ConfigError('CONNECT_TIMEZONE', `${JSON.stringify(timeZone)} is not an IANA time zone`);
  const dayHoursText = env.CONNECT_DAY_HOURS?.trim() || '08-20';
  const dayHours = parseDayHours(dayHoursText);
  if (!dayHours) throw new ConfigError('CONNECT_DAY_HOURS', `${JSON.stringify(dayHoursText)} is not HH-HH with the first hour before the second`);

  const host = env.HOST?.trim() || '127.0.0.1';
  const dayLimit = integer(env, 'CONNECT_DAY_LIMIT', 10, 1, 10_000);
  const nightLimit = integer(env, 'CONNECT_NIGHT_LIMIT', 50, 1, 10_000);
  const apiKeys = [...new Set((env.API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean))];
  // A list of nothing would turn authentication off while the operator meant it on.
  if (env.API_KEYS !== undefined && env.API_KEYS.trim() !== '' && !apiKeys.length) throw new ConfigError('API_KEYS', 'holds no key (only commas or spaces)');

  return {
    port: integer(env, 'PORT', 4000, 0, 65_535),
    host,
    connect: {
      url,
      login,
      password,
      timeZone,
      dayHours,
      dayLimit,
      nightLimit,
      dayMaxDays: integer(env, 'CONNECT_DAY_MAX_DAYS', 7, 1, 366),
      nightMaxDays: integer(env, 'CONNECT_NIGHT_MAX_DAYS', 31, 1, 366),
      timeoutMs: integer(env, 'CONNECT_TIMEOUT_MS', 120_000, 100, 3_600_000),
    },
    maxQueryDays: integer(env, 'MAX_QUERY_DAYS', 366, 1, 3660),
    cacheMaxAgeSeconds: integer(env, 'CACHE_MAX_AGE_SECONDS', 900, 0, 31_536_000),
    cacheSettleHours: integer(env, 'CACHE_SETTLE_HOURS', 2, 0, 720),
    failedRetrySeconds: integer(env, 'FAILED_RETRY_SECONDS', 3600, 0, 604_800),
    economy: {
      reserve: reserve(env, { day: dayLimit, night: nightLimit }),
      backfillDays: integer(env, 'BACKFILL_DAYS', 92, 0, 3660),
      concurrency: integer(env, 'CONNECT_CONCURRENCY', 2, 1, 64),
      minMaxAgeSeconds: integer(env, 'MIN_MAX_AGE_SECONDS', 60, 0, 31_536_000),
      maxCallsPerRequest: env.MAX_CALLS_PER_REQUEST?.trim() ? integer(env, 'MAX_CALLS_PER_REQUEST', 1, 1, 10_000) : undefined,
    },
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
    requestLimits: {
      maxDays: integer(env, 'REQUEST_MAX_DAYS', 10_000, 1, 10_000_000),
      maxCalls: integer(env, 'REQUEST_MAX_CALLS', 10_000, 1, 10_000_000),
      maxValues: integer(env, 'REQUEST_MAX_VALUES', 200_000, 1, 100_000_000),
      maxAliases: integer(env, 'REQUEST_MAX_ALIASES', 100, 1, 10_000),
    },
    store: store(env),
    dataDir: env.DATA_DIR?.trim() || './data',
    retentionDays: env.RETENTION_DAYS?.trim() ? integer(env, 'RETENTION_DAYS', 0, 1, 36_600) : undefined,
    redisUrl: redisUrl(env),
    redisPrefix: env.REDIS_PREFIX?.trim() || 'connect-calls:',
    redisLeaseMs: integer(env, 'REDIS_LEASE_MS', 30_000, 300, 3_600_000),
    apiKeys,
    graphiql: boolean(env, 'GRAPHIQL', true),
    logLevel: logLevel(env),
  };
}
