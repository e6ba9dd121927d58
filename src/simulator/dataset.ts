/**
 * A deterministic, generated call history: the simulator's stand-in for 1C-Connect's data.
 *
 * Calls are generated one local calendar day (in the upstream's zone) at a time, from a PRNG keyed
 * by (seed, day), so a day's calls are the same whatever range is asked and however often. A call
 * belongs to the day it started ringing in (`startedAt`); the upstream selects periods by that
 * moment, while its CallTime is when the call was answered.
 *
 * With `answerTimes: 'at-start'` (the default, and the data every test was written against)
 * CallTime is the start. With `'realistic'` (see ANSWER_MIX) a successful call is answered a few
 * seconds after it started, an unsuccessful one carries its start or 1C's empty date (callTime
 * null), and every day has calls that ring before midnight and are answered after it. Realism
 * draws from its own PRNG stream, so it changes times only: the same calls, IDs and parties.
 *
 * A call exists once the injected clock has passed its start and its answer, so "today" grows as
 * the clock moves.
 */
import type { Clock } from '../time/clock.js';
import { addDays, localDayOf, startOfDay, wallToInstant, type LocalDay } from '../time/zone.js';
import type { ServiceCall } from '../domain/service-call.js';
import { Random } from './random.js';

/**
 * How CallTime relates to the start of a call: `'at-start'` (CallTime is the start: today's data)
 * or `'realistic'` (answered after ringing, empty dates, midnight-crossing calls; see ANSWER_MIX).
 */
export type AnswerTimes = 'at-start' | 'realistic';

export interface SimulatedHistoryOptions {
  seed: number;
  /** Calls generated for every whole day (before the clock cuts "today" short). */
  callsPerDay: number;
  /** The upstream's IANA zone: days and working hours are its wall clock. */
  zone: string;
  clock: Clock;
  /** Days before this one are empty: the account's history starts here. */
  firstDay?: LocalDay;
  /** Default `'at-start'`. */
  answerTimes?: AnswerTimes;
}

/** A support line (ServiceID). */
export interface SupportLine {
  serviceId: string;
  name: string;
  /** Specialists answering on this line. */
  specialistIds: string[];
}

/** A client organisation (ClientID). */
export interface SimulatedClient {
  clientId: string;
  name: string;
  /** The lines this client is connected to. */
  serviceIds: string[];
  serviceUserIds: string[];
}

/** A 1C-Connect account of a client's employee (ServiceUserID). */
export interface ServiceUser {
  serviceUserId: string;
  clientId: string;
  name: string;
}

/** A partner's employee giving support (SpecialistID). */
export interface Specialist {
  specialistId: string;
  name: string;
  serviceIds: string[];
}

/** Shares used by the generator; tests check the generated data against them. */
export const CALL_MIX = {
  inbound: 0.7,
  unsuccessful: 0.15,
  /** Share of calls placed at any hour instead of within working hours. */
  anyHour: 0.12,
  workingHours: { from: 8, to: 20 },
  durationSeconds: { min: 20, max: 1800 },
  nullClient: 0.015,
  nullService: 0.01,
  nullServiceUser: 0.01,
  nullCaller: 0.005,
  nullCallee: 0.005,
} as const;

/** Shares and times of `answerTimes: 'realistic'`; tests check the generated data against them. */
export const ANSWER_MIX = {
  /** A successful call is answered this many whole seconds after it started ringing. */
  ringSeconds: { min: 3, max: 60 },
  /** Share of unsuccessful (never answered) calls whose CallTime is 1C's empty date; the rest carry their start. */
  emptyDate: 0.3,
  /** Share of calls moved into the last minute of their day (some of them are answered after midnight). */
  lastMinute: 0.01,
} as const;

/** The longest time from a call's start to its answer (ms): how far back an answer-time search must look. */
export const MAX_RING_MS = ANSWER_MIX.ringSeconds.max * 1000;

/**
 * A generated call with the moment it started ringing. The upstream selects periods by that moment
 * and has no column for it; `call` is exactly what it writes.
 */
export interface SimulatedCall {
  call: ServiceCall;
  /** Epoch ms, whole seconds: when the call started ringing. */
  startedAt: number;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The upstream's order: by start, then by call ID. */
function compareByStart(a: SimulatedCall, b: SimulatedCall): number {
  return a.startedAt - b.startedAt || compareIds(a.call.callId, b.call.callId);
}

/** Answer order: by callTime, then by call ID (for calls that have a callTime). */
function compareByAnswer(a: ServiceCall, b: ServiceCall): number {
  return (a.callTime ?? 0) - (b.callTime ?? 0) || compareIds(a.callId, b.callId);
}

/** When a call exists upstream: once it started and, if answered, once answered. */
function existsFrom({ call, startedAt }: SimulatedCall): number {
  return call.callTime === null ? startedAt : Math.max(startedAt, call.callTime);
}

/** Keeps memory bounded whatever range is asked: at most this many generated calls stay cached. */
const MAX_CACHED_CALLS = 200_000;
const MIN_CACHED_DAYS = 8;

const LINE_NAMES = ['1С:Бухгалтерия', 'Зарплата и кадры', 'Торговля и склад', 'Технические вопросы'];
const ORG_FORMS = ['ООО', 'АО', 'ИП'];
const ORG_WORDS = [
  'Ромашка', 'Вектор', 'Северный ветер', 'Альфа-Строй', 'Меридиан', 'Гранит', 'Лотос', 'Импульс',
  'Березка', 'Техносфера', 'Орион', 'Сигма', 'Полярис', 'Каскад', 'Заря', 'Ладога', 'Атлант',
  'Феникс', 'Восход', 'Радуга', 'Кристалл', 'Янтарь', 'Слобода', 'Парус', 'Ника', 'Эталон', 'Волна',
];
const FIRST_NAMES = ['Анна', 'Иван', 'Мария', 'Пётр', 'Елена', 'Сергей', 'Ольга', 'Дмитрий', 'Наталья', 'Алексей', 'Ирина', 'Павел'];
const LAST_NAMES = ['Иванов', 'Петров', 'Смирнов', 'Кузнецов', 'Попов', 'Соколов', 'Лебедев', 'Козлов', 'Новиков', 'Морозов'];

interface ReferenceData {
  lines: SupportLine[];
  clients: SimulatedClient[];
  serviceUsers: ServiceUser[];
  specialists: Specialist[];
  /** Busy clients call more: weights parallel to `clients`. */
  clientWeights: number[];
}

function personName(random: Random): string {
  return `${random.pick(LAST_NAMES)} ${random.pick(FIRST_NAMES)}`;
}

function generateReference(seed: number): ReferenceData {
  const random = new Random(`${seed}:reference`);
  const lineCount = random.int(3, 4);
  const lines: SupportLine[] = random
    .shuffle(LINE_NAMES)
    .slice(0, lineCount)
    .map((name) => ({ serviceId: random.uuid(), name: `Линия «${name}»`, specialistIds: [] }));

  const specialists: Specialist[] = [];
  const specialistCount = random.int(8, 12);
  for (let i = 0; i < specialistCount; i++) {
    // Round-robin first line guarantees every line is staffed; some specialists cover a second one.
    const first = lines[i % lines.length] as SupportLine;
    const serviceIds = [first.serviceId];
    if (random.chance(0.4)) {
      const second = random.pick(lines);
      if (second !== first) serviceIds.push(second.serviceId);
    }
    specialists.push({ specialistId: random.uuid(), name: personName(random), serviceIds });
  }
  for (const specialist of specialists) {
    for (const serviceId of specialist.serviceIds) {
      lines.find((l) => l.serviceId === serviceId)?.specialistIds.push(specialist.specialistId);
    }
  }

  const clients: SimulatedClient[] = [];
  const serviceUsers: ServiceUser[] = [];
  const orgNames = random.shuffle(ORG_WORDS);
  for (let i = 0; i < 25; i++) {
    const clientId = random.uuid();
    const serviceIds = random.shuffle(lines.map((l) => l.serviceId)).slice(0, random.int(1, 2));
    const users: ServiceUser[] = [];
    const userCount = random.int(1, 4);
    for (let u = 0; u < userCount; u++) {
      users.push({ serviceUserId: random.uuid(), clientId, name: personName(random) });
    }
    serviceUsers.push(...users);
    clients.push({
      clientId,
      name: `${random.pick(ORG_FORMS)} «${orgNames[i % orgNames.length] ?? 'Клиент'}»`,
      serviceIds,
      serviceUserIds: users.map((u) => u.serviceUserId),
    });
  }
  const clientWeights = clients.map((_, rank) => 1 / Math.pow(rank + 1, 0.7));
  return { lines, clients, serviceUsers, specialists, clientWeights };
}

export class SimulatedHistory {
  readonly seed: number;
  readonly callsPerDay: number;
  readonly zone: string;
  readonly firstDay: LocalDay | undefined;
  readonly answerTimes: AnswerTimes;
  readonly lines: readonly SupportLine[];
  readonly clients: readonly SimulatedClient[];
  readonly serviceUsers: readonly ServiceUser[];
  readonly specialists: readonly Specialist[];

  private readonly clock: Clock;
  private readonly reference: ReferenceData;
  private readonly specialistsById: Map<string, Specialist>;
  private readonly dayCache = new Map<LocalDay, readonly SimulatedCall[]>();
  private readonly maxCachedDays: number;

  constructor(options: SimulatedHistoryOptions) {
    if (!Number.isSafeInteger(options.seed)) throw new RangeError(`seed must be an integer, got ${options.seed}`);
    if (!Number.isSafeInteger(options.callsPerDay) || options.callsPerDay < 0) {
      throw new RangeError(`callsPerDay must be a non-negative integer, got ${options.callsPerDay}`);
    }
    if (options.firstDay !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(options.firstDay)) {
      throw new RangeError(`firstDay must be YYYY-MM-DD, got ${options.firstDay}`);
    }
    this.seed = options.seed;
    this.callsPerDay = options.callsPerDay;
    this.zone = options.zone;
    this.firstDay = options.firstDay;
    this.answerTimes = options.answerTimes ?? 'at-start';
    if (this.answerTimes !== 'at-start' && this.answerTimes !== 'realistic') {
      throw new RangeError(`answerTimes must be 'at-start' or 'realistic', got ${String(this.answerTimes)}`);
    }
    this.clock = options.clock;
    this.reference = generateReference(options.seed);
    this.lines = this.reference.lines;
    this.clients = this.reference.clients;
    this.serviceUsers = this.reference.serviceUsers;
    this.specialists = this.reference.specialists;
    this.specialistsById = new Map(this.specialists.map((s) => [s.specialistId, s]));
    this.maxCachedDays = Math.max(MIN_CACHED_DAYS, Math.floor(MAX_CACHED_CALLS / Math.max(1, options.callsPerDay)));
  }

  /** Start of the history (start of `firstDay`), or null when it has no start. */
  historyStart(): number | null {
    return this.firstDay === undefined ? null : startOfDay(this.firstDay, this.zone);
  }

  /**
   * The upstream's unfiltered answer for PeriodFrom = fromMs, PeriodTo = toMs: the calls with
   * fromMs <= startedAt < toMs that exist by the clock's now, in the upstream's order (start, then
   * call ID). With realism on, some callTimes lie after toMs (answered later) or are null.
   */
  callsStartedBetween(fromMs: number, toMs: number): ServiceCall[] {
    return [...this.iterateCallsStartedBetween(fromMs, toMs)];
  }

  /** Like callsStartedBetween, with each call's start. */
  simulatedCallsStartedBetween(fromMs: number, toMs: number): SimulatedCall[] {
    return [...this.iterateSimulatedCallsStartedBetween(fromMs, toMs)];
  }

  /**
   * Like callsStartedBetween, day by day without collecting: a long range streams in bounded memory.
   * The clock is read once, when iteration starts.
   */
  *iterateCallsStartedBetween(fromMs: number, toMs: number): Generator<ServiceCall> {
    for (const simulated of this.iterateSimulatedCallsStartedBetween(fromMs, toMs)) yield simulated.call;
  }

  /**
   * The calls answered in [fromMs, toMs), by callTime (calls with a null callTime are never in it),
   * that exist by the clock's now, in answer order (callTime, then call ID). The calls with a
   * callTime that a correct server serves for that period once it holds every upstream period that
   * can hold them (a call answered just after midnight comes in the previous day's answer); the
   * calls without one it places by the period that returned them, and these are not here (find
   * them with simulatedCallsStartedBetween, which gives each call's start).
   */
  callsAnsweredBetween(fromMs: number, toMs: number): ServiceCall[] {
    const answered: ServiceCall[] = [];
    // A call answered at fromMs started at most MAX_RING_MS before it.
    for (const { call } of this.iterateSimulatedCallsStartedBetween(fromMs - MAX_RING_MS, toMs)) {
      if (call.callTime !== null && call.callTime >= fromMs && call.callTime < toMs) answered.push(call);
    }
    return answered.sort(compareByAnswer);
  }

  /**
   * The upstream's selection, by start: the same as callsStartedBetween. Kept for the tests written
   * before realism; with `answerTimes: 'at-start'` it is also callsAnsweredBetween.
   */
  callsBetween(fromMs: number, toMs: number): ServiceCall[] {
    return this.callsStartedBetween(fromMs, toMs);
  }

  /** The same as iterateCallsStartedBetween (the upstream's selection, by start). */
  iterateCallsBetween(fromMs: number, toMs: number): Generator<ServiceCall> {
    return this.iterateCallsStartedBetween(fromMs, toMs);
  }

  private *iterateSimulatedCallsStartedBetween(fromMs: number, toMs: number): Generator<SimulatedCall> {
    const now = this.clock.now();
    const to = Math.min(toMs, now); // a call that has not started by now does not exist yet
    const start = this.historyStart();
    const from = start === null ? fromMs : Math.max(fromMs, start);
    if (!(from < to)) return;
    for (let day = localDayOf(from, this.zone); startOfDay(day, this.zone) < to; day = addDays(day, 1)) {
      for (const simulated of this.generatedDay(day)) {
        if (simulated.startedAt >= from && simulated.startedAt < to && existsFrom(simulated) < now) yield simulated;
      }
    }
  }

  /** Every call of a local day as generated, ignoring the clock (cached, LRU-bounded). */
  private generatedDay(day: LocalDay): readonly SimulatedCall[] {
    if (this.firstDay !== undefined && day < this.firstDay) return [];
    const cached = this.dayCache.get(day);
    if (cached) {
      this.dayCache.delete(day); // re-insert: Map order is the LRU order
      this.dayCache.set(day, cached);
      return cached;
    }
    const calls = this.generateDay(day);
    this.dayCache.set(day, calls);
    if (this.dayCache.size > this.maxCachedDays) {
      const oldest = this.dayCache.keys().next().value;
      if (oldest !== undefined) this.dayCache.delete(oldest);
    }
    return calls;
  }

  private generateDay(day: LocalDay): SimulatedCall[] {
    const random = new Random(`${this.seed}:${day}`);
    const dayStart = startOfDay(day, this.zone);
    const dayEnd = startOfDay(addDays(day, 1), this.zone);
    const dayWall = Date.parse(`${day}T00:00:00Z`);
    const calls: SimulatedCall[] = [];
    for (let i = 0; i < this.callsPerDay; i++) {
      calls.push(this.generateCall(random, dayWall, dayStart, dayEnd));
    }
    if (this.answerTimes === 'realistic') this.answerLikeTheUpstream(calls, new Random(`${this.seed}:${day}:answers`), dayEnd);
    return calls.sort(compareByStart);
  }

  /**
   * Realism, in place, from its own PRNG stream (the same draws for every call, so a call's times
   * depend only on its position in the day): answer after ringing, empty dates, last-minute starts.
   * The day's first successful call always rings in its last half-minute and is answered after
   * midnight, so any run of whole days has midnight-crossing calls.
   */
  private answerLikeTheUpstream(calls: SimulatedCall[], random: Random, dayEnd: number): void {
    const { ringSeconds } = ANSWER_MIX;
    let crossingPlaced = false;
    for (const simulated of calls) {
      const ring = random.int(ringSeconds.min, ringSeconds.max);
      const lastMinute = random.chance(ANSWER_MIX.lastMinute);
      const secondsBeforeMidnight = random.int(1, 60);
      const emptyDate = random.chance(ANSWER_MIX.emptyDate);
      const crossingRing = random.int(1, 30); // seconds before midnight of the guaranteed crossing call
      const { call } = simulated;
      if (call.callResult === 'SUCCESSFUL') {
        if (!crossingPlaced) {
          crossingPlaced = true;
          // Rings at 23:59:(60 - k) and is answered k+1..60 s later, after midnight.
          simulated.startedAt = dayEnd - crossingRing * 1000;
          call.callTime = simulated.startedAt + Math.max(ring, crossingRing + 1) * 1000;
          continue;
        }
        if (lastMinute) simulated.startedAt = dayEnd - secondsBeforeMidnight * 1000;
        call.callTime = simulated.startedAt + ring * 1000;
      } else {
        if (lastMinute) simulated.startedAt = dayEnd - secondsBeforeMidnight * 1000;
        // Never answered: 1C writes its empty date, or the start.
        call.callTime = emptyDate ? null : simulated.startedAt;
      }
    }
  }

  private generateCall(random: Random, dayWall: number, dayStart: number, dayEnd: number): SimulatedCall {
    const { clients, clientWeights, lines } = this.reference;
    const client = random.pickWeighted(clients, clientWeights);
    const serviceId = random.pick(client.serviceIds);
    const line = lines.find((l) => l.serviceId === serviceId) as SupportLine;
    const serviceUserId = random.pick(client.serviceUserIds);
    const specialist = this.specialistsById.get(random.pick(line.specialistIds)) as Specialist;

    // Whole seconds: the upstream's dateTime has no fractions, so times survive the round trip.
    const { from, to } = CALL_MIX.workingHours;
    const secondOfDay = random.chance(CALL_MIX.anyHour)
      ? random.int(0, 86_399)
      : random.int(from * 3600, to * 3600 - 1);
    const wanted = wallToInstant(dayWall + secondOfDay * 1000, this.zone);
    // DST days are 23 or 25 hours long; keep the call inside its own day.
    const startedAt = Math.min(Math.max(wanted, dayStart), dayEnd - 1000);
    const callTime = startedAt;

    const inbound = random.chance(CALL_MIX.inbound);
    const successful = !random.chance(CALL_MIX.unsuccessful);
    const { min, max } = CALL_MIX.durationSeconds;
    // Log-uniform: many short calls, a few long ones.
    const duration = Math.round(min * Math.exp(random.next() * Math.log(max / min)));
    const anomaly = random.next();
    const callId = random.uuid();

    const call: ServiceCall = {
      callId,
      clientId: client.clientId,
      serviceUserId,
      serviceId,
      callTime,
      callerId: inbound ? serviceUserId : specialist.specialistId,
      calleeId: inbound ? specialist.specialistId : serviceUserId,
      callResult: successful ? 'SUCCESSFUL' : 'UNSUCCESSFUL',
      durationSeconds: successful ? duration : 0,
    };
    // A few rows with gaps, as the real history has: unknown client, line, account or party.
    let threshold = CALL_MIX.nullClient;
    if (anomaly < threshold) call.clientId = null;
    else if (anomaly < (threshold += CALL_MIX.nullService)) call.serviceId = null;
    else if (anomaly < (threshold += CALL_MIX.nullServiceUser)) call.serviceUserId = null;
    else if (anomaly < (threshold += CALL_MIX.nullCaller)) call.callerId = null;
    else if (anomaly < (threshold += CALL_MIX.nullCallee)) call.calleeId = null;
    return { call, startedAt };
  }
}
