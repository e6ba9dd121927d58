/**
 * `npm run simulator`: the simulated 1C-Connect endpoint on its own, for trying clients by hand.
 *
 * Environment: SIM_PORT (8081), SIM_SEED (1), SIM_CALLS_PER_DAY (200), SIM_ZONE (Europe/Moscow),
 * SIM_LOGIN / SIM_PASSWORD (demo / demo-password), SHUTDOWN_TIMEOUT_MS (10000). Listens on
 * 127.0.0.1 only. `npm run simulator` execs this process, so SIGTERM to npm's PID reaches it.
 */
import { createLogger } from '../server/logger.js';
import { stopOnSignals } from '../server/shutdown.js';
import { isValidTimeZone } from '../time/zone.js';
import { SIMULATOR_DEFAULTS, startSimulator } from './server.js';

function integerFromEnv(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function settingsFromEnv() {
  const zone = process.env['SIM_ZONE']?.trim() || SIMULATOR_DEFAULTS.zone;
  if (!isValidTimeZone(zone)) throw new Error(`SIM_ZONE is not a known IANA time zone: ${JSON.stringify(zone)}`);
  return {
    host: '127.0.0.1',
    port: integerFromEnv('SIM_PORT', 8081, 0, 65_535),
    seed: integerFromEnv('SIM_SEED', SIMULATOR_DEFAULTS.seed, -(2 ** 31), 2 ** 31 - 1),
    callsPerDay: integerFromEnv('SIM_CALLS_PER_DAY', SIMULATOR_DEFAULTS.callsPerDay, 0, 100_000),
    zone,
    login: process.env['SIM_LOGIN'] || SIMULATOR_DEFAULTS.login,
    password: process.env['SIM_PASSWORD'] || SIMULATOR_DEFAULTS.password,
    shutdownTimeoutMs: integerFromEnv('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
  };
}

async function main(): Promise<void> {
  let settings: ReturnType<typeof settingsFromEnv>;
  try {
    settings = settingsFromEnv();
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
    return;
  }
  const simulator = await startSimulator(settings);
  // The simulator's close() already destroys every connection, stalled answers included: the drain
  // is immediate, and the time limit only guards against a close that hangs.
  stopOnSignals(
    { close: () => simulator.close(), cut: () => {}, openWork: () => ({}) },
    { timeoutMs: settings.shutdownTimeoutMs, logger: createLogger() },
  );
  // Announced once a signal is handled: whoever reads this line may stop the simulator from then on.
  console.log(`1C-Connect simulator (GetHistoryOfServiceCalls) listening on ${simulator.url}`);
  console.log(`  login:    ${simulator.login}`);
  console.log(`  password: ${simulator.password}`);
  console.log(`  seed ${settings.seed}, ${settings.callsPerDay} calls per day, zone ${settings.zone}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
