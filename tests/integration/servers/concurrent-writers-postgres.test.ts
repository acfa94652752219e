/**
 * What a PostgreSQL backup taken while an application writes restores (real PostgreSQL 15 with
 * track_commit_timestamp=on, real pg_dump / base backup + WAL, a real writer session committing
 * transfers all along). The bank (bank-writer.ts): `accounts`, `transfers` (FKs to `accounts`)
 * and `ledger` (FK to `transfers`), one transaction per transfer; the money is constant, every
 * transfer has its ledger row, the balances are the transfers' sum. Beside the writer, a second
 * session keeps a transfer open (uncommitted) across the moment the backup captures.
 *
 * - logical full: pg_dump's snapshot is taken, then pg_dump waits on a table the test locks
 *   while the writer commits more and the open transfer stays open: the restored copy holds
 *   transfers 1..k with no gap, fewer than the source, none of those committed after the
 *   snapshot nor the uncommitted one, and the invariants hold.
 * - snapshot (base backup + WAL) restored to a moment mid-writes: the copy holds exactly the
 *   transfers whose commit time (pg_xact_commit_timestamp, the server's clock) is at or before
 *   the moment, not the one open across it, and the invariants hold.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { ACCOUNTS, OPENING, startBankWriter, type BankWriter } from '../../fixtures/bank-writer.ts';
import { hookedExecutor } from '../../fixtures/hooked-executor.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { PG_BIN, pgSession, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { pgServerFile, privateTmpDir, walTask } from '../../fixtures/wal-task.ts';

let pg: PgServer;
let writer: BankWriter | null = null;
let open: ReturnType<typeof pgSession> | null = null;
beforeAll(async () => {
  pg = await startPostgres({ settings: ['track_commit_timestamp=on'] });
}, 120_000);
afterAll(async () => {
  await writer?.stop();
  await open?.close();
  await pg?.stop();
});

/** The bank in a new database `database`; its tables sort accounts, b_hold, ledger, transfers. */
function createBank(database: string): void {
  pg.psql(`CREATE DATABASE ${database}`);
  pg.psql(
    `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
     CREATE TABLE b_hold (id int PRIMARY KEY);
     CREATE TABLE transfers (id bigserial PRIMARY KEY, src int NOT NULL REFERENCES accounts, dst int NOT NULL REFERENCES accounts, amount int NOT NULL);
     CREATE TABLE ledger (transfer_id bigint PRIMARY KEY REFERENCES transfers, amount int NOT NULL);
     INSERT INTO accounts SELECT i, ${OPENING} FROM generate_series(1, ${ACCOUNTS}) i; INSERT INTO b_hold VALUES (1);`,
    database,
  );
}

function startWriter(database: string): BankWriter {
  return startBankWriter(
    pgSession(pg, database),
    ({ src, dst, amount }) =>
      `BEGIN; UPDATE accounts SET balance = balance - ${amount} WHERE id = ${src}; UPDATE accounts SET balance = balance + ${amount} WHERE id = ${dst};` +
      ` WITH t AS (INSERT INTO transfers (src, dst, amount) VALUES (${src}, ${dst}, ${amount}) RETURNING id) INSERT INTO ledger SELECT id, ${amount} FROM t; COMMIT`,
  );
}

/** A transfer of amount 0 left open (its rows written, not committed) in a session of its own; `commit()` commits it. */
async function openTransfer(database: string): Promise<{ id: number; commit: () => Promise<void> }> {
  open = pgSession(pg, database);
  const session = open;
  const out = await session.ask('BEGIN; WITH t AS (INSERT INTO transfers (src, dst, amount) VALUES (1, 2, 0) RETURNING id) INSERT INTO ledger SELECT id, 0 FROM t RETURNING transfer_id');
  return {
    id: Number(out.trim().split('\n').at(-1)),
    commit: async () => {
      await session.ask('COMMIT');
      await session.close();
      open = null;
    },
  };
}

function invariants(database: string) {
  const [money = NaN, transfers = NaN, maxId = NaN, ledgerMismatch = NaN, unexplained = NaN, open = NaN] = pg
    .psql(
      `SELECT sum(balance) FROM accounts; SELECT count(*) FROM transfers; SELECT coalesce(max(id), 0) FROM transfers;
       SELECT count(*) FROM transfers t FULL JOIN ledger l ON l.transfer_id = t.id WHERE t.id IS NULL OR l.transfer_id IS NULL OR l.amount <> t.amount;
       SELECT count(*) FROM accounts a WHERE a.balance <> ${OPENING} - coalesce((SELECT sum(amount) FROM transfers WHERE src = a.id), 0) + coalesce((SELECT sum(amount) FROM transfers WHERE dst = a.id), 0);
       SELECT count(*) FROM transfers WHERE amount = 0;`,
      database,
    )
    .trim()
    .split('\n')
    .map(Number);
  return { money, transfers, maxId, ledgerMismatch, unexplained, open };
}

/** What every restored bank must be: the money, the ledger, the balances; `committed` transfers (the open one never). */
const consistent = { money: ACCOUNTS * OPENING, ledgerMismatch: 0, unexplained: 0, open: 0 };

describe('PostgreSQL backups taken while the application writes', () => {
  it('logical full: the copy is pg_dump\'s snapshot — transfers 1..k, none committed after it, not the open one; invariants hold', { timeout: 120_000 }, async () => {
    createBank('bank');
    let held: Promise<void> = Promise.resolve();
    const executor = hookedExecutor(async (spec) => {
      if (spec.database !== 'bank') return;
      const dba = pgSession(pg, 'bank');
      await dba.ask('BEGIN; LOCK TABLE b_hold IN ACCESS EXCLUSIVE MODE');
      held = (async () => {
        // pg_dump has its snapshot once it asks for its table locks: it waits on b_hold while the writer commits more.
        // (Asked from a session of its own: inside the DBA's transaction pg_stat_activity would stay as first read.)
        const watch = pgSession(pg, 'bank');
        for (;;) {
          const waiting = await watch.ask("SELECT count(*) FROM pg_stat_activity WHERE datname = 'bank' AND wait_event_type = 'Lock' AND query ILIKE 'LOCK TABLE %'");
          if (waiting.trim() !== '0') break;
        }
        await watch.close();
        await writer!.more(5);
        await dba.ask('COMMIT');
        await dba.close();
      })();
    });
    const engine = await testEngine({ executor });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const backups = tempDir();
    const others = pg.psql('SELECT datname FROM pg_database WHERE NOT datistemplate').split('\n').filter((d) => d && d !== 'bank');
    const { taskId, serverId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: others,
    });
    writer = startWriter('bank');
    await writer.more(3);
    const pending = await openTransfer('bank');
    const run = await runTask(engine, taskId, 'full');
    await held;
    await pending.commit();
    await writer.stop();
    writer = null;
    expect(run.status, JSON.stringify(run)).toBe('success');
    const source = invariants('bank');
    expect(source).toMatchObject({ ...consistent, open: 1 });

    const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('bank')) }, pointId: 'latest', serverId, database: 'bank_copy' });
    expect(restored.status, JSON.stringify(restored)).toBe('success');
    const copy = invariants('bank_copy');
    expect(copy).toMatchObject(consistent);
    expect(copy.transfers).toBeGreaterThanOrEqual(3);
    // The copy holds the writer's transfers 1..k committed before the snapshot, every one of them (the open transfer's id is the
    // only gap), and lacks the 5+ committed while pg_dump waited.
    expect(pending.id).toBeGreaterThan(3);
    expect(copy.transfers).toBe(copy.maxId - (pending.id < copy.maxId ? 1 : 0));
    expect(copy.transfers).toBeLessThanOrEqual(source.transfers - 1 - 5);
    pg.psql('DROP DATABASE bank_copy');
  });

  it('snapshot (base backup + WAL) restored to a moment mid-writes: exactly the transfers committed at or before it, not the one open across it; invariants hold', { timeout: 180_000 }, async () => {
    createBank('ledgerdb');
    const { engine, backups, taskId } = await walTask(pg);
    writer = startWriter('ledgerdb');
    await writer.more(3);
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    await writer.more(3);
    // The first WAL backup opens the reachable range.
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    await writer.more(3);
    const pending = await openTransfer('ledgerdb');
    await writer.more(3);
    // A moment of the server's clock (to the millisecond, as a moment is read), with commits on both sides of it.
    const moment = new Date(pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`).trim());
    await writer.more(5);
    await pending.commit();
    await writer.more(3);
    await writer.stop();
    writer = null;
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const iso = moment.toISOString();
    const expected = pg.psql(`SELECT count(*) || ' ' || coalesce(max(id), 0) FROM transfers WHERE amount > 0 AND pg_xact_commit_timestamp(xmin) <= '${iso}'`, 'ledgerdb').trim();
    const later = Number(pg.psql(`SELECT count(*) FROM transfers WHERE pg_xact_commit_timestamp(xmin) > '${iso}'`, 'ledgerdb').trim());
    expect(later).toBeGreaterThanOrEqual(6); // 5+ of the writer's and the open one

    privateTmpDir();
    await restoreCommand(engine, join(backups, SERVER_FOLDER), { asOf: moment, serverFile: pgServerFile(pg), database: 'ledger_moment', sourceDatabase: 'ledgerdb' });
    const copy = invariants('ledger_moment');
    expect(copy).toMatchObject(consistent);
    expect(`${copy.transfers} ${copy.maxId}`).toBe(expected);
    pg.psql('DROP DATABASE ledger_moment');
  });
});
