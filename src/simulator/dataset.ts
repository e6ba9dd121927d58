/**
 * A deterministic, generated call history: the simulator's stand-in for 1C-Connect's data.
 *
 * Calls are generated one local calendar day (in the upstream's zone) at a time, from a PRNG keyed
 * by (seed, day), so a day's calls are the same whatever range is asked and however often. A call
 * exists only once the injected clock has passed its CallTime, so "today" grows as the clock moves.
 */
import type { Clock } from '../time/clock.js';
import { addDays, localDayOf, startOfDay, wallToInstant, type LocalDay } from '../time/zone.js';
import type { ServiceCall } from '../domain/service-call.js';
import { Random } from './random.js';

export interface SimulatedHistoryOptions {
  seed: number;
  /** Calls generated for every whole day (before the clock cuts "today" short). */
  callsPerDay: number;
  /** The upstream's IANA zone: days and working hours are its wall clock. */
  zone: string;
  clock: Clock;
  /** Days before this one are empty: the account's history starts here. */
  firstDay?: LocalDay;
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

/**
 * A generated call with the moment it started ringing. The upstream selects periods by that moment
 * and has no column for it; `call` is exactly what it writes.
 */
export interface SimulatedCall {
  call: ServiceCall;
  /** Epoch ms, whole seconds: when the call started ringing. */
  startedAt: number;
}

/** The upstream's order: by start, then by call ID. */
function compareByStart(a: SimulatedCall, b: SimulatedCall): number {
  return a.startedAt - b.startedAt || (a.call.callId < b.call.callId ? -1 : a.call.callId > b.call.callId ? 1 : 0);
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

  /** Calls with from <= callTime < to that exist by the clock's now, in history order. */
  callsBetween(fromMs: number, toMs: number): ServiceCall[] {
    return [...this.iterateCallsBetween(fromMs, toMs)];
  }

  /**
   * Like callsBetween, day by day without collecting: a long range streams in bounded memory.
   * The clock is read once, when iteration starts.
   */
  *iterateCallsBetween(fromMs: number, toMs: number): Generator<ServiceCall> {
    const to = Math.min(toMs, this.clock.now());
    const start = this.historyStart();
    const from = start === null ? fromMs : Math.max(fromMs, start);
    if (!(from < to)) return;
    for (let day = localDayOf(from, this.zone); startOfDay(day, this.zone) < to; day = addDays(day, 1)) {
      for (const { call, startedAt } of this.generatedDay(day)) {
        if (startedAt >= from && startedAt < to) yield call;
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
    return calls.sort(compareByStart);
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
