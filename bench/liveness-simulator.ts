/**
 * The simulator for bench/liveness in a process of its own (so generating a year of XML does not
 * share a thread with what is measured): 3,000 calls a day, limits no test of the quota would use.
 * Prints its URL on stdout.
 */
import { startSimulator } from '../src/simulator/server.js';

const simulator = await startSimulator({
  seed: 41,
  callsPerDay: Number(process.env.SIM_CALLS_PER_DAY ?? 3000),
  zone: 'Europe/Moscow',
  dayLimit: 10_000,
  nightLimit: 10_000,
});
console.log(simulator.url);
process.on('SIGTERM', () => void simulator.close().then(() => process.exit(0)));
