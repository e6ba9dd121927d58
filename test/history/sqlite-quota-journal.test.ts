import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryQuotaJournal, type QuotaJournal, QuotaJournalError } from '../../src/history/quota-journal.js';
import { QuotaLedger } from '../../src/history/quota-ledger.js';
import { QUOTA_JOURNAL_VERSION, SqliteQuotaJournal } from '../../src/history/sqlite/sqlite-quota-journal.js';
import { ManualClock } from '../../src/time/clock.js';

const RULES = { zone: 'Europe/Moscow', dayHours: { from: 8, to: 20 }, dayLimit: 10, nightLimit: 50 };
const MIN = 60_000;
const HOUR = 60 * MIN;
const T = Date.parse('2024-03-20T10:00:00+03:00');

let dir: string;
let file: string;
const open: Array<{ close(): void }> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'quota-journal-'));
  file = join(dir, 'quota.sqlite');
});

afterEach(() => {
  for (const o of open.splice(0)) o.close();
  rmSync(dir, { recursive: true, force: true });
});

function journal(now = T): SqliteQuotaJournal {
  const j = SqliteQuotaJournal.open(file, { now: () => now });
  open.push(j);
  return j;
}

function ledger(clock: ManualClock): QuotaLedger {
  const l = new QuotaLedger(RULES, clock, { journal: journal(clock.now()) });
  open.push(l);
  return l;
}

describe('SqliteQuotaJournal', () => {
  it('a restart remembers the last hour: 8 calls, then 2 more allowed, the 11th refused, an hour later allowed again', () => {
    const clock = new ManualClock(T);
    const first = ledger(clock);
    for (let i = 0; i < 8; i++) {
      expect(first.acquire()).not.toBeNull();
      clock.advance(MIN);
    }
    first.close();

    clock.set(T + 10 * MIN);
    const second = ledger(clock);
    expect(second.state()).toMatchObject({ usedLastHour: 8, remaining: 2 });
    expect(second.acquire()).not.toBeNull();
    expect(second.tryAcquire()).toBe(true);
    expect(second.acquire()).toBeNull();
    expect(second.tryAcquire()).toBe(false);
    expect(second.availableAt(1)).toBe(T + HOUR);
    second.close();

    // Another restart while the window is full, then the first call leaves it.
    clock.set(T + HOUR);
    const third = ledger(clock);
    expect(third.state()).toMatchObject({ usedLastHour: 9, remaining: 1 });
    expect(third.acquire()).not.toBeNull();
    expect(third.acquire()).toBeNull();
    clock.set(T + 10 * MIN + 2 * HOUR);
    expect(third.state()).toMatchObject({ usedLastHour: 0, remaining: 10 });
    expect(third.acquire()).not.toBeNull();
  });

  it('keeps an OUT_OF_LIMIT block across a restart', () => {
    const clock = new ManualClock(T);
    const first = ledger(clock);
    expect(first.acquire()).not.toBeNull();
    clock.advance(20 * MIN);
    first.blockAfterOutOfLimit();
    first.close();

    clock.advance(MIN);
    const second = ledger(clock);
    expect(second.state()).toMatchObject({ remaining: 0, blockedUntil: T + HOUR });
    expect(second.acquire()).toBeNull();
    expect(second.availableAt(1)).toBe(T + HOUR);
    clock.set(T + HOUR);
    expect(second.acquire()).not.toBeNull();
  });

  it('a block is never shortened by a later, shorter one', () => {
    const j = journal();
    j.block(T + 2 * HOUR);
    j.block(T + HOUR);
    expect(j.load(0).blockedUntil).toBe(T + 2 * HOUR);
  });

  it('stores outcomes, once: a ticket settles once, and the journal never overwrites a settled outcome', () => {
    const clock = new ManualClock(T);
    const l = ledger(clock);
    const a = l.acquire();
    const b = l.acquire();
    const c = l.acquire();
    if (!a || !b || !c) throw new Error('expected tickets');
    expect(a.outcome).toBe('pending');
    a.settle('ok');
    b.settle('out_of_limit');
    expect(a.outcome).toBe('ok');
    expect(() => a.settle('refused')).toThrow(/already settled \(ok\)/);
    expect(() => a.settle('ok')).toThrow(/already settled/);
    l.close();

    const j = journal();
    expect(j.load(0).calls).toEqual([
      { id: a.id, at: T, outcome: 'ok' },
      { id: b.id, at: T, outcome: 'out_of_limit' },
      { id: c.id, at: T, outcome: 'pending' },
    ]);
    expect(j.settle(a.id, 'refused')).toBe(false);
    expect(j.settle(c.id, 'aborted')).toBe(true);
    expect(j.settle(c.id, 'ok')).toBe(false);
    expect(j.settle(9999, 'ok')).toBe(false);
    expect(j.load(0).calls.map((x) => x.outcome)).toEqual(['ok', 'out_of_limit', 'aborted']);
  });

  it('a call counts after the process is killed right after acquire returned', () => {
    journal().close(); // created and migrated here; the child opens an existing file
    const url = (path: string) => JSON.stringify(pathToFileURL(fileURLToPath(new URL(path, import.meta.url))).href);
    const code = `
      import { writeSync } from 'node:fs';
      import { QuotaLedger } from ${url('../../src/history/quota-ledger.ts')};
      import { SqliteQuotaJournal } from ${url('../../src/history/sqlite/sqlite-quota-journal.ts')};
      const ledger = new QuotaLedger(${JSON.stringify(RULES)}, { now: () => ${T} }, { journal: SqliteQuotaJournal.open(${JSON.stringify(file)}) });
      const ticket = ledger.acquire();
      writeSync(1, String(ticket.id));
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
    expect(child.stderr).toBe('');
    expect(child.signal).toBe('SIGKILL');
    const id = Number(child.stdout);
    expect(id).toBeGreaterThan(0);

    const clock = new ManualClock(T + MIN);
    const l = ledger(clock);
    expect(l.state()).toMatchObject({ usedLastHour: 1, remaining: 9 });
    // One connection at a time: the journal holds its file exclusively (one server per DATA_DIR).
    l.close();
    expect(journal().load(0).calls).toEqual([{ id, at: T, outcome: 'pending' }]);
  });

  it('holds its file exclusively: a second journal on it is refused while the first is open', () => {
    const first = journal();
    expect(() => SqliteQuotaJournal.open(file, { busyTimeoutMs: 50 })).toThrow(/database is locked/);
    first.close();
    journal().close();
  });

  it('creates the schema at the current version in WAL mode, and refuses a newer version naming the file', () => {
    journal().close();
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(QUOTA_JOURNAL_VERSION);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.pragma(`user_version = ${QUOTA_JOURNAL_VERSION + 1}`);
    raw.close();

    let error: unknown;
    try {
      SqliteQuotaJournal.open(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QuotaJournalError);
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain(`schema version ${QUOTA_JOURNAL_VERSION + 1}, newer than ${QUOTA_JOURNAL_VERSION}`);
  });

  it('keeps calls a day: pruned at open and as calls are recorded', () => {
    const j = journal(T);
    j.record(T - 25 * HOUR);
    j.record(T - 23 * HOUR);
    j.close();
    const reopened = journal(T);
    expect(reopened.load(0).calls.map((c) => c.at)).toEqual([T - 23 * HOUR]);
    reopened.close();

    const k = journal(T);
    k.record(T + 2 * HOUR); // prunes before T - 22 h
    expect(k.load(0).calls.map((c) => c.at)).toEqual([T + 2 * HOUR]);
  });

  it('counts a call dated in the future (the clock went back) until it is an hour old by its own date', () => {
    const clock = new ManualClock(T);
    const first = ledger(clock);
    expect(first.tryAcquire(6)).toBe(true);
    first.close();

    clock.set(T - 30 * MIN);
    const second = ledger(clock);
    expect(second.state()).toMatchObject({ usedLastHour: 6, remaining: 4 });
    expect(second.tryAcquire(4)).toBe(true);
    expect(second.acquire()).toBeNull();
    // The 4 calls at T - 30 min leave first; the 6 dated T stay until T + 1 h.
    expect(second.availableAt(1)).toBe(T + 30 * MIN);
    expect(second.availableAt(5)).toBe(T + HOUR);
    clock.set(T + 59 * MIN);
    expect(second.state()).toMatchObject({ usedLastHour: 6, remaining: 4 });
    clock.set(T + HOUR);
    expect(second.state()).toMatchObject({ usedLastHour: 0, remaining: 10 });
  });

  it('no sequence of restarts, clock moves and OUT_OF_LIMIT blocks exceeds the limit in any sliding hour', () => {
    type Op = { kind: 'advance'; ms: number } | { kind: 'acquire'; n: number } | { kind: 'restart' } | { kind: 'block' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 * MIN }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('acquire' as const), n: fc.integer({ min: 1, max: 12 }) }) },
      { weight: 3, arbitrary: fc.constant({ kind: 'restart' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'block' as const }) },
    );
    let run = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 23 }), fc.array(op, { minLength: 10, maxLength: 60 }), (startHour, ops) => {
        const runFile = join(dir, `run-${run++}.sqlite`);
        const clock = new ManualClock(Date.parse('2024-03-20T00:00:00+03:00') + startHour * HOUR);
        const openLedger = () => new QuotaLedger(RULES, clock, { journal: SqliteQuotaJournal.open(runFile, { now: () => clock.now() }) });
        let l = openLedger();
        try {
          for (const o of ops) {
            if (o.kind === 'advance') clock.advance(o.ms);
            else if (o.kind === 'acquire') for (let i = 0; i < o.n; i++) l.acquire()?.settle('ok');
            else if (o.kind === 'block') l.blockAfterOutOfLimit();
            else {
              l.close();
              l = openLedger();
            }
          }
        } finally {
          l.close();
        }
        const j = SqliteQuotaJournal.open(runFile, { now: () => clock.now() });
        const ats = j.load(0).calls.map((c) => c.at);
        j.close();
        for (const t of ats) {
          const inHour = ats.filter((a) => a > t - HOUR && a <= t).length;
          expect(inHour).toBeLessThanOrEqual(l.limitAt(t));
        }
      }),
      { numRuns: 40 },
    );
  });
});

/** The schema of quota.sqlite at version 1, as released: a file written by the previous server. */
const SCHEMA_V1 = `
  CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'ok', 'out_of_limit', 'refused', 'undecodable', 'unavailable', 'aborted'))
  );
  CREATE INDEX calls_at ON calls (at);
  CREATE TABLE block (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    until INTEGER NOT NULL
  );`;

describe.each([
  { name: 'MemoryQuotaJournal', make: (): QuotaJournal => new MemoryQuotaJournal() },
  { name: 'SqliteQuotaJournal', make: (): QuotaJournal => journal() },
])('$name night period cap', ({ make }) => {
  it('is null until remembered, then reads back the last value remembered', () => {
    const j = make();
    expect(j.nightMaxDays()).toBeNull();
    j.rememberNightMaxDays(5);
    expect(j.nightMaxDays()).toBe(5);
    j.rememberNightMaxDays(3);
    expect(j.nightMaxDays()).toBe(3);
    j.rememberNightMaxDays(6);
    expect(j.nightMaxDays()).toBe(6);
  });

  it('refuses a cap that is not a positive whole number of days, and keeps the one it had', () => {
    const j = make();
    for (const bad of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => j.rememberNightMaxDays(bad), String(bad)).toThrow(RangeError);
    }
    expect(j.nightMaxDays()).toBeNull();
    j.rememberNightMaxDays(4);
    expect(() => j.rememberNightMaxDays(0)).toThrow(RangeError);
    expect(j.nightMaxDays()).toBe(4);
  });

  it('is kept apart from the calls and the block', () => {
    const j = make();
    const id = j.record(T);
    j.block(T + HOUR);
    j.rememberNightMaxDays(2);
    expect(j.load(0)).toEqual({ calls: [{ id, at: T, outcome: 'pending' }], blockedUntil: T + HOUR });
    j.prune(T + 1);
    expect(j.nightMaxDays()).toBe(2);
  });
});

describe('SqliteQuotaJournal night period cap across restarts', () => {
  it('survives closing and reopening the file', () => {
    const first = journal();
    first.rememberNightMaxDays(3);
    first.close();
    const second = journal(T + 48 * HOUR); // the prune at open leaves it alone
    expect(second.nightMaxDays()).toBe(3);
    second.rememberNightMaxDays(7);
    second.close();
    expect(journal().nightMaxDays()).toBe(7);
  });

  it('migrates a quota.sqlite at schema version 1, keeping its calls and block, with no cap remembered', () => {
    expect(QUOTA_JOURNAL_VERSION).toBeGreaterThan(1);
    const raw = new Database(file);
    raw.pragma('journal_mode = WAL');
    raw.exec(SCHEMA_V1);
    raw.pragma('user_version = 1');
    raw.prepare("INSERT INTO calls (at, outcome) VALUES (?, 'ok'), (?, 'pending')").run(T - 10 * MIN, T - 5 * MIN);
    raw.prepare('INSERT INTO block (id, until) VALUES (1, ?)').run(T + HOUR);
    raw.close();

    const j = journal();
    expect(j.load(0)).toEqual({
      calls: [
        { id: 1, at: T - 10 * MIN, outcome: 'ok' },
        { id: 2, at: T - 5 * MIN, outcome: 'pending' },
      ],
      blockedUntil: T + HOUR,
    });
    expect(j.nightMaxDays()).toBeNull();
    j.rememberNightMaxDays(4);
    expect(j.record(T)).toBe(3);
    j.close();

    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(QUOTA_JOURNAL_VERSION);
    expect(check.prepare('SELECT name, value FROM remembered').all()).toEqual([{ name: 'night_max_days', value: 4 }]);
    check.close();
    expect(journal().nightMaxDays()).toBe(4);
  });
});

describe('QuotaLedger with a failing journal', () => {
  function failing(overrides: Partial<QuotaJournal>): QuotaJournal {
    return {
      load: () => ({ calls: [], blockedUntil: 0 }),
      record: () => {
        throw new Error('SQLITE_FULL: database or disk is full');
      },
      settle: () => true,
      block: () => {},
      prune: () => {},
      nightMaxDays: () => null,
      rememberNightMaxDays: () => {},
      close: () => {},
      ...overrides,
    };
  }

  it('fails closed: no call is allowed when the journal cannot record it', () => {
    const clock = new ManualClock(T);
    const l = new QuotaLedger(RULES, clock, { journal: failing({}) });
    expect(() => l.acquire()).toThrow(QuotaJournalError);
    expect(() => l.acquire()).toThrow(/could not record an upstream call, so none is made: SQLITE_FULL/);
    expect(() => l.tryAcquire()).toThrow(QuotaJournalError);
    expect(() => l.tryAcquire(3)).toThrow(QuotaJournalError);
    // Nothing was counted: the calls were not made.
    expect(l.state()).toMatchObject({ usedLastHour: 0, remaining: 10 });
  });

  it('when the journal fails midway through tryAcquire(n), the calls it recorded count and it throws', () => {
    let left = 2;
    let id = 0;
    const l = new QuotaLedger(RULES, new ManualClock(T), {
      journal: failing({
        record: () => {
          if (left-- <= 0) throw new Error('disk I/O error');
          return ++id;
        },
      }),
    });
    expect(() => l.tryAcquire(4)).toThrow(QuotaJournalError);
    expect(l.state().usedLastHour).toBe(2);
  });

  it('refuses to start when the journal cannot be read', () => {
    const load = () => {
      throw new Error('disk I/O error');
    };
    expect(() => new QuotaLedger(RULES, new ManualClock(T), { journal: failing({ load }) })).toThrow(QuotaJournalError);
  });

  it('a failing settle or block is reported, and the in-memory effect holds', () => {
    const errors: QuotaJournalError[] = [];
    let id = 0;
    const l = new QuotaLedger(RULES, new ManualClock(T), {
      journal: failing({
        record: () => ++id,
        settle: () => {
          throw new Error('settle failed');
        },
        block: () => {
          throw new Error('block failed');
        },
      }),
      onJournalError: (e) => errors.push(e),
    });
    const ticket = l.acquire();
    ticket?.settle('ok');
    expect(ticket?.outcome).toBe('ok');
    l.blockAfterOutOfLimit();
    expect(l.state().blockedUntil).toBe(T + HOUR);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining('settle failed'),
      expect.stringContaining('block failed'),
    ]);
    expect(errors.every((e) => e instanceof QuotaJournalError)).toBe(true);
  });
});
