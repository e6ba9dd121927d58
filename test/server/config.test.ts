import { describe, expect, it } from 'vitest';
import { ConfigError, loadSettings } from '../../src/config.js';

describe('settings from the environment', () => {
  it('has the defaults of the design', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      maxQueryDays: 366,
      cacheMaxAgeSeconds: 900,
      cacheSettleHours: 2,
      failedRetrySeconds: 3600,
      shutdownTimeoutMs: 10_000,
      requestLimits: { maxDays: 10_000, maxCalls: 10_000, maxValues: 200_000, maxAliases: 100 },
      graphiql: true,
      apiKeys: [],
      store: 'sqlite',
      dataDir: './data',
      retentionDays: undefined,
      connect: {
        url: undefined,
        timeZone: 'Europe/Moscow',
        dayHours: { from: 8, to: 20 },
        dayLimit: 10,
        nightLimit: 50,
        dayMaxDays: 7,
        nightMaxDays: 31,
        timeoutMs: 120_000,
      },
      economy: { reserve: { day: 3, night: 10 }, backfillDays: 92, concurrency: 2, minMaxAgeSeconds: 60, maxCallsPerRequest: undefined },
    });
  });

  it('reads the shared store settings, never echoing a Redis password', () => {
    expect(loadSettings({ REDIS_URL: 'redis://:secret@127.0.0.1:6379/2', REDIS_PREFIX: 'partner-a:' })).toMatchObject({
      redisUrl: 'redis://:secret@127.0.0.1:6379/2',
      redisPrefix: 'partner-a:',
    });
    expect(loadSettings({}).redisPrefix).toBe('connect-calls:');
    expect(() => loadSettings({ REDIS_URL: 'ftp://:secret@host' })).toThrow(/^REDIS_URL: must be redis:\/\/ or rediss:\/\/$/);
  });

  it('reads the quota economy settings, a reserve for both kinds or each', () => {
    expect(loadSettings({ QUOTA_RESERVE: '2', BACKFILL_DAYS: '30', CONNECT_CONCURRENCY: '4', MIN_MAX_AGE_SECONDS: '0', MAX_CALLS_PER_REQUEST: '3' }).economy).toEqual({
      reserve: { day: 2, night: 2 },
      backfillDays: 30,
      concurrency: 4,
      minMaxAgeSeconds: 0,
      maxCallsPerRequest: 3,
    });
    expect(loadSettings({ QUOTA_RESERVE: '1, 20' }).economy.reserve).toEqual({ day: 1, night: 20 });
    // A small limit keeps at least one call for background work by default.
    expect(loadSettings({ CONNECT_DAY_LIMIT: '2', CONNECT_NIGHT_LIMIT: '4' }).economy.reserve).toEqual({ day: 1, night: 3 });
  });

  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['CONNECT_TIMEZONE', { CONNECT_TIMEZONE: 'Mars/Olympus' }],
    ['CONNECT_DAY_HOURS', { CONNECT_DAY_HOURS: '20-08' }],
    ['CONNECT_DAY_LIMIT', { CONNECT_DAY_LIMIT: '0' }],
    ['CONNECT_NIGHT_MAX_DAYS', { CONNECT_NIGHT_MAX_DAYS: '-1' }],
    ['CACHE_MAX_AGE_SECONDS', { CACHE_MAX_AGE_SECONDS: '15m' }],
    ['GRAPHIQL', { GRAPHIQL: 'maybe' }],
    ['FAILED_RETRY_SECONDS', { FAILED_RETRY_SECONDS: 'an hour' }],
    ['SHUTDOWN_TIMEOUT_MS', { SHUTDOWN_TIMEOUT_MS: '-5' }],
    ['REQUEST_MAX_DAYS', { REQUEST_MAX_DAYS: '0' }],
    ['REQUEST_MAX_CALLS', { REQUEST_MAX_CALLS: '1e4' }],
    ['REQUEST_MAX_VALUES', { REQUEST_MAX_VALUES: 'lots' }],
    ['REQUEST_MAX_ALIASES', { REQUEST_MAX_ALIASES: '0' }],
    ['STORE', { STORE: 'postgres' }],
    ['QUOTA_RESERVE', { QUOTA_RESERVE: 'three' }],
    ['QUOTA_RESERVE', { QUOTA_RESERVE: '10' }],
    ['QUOTA_RESERVE', { QUOTA_RESERVE: '3,50' }],
    ['BACKFILL_DAYS', { BACKFILL_DAYS: '-1' }],
    ['CONNECT_CONCURRENCY', { CONNECT_CONCURRENCY: '0' }],
    ['MIN_MAX_AGE_SECONDS', { MIN_MAX_AGE_SECONDS: '1m' }],
    ['MAX_CALLS_PER_REQUEST', { MAX_CALLS_PER_REQUEST: '0' }],
    ['API_KEYS', { API_KEYS: ' , ,' }],
    ['REDIS_URL', { REDIS_URL: 'localhost:6379' }],
    ['REDIS_URL', { REDIS_URL: 'http://127.0.0.1:6379' }],
    ['RETENTION_DAYS', { RETENTION_DAYS: '0' }],
    ['RETENTION_DAYS', { RETENTION_DAYS: 'a year' }],
    ['CONNECT_URL', { CONNECT_URL: 'not a url' }],
    ['CONNECT_URL', { CONNECT_URL: 'https://user:secret@cus.1c-connect.com/ws', CONNECT_LOGIN: 'u', CONNECT_PASSWORD: 'p' }],
    ['CONNECT_LOGIN', { CONNECT_URL: 'https://cus.1c-connect.com/ws' }],
    ['CONNECT_PASSWORD', { CONNECT_URL: 'https://cus.1c-connect.com/ws', CONNECT_LOGIN: 'u' }],
  ])('stops on a bad %s, naming it', (variable, env) => {
    let error: unknown;
    try {
      loadSettings(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toMatch(new RegExp(`^${variable}: `));
    expect((error as ConfigError).message).not.toContain('secret');
  });

  it('reads the store, its directory and the retention', () => {
    expect(loadSettings({ STORE: 'Memory', DATA_DIR: '/var/lib/calls', RETENTION_DAYS: '400' })).toMatchObject({
      store: 'memory',
      dataDir: '/var/lib/calls',
      retentionDays: 400,
    });
  });

  it('reads API keys and switches GraphiQL off', () => {
    const s = loadSettings({ API_KEYS: ' a1, b2 ,,', GRAPHIQL: 'false' });
    expect(s.apiKeys).toEqual(['a1', 'b2']);
    expect(s.graphiql).toBe(false);
  });
});
