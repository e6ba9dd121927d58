import type { ServiceCall } from '../../src/domain/service-call.js';
import { HistoryService, type HistorySource, type PeriodAnswer, type PeriodQuery } from '../../src/history/history-service.js';
import { InProcessIngest } from '../../src/history/history-ingest.js';
import { MemoryHistoryStore } from '../../src/history/memory-history-store.js';
import type { QuotaJournal } from '../../src/history/quota-journal.js';
import { LocalQuota } from '../../src/history/quota-authority.js';
import { QuotaLedger } from '../../src/history/quota-ledger.js';
import type { Logger } from '../../src/server/logger.js';
import { SimulatedHistory } from '../../src/simulator/dataset.js';
import { ManualClock } from '../../src/time/clock.js';
import type { HistoryRequest } from '../../src/upstream/history-request.js';

/** The history core in one process over a scripted source, on a ManualClock: for tests of the service. */

export const ZONE = 'Europe/Moscow';
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const at = (moscow: string): number => Date.parse(`${moscow}+03:00`);

/** A source over generated history that counts its calls and can be held, made to fail, or given rows. */
export class ScriptedSource implements HistorySource {
  readonly requests: HistoryRequest[] = [];
  /** Calls open now, and the most ever open at once. */
  open = 0;
  maxOpen = 0;
  private failures: Error[] = [];
  private answers: ServiceCall[][] = [];
  private gate: Promise<void> | null = null;
  private releaseGate: (() => void) | null = null;

  constructor(private readonly data: SimulatedHistory) {}

  failNext(error: Error): void {
    this.failures.push(error);
  }

  /** The next call answers exactly these rows. */
  answerNext(calls: ServiceCall[]): void {
    this.answers.push(calls);
  }

  hold(): void {
    this.gate = new Promise((resolve) => {
      this.releaseGate = resolve;
    });
  }

  release(): void {
    this.releaseGate?.();
    this.gate = null;
  }

  async *history(request: HistoryRequest): AsyncGenerator<ServiceCall[]> {
    this.requests.push(request);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    try {
      // Rows as of the moment the call is made, like the real service.
      const calls = this.answers.shift() ?? this.data.callsBetween(request.periodFrom as number, request.periodTo as number);
      if (this.gate) await this.gate;
      const failure = this.failures.shift();
      if (failure) {
        yield calls.slice(0, 3); // some rows first: they must not be kept
        throw failure;
      }
      yield calls;
    } finally {
      this.open--;
    }
  }
}

/** Every call of an answer, in history order. */
export const idsOf = async (answer: PeriodAnswer): Promise<string[]> => (await answer.page(null, 1_000_000)).calls.map((c) => c.callId);

/**
 * `maxCallsPerRequest` defaults to more than any hour allows here, so that the tests of the hourly
 * limit are not cut short by the share of one request (tested on its own below).
 */
export function setUp(
  now: string,
  limits: {
    day?: number;
    night?: number;
    maxCallsPerRequest?: number;
    reserve?: { day: number; night: number };
    backfillDays?: number;
    concurrency?: number;
    nightMaxDays?: number;
    journal?: QuotaJournal;
  } = {},
  logger?: Logger,
) {
  const clock = new ManualClock(at(now));
  const data = new SimulatedHistory({ seed: 5, callsPerDay: 50, zone: ZONE, clock });
  const source = new ScriptedSource(data);
  const ledger = new QuotaLedger(
    { zone: ZONE, dayHours: { from: 8, to: 20 }, dayLimit: limits.day ?? 10, nightLimit: limits.night ?? 50, reserve: limits.reserve },
    clock,
    { journal: limits.journal },
  );
  const store = new MemoryHistoryStore(ZONE);
  const service = new HistoryService({
    store,
    ingest: new InProcessIngest(source, store),
    ledger: new LocalQuota(ledger),
    clock,
    zone: ZONE,
    dayMaxDays: 7,
    nightMaxDays: limits.nightMaxDays ?? 7,
    settleHours: 2,
    failedRetryMs: HOUR,
    maxCallsPerRequest: limits.maxCallsPerRequest ?? 1000,
    backfillDays: limits.backfillDays,
    concurrency: limits.concurrency,
    logger,
  });
  const ask = async (from: string, to: string, maxAgeMs = 15 * MIN): Promise<PeriodAnswer> => {
    const query: PeriodQuery = { from: at(from), to: at(to), maxAgeMs, filter: {} };
    const [answer] = await service.answer([query]);
    if (answer instanceof Error) throw answer;
    return answer as PeriodAnswer;
  };
  const expected = (from: string, to: string): string[] => data.callsBetween(at(from), at(to)).map((c) => c.callId);
  return { clock, source, service, ask, expected, ledger };
}

