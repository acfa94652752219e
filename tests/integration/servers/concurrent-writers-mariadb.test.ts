/**
 * What a MariaDB backup taken while an application writes restores (real MariaDB 10.11,
 * real mariadb-dump, a real writer session committing transfers all along):
 *
 * The application is a bank: `accounts` (balances), `transfers` (one row per transfer, FKs to
 * `accounts`, the server's commit-time `at`), both InnoDB, and an append-only `ledger` written
 * by the same transaction. Each transfer is one transaction; the money in all accounts is
 * constant, every transfer has its ledger row, no transfer points at a missing account.
 *
 * - logical full, mixed engines (server without the binary log): the InnoDB tables restore
 *   as one moment (money constant, balances = the transfers' sum, no orphan); a MyISAM ledger
 *   is read when mariadb-dump reaches it, after its snapshot, so it holds transfers the InnoDB
 *   tables lack — the restore's notes name it, with the fix. The writer is let go on by the
 *   dump waiting on a table the test locks (between `accounts` and `ledger`), never a sleep.
 * - restore to a moment (server with the binary log, ROW): a full taken while the writer
 *   runs, the log read after more transfers, a moment on a whole second mid-writes: the
 *   restored copy holds exactly the transfers the server stamped before that second, and
 *   the invariants hold. With a MyISAM ledger written during the full, that restore fails
 *   naming the table and the fix (the log replays a change the dump already holds), and the
 *   point itself restores with its note; written only after the full, a moment restores
 *   exactly (its rows replayed from the log), with the same note.
 * - one transaction writing two databases (transfers in one, the ledger in the other): each
 *   database's point is its own snapshot, so the two points disagree; both restored to the
 *   same moment (binary log) agree row for row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Engine } from '../../../electron/engine/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { workerExecutor } from '../../../electron/engine/backup/worker-executor.ts';
import { hookedExecutor } from '../../fixtures/hooked-executor.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { mariadbSession, startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { ACCOUNTS, OPENING, startBankWriter, type BankWriter } from '../../fixtures/bank-writer.ts';

/** The bank's schema in `database`, the ledger of `ledgerEngine`; tables sort accounts, b_hold, ledger, transfers (mariadb-dump's order). */
function createBank(db: MariadbServer, database: string, ledgerEngine: string): void {
  const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `(${i + 1}, ${OPENING})`).join(',');
  db.sql(
    `DROP DATABASE IF EXISTS ${database}; CREATE DATABASE ${database}; USE ${database};
     CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE=InnoDB;
     CREATE TABLE b_hold (id INT PRIMARY KEY) ENGINE=InnoDB;
     CREATE TABLE ledger (transfer_id BIGINT PRIMARY KEY, amount INT NOT NULL) ENGINE=${ledgerEngine};
     CREATE TABLE transfers (id BIGINT AUTO_INCREMENT PRIMARY KEY, src INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL, at DATETIME(6) NOT NULL,
       FOREIGN KEY (src) REFERENCES accounts (id), FOREIGN KEY (dst) REFERENCES accounts (id)) ENGINE=InnoDB;
     INSERT INTO accounts VALUES ${accounts}; INSERT INTO b_hold VALUES (1);`,
  );
}

/** The server's clock as the writer reads it just after each COMMIT (the transfer's answer). */
const AFTER_COMMIT = "SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%d %H:%i:%s.%f')";

/**
 * The application: transfers committed one after another in one session (bank-writer.ts), each
 * stamped with the server's UTC_TIMESTAMP(6) (`at`, before its COMMIT) and answering the
 * server's clock just after it: its commit time is between the two.
 */
function startWriter(db: MariadbServer, database: string): BankWriter {
  return startBankWriter(
    mariadbSession(db, database),
    ({ src, dst, amount }) =>
      `START TRANSACTION; UPDATE accounts SET balance = balance - ${amount} WHERE id = ${src}; UPDATE accounts SET balance = balance + ${amount} WHERE id = ${dst};` +
      ` INSERT INTO transfers (src, dst, amount, at) VALUES (${src}, ${dst}, ${amount}, UTC_TIMESTAMP(6)); INSERT INTO ledger VALUES (LAST_INSERT_ID(), ${amount}); COMMIT; ${AFTER_COMMIT}`,
  );
}

/**
 * How many of the writer's transfers (ids 1.., in commit order) a copy as of `moment` (a whole
 * second; the binary log's times are the seconds statements started) may hold: at least those
 * whose COMMIT had returned before it (`afterCommit`), at most those stamped before it (the
 * one whose COMMIT straddles the second may go either way). `table` holds the stamps.
 */
function committedBefore(db: MariadbServer, table: string, writer: BankWriter, moment: Date): { min: number; max: number } {
  const second = moment.toISOString().replace('T', ' ').replace('Z', '');
  const max = Number(db.sql(`SELECT COUNT(*) FROM ${table} WHERE at < '${second}'`).trim());
  const min = writer.answers.filter((a) => a.trim() < `${second}000`).length;
  expect(max - min).toBeLessThanOrEqual(1);
  return { min, max };
}

/** The next whole second of the server's clock, once the writer has committed transfers until it is past (the binary log's times are whole seconds of that clock). */
async function writesPastNextSecond(db: MariadbServer, writer: BankWriter): Promise<Date> {
  const serverNow = () => new Date(db.sql("SELECT DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')").trim()).getTime();
  const moment = new Date(Math.ceil(serverNow() / 1000) * 1000);
  do await writer.more(3);
  while (serverNow() < moment.getTime() + 100);
  return moment;
}

/** The invariants of a bank database, read in one statement each: money, transfers, ledger rows, orphans, balances that the transfers do not explain. */
function invariants(db: MariadbServer, database: string) {
  const [money = NaN, transfers = NaN, ledger = NaN, orphans = NaN, unexplained = NaN] = db
    .sql(
      `SELECT SUM(balance) FROM accounts; SELECT COUNT(*) FROM transfers; SELECT COUNT(*) FROM ledger;
       SELECT COUNT(*) FROM transfers t LEFT JOIN accounts s ON s.id = t.src LEFT JOIN accounts d ON d.id = t.dst WHERE s.id IS NULL OR d.id IS NULL;
       SELECT COUNT(*) FROM accounts a WHERE a.balance <> ${OPENING} - COALESCE((SELECT SUM(amount) FROM transfers WHERE src = a.id), 0) + COALESCE((SELECT SUM(amount) FROM transfers WHERE dst = a.id), 0);`,
      database,
    )
    .trim()
    .split('\n')
    .map(Number);
  return { money, transfers, ledger, orphans, unexplained };
}

/**
 * An executor whose job for `database` holds the dump between its snapshot and `ledger`: a DBA
 * session locks b_hold before the job starts; once mariadb-dump waits on it (it has taken its
 * snapshot and read `accounts`), the writer commits 5 more transfers, then the lock is let go.
 * `held` resolves when that is over.
 */
function holdingDump(db: MariadbServer, database: string, writer: () => BankWriter) {
  let held: Promise<void> = Promise.resolve();
  const executor = hookedExecutor(async (spec) => {
    if (spec.database !== database) return;
    const dba = mariadbSession(db);
    await dba.ask(`LOCK TABLES ${database}.b_hold WRITE`);
    held = (async () => {
      for (;;) {
        const waiting = await dba.ask(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '${db.user}' AND DB = '${database}' AND STATE = 'Waiting for table metadata lock'`);
        if (waiting.trim() !== '0') break;
      }
      await writer().more(5);
      await dba.ask('UNLOCK TABLES');
      await dba.close();
    })();
  });
  return { executor, held: () => held };
}

describe('a logical full while the application writes, InnoDB and MyISAM tables (server without the binary log)', () => {
  let db: MariadbServer;
  let writer: BankWriter | null = null;
  beforeAll(async () => {
    db = await startMariadb();
  }, 120_000);
  afterAll(async () => {
    await writer?.stop();
    await db?.stop();
  });

  it('the InnoDB tables restore as one moment; the MyISAM ledger holds later transfers, and the restore\'s notes name it with the fix', { timeout: 120_000 }, async () => {
    createBank(db, 'bank', 'MyISAM');
    const { executor, held } = holdingDump(db, 'bank', () => writer!);
    const engine: Engine = await testEngine({ executor });
    const backups = tempDir();
    const { taskId, serverId } = await serverWithTask(engine, { kind: 'mysql', name: 'maria', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups);
    writer = startWriter(db, 'bank');
    await writer.more(3);
    const run = await runTask(engine, taskId, 'full');
    await held();
    await writer.stop();
    writer = null;
    expect(run.status, JSON.stringify(run)).toBe('success');
    const source = invariants(db, 'bank');
    expect(source).toMatchObject({ money: ACCOUNTS * OPENING, orphans: 0, unexplained: 0 });
    expect(source.ledger).toBe(source.transfers);

    const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('bank')) }, pointId: 'latest', serverId, database: 'bank_copy' });
    expect(restored.status, JSON.stringify(restored)).toBe('success');
    const copy = invariants(db, 'bank_copy');
    // InnoDB: one moment, the snapshot's.
    expect(copy).toMatchObject({ money: ACCOUNTS * OPENING, orphans: 0, unexplained: 0 });
    expect(copy.transfers).toBeGreaterThanOrEqual(3);
    expect(copy.transfers).toBeLessThan(source.transfers);
    // MyISAM: read after the writer went on — ledger rows of transfers the copy does not have.
    expect(copy.ledger).toBeGreaterThanOrEqual(copy.transfers + 5);
    expect(restored.notes).toEqual([
      'Tables of "bank_copy" without transactions were read by the backup when it reached them, not at its snapshot like the other tables: `ledger` (MyISAM). ' +
        'If the application wrote to them while the backup ran, their rows may not match the rest of the database (rows of changes the other tables lack, or lacking changes they have). ' +
        'Check those tables before using this copy; so that the next backups are consistent, convert them to InnoDB on the source (ALTER TABLE `ledger` ENGINE=InnoDB;) or run the task when nothing writes to them.',
    ]);
    db.sql('DROP DATABASE bank_copy');
  });
});

describe('restore to a moment taken while the application writes (server with the binary log)', () => {
  let db: MariadbServer;
  let writer: BankWriter | null = null;
  beforeAll(async () => {
    db = await startMariadb({ binlog: true });
  }, 120_000);
  afterAll(async () => {
    await writer?.stop();
    await db?.stop();
  });

  it('the copy at a whole second mid-writes holds exactly the transfers stamped before it, and the invariants hold', { timeout: 120_000 }, async () => {
    createBank(db, 'bank', 'InnoDB');
    const engine = await testEngine({ executor: workerExecutor });
    const backups = tempDir();
    const { taskId, serverId } = await serverWithTask(engine, { kind: 'mysql', name: 'maria-log', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups);
    writer = startWriter(db, 'bank');
    await writer.more(3);
    const full = await runTask(engine, taskId, 'full');
    expect(full.status, JSON.stringify(full)).toBe('success');
    // A whole second of the server's clock after the full, with transfers on both sides of it.
    await writer.more(3);
    const moment = await writesPastNextSecond(db, writer);
    await writer.stop();
    const { min, max } = committedBefore(db, 'bank.transfers', writer, moment);
    expect(writer.committed).toBeGreaterThan(max);
    writer = null;
    const inc = await runTask(engine, taskId, 'incremental');
    expect(inc.status, JSON.stringify(inc)).toBe('success');

    const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('bank')) }, asOf: moment.toISOString(), serverId, database: 'bank_moment' });
    expect(restored.status, JSON.stringify(restored)).toBe('success');
    // Transfers 1..k, k the transfers committed before the moment (the one committing across it either way), nothing later.
    const copy = invariants(db, 'bank_moment');
    expect(copy.transfers).toBeGreaterThanOrEqual(min);
    expect(copy.transfers).toBeLessThanOrEqual(max);
    expect(db.sql('SELECT COALESCE(MAX(id), 0) FROM transfers', 'bank_moment').trim()).toBe(String(copy.transfers));
    expect(copy).toMatchObject({ money: ACCOUNTS * OPENING, orphans: 0, unexplained: 0 });
    expect(copy.ledger).toBe(copy.transfers);
    db.sql('DROP DATABASE bank_moment');
  });
  it('a MyISAM ledger written during the full: a moment after it fails naming the tables and the fix (not a bare duplicate key), nothing is left; the point itself restores with its note', { timeout: 120_000 }, async () => {
    createBank(db, 'ledgers', 'MyISAM');
    const { executor, held } = holdingDump(db, 'ledgers', () => writer!);
    const engine = await testEngine({ executor });
    const backups = tempDir();
    const { taskId, serverId } = await serverWithTask(engine, { kind: 'mysql', name: 'maria-ledgers', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: ['bank'],
    });
    writer = startWriter(db, 'ledgers');
    await writer.more(3);
    const full = await runTask(engine, taskId, 'full');
    await held();
    const moment = (await writesPastNextSecond(db, writer)).toISOString().replace('.000Z', 'Z');
    await writer.stop();
    writer = null;
    expect(full.status, JSON.stringify(full)).toBe('success');
    const inc = await runTask(engine, taskId, 'incremental');
    expect(inc.status, JSON.stringify(inc)).toBe('success');
    const location = { kind: 'local' as const, path: join(backups, encodeDatabaseFolder('ledgers')) };

    const failed = await restoreAndWait(engine, { location, asOf: moment, serverId, database: 'ledgers_moment' });
    expect([failed.status, failed.error?.code]).toEqual(['failed', 'RESTORE_FAILED']);
    expect(failed.error?.message).toMatch(
      new RegExp(
        `^Database "ledgers" cannot be restored as of ${moment}: replaying the binary log on its dump stopped on a change the dump already holds \\(the server said: "Duplicate entry '\\d+' for key 'PRIMARY'"\\)\\. ` +
          'Its tables without transactions, `ledger` \\(MyISAM\\), were read by the dump after the log position it recorded, while something wrote to them, so the log\'s first changes to them are in the dump already\\. The new database "ledgers_moment" was removed\\. ' +
          'Fix: restore a backup point without --as-of \\(backstop points <location> lists them\\), or a moment after a full taken when nothing wrote to those tables; so that later moments restore, convert them to InnoDB on the source \\(ALTER TABLE `ledger` ENGINE=InnoDB;\\)\\.$',
      ),
    );
    expect(db.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'ledgers_moment'").trim()).toBe('0');

    // What the message offers: the point itself restores, its InnoDB tables one moment, with the note on the ledger.
    const point = await restoreAndWait(engine, { location, pointId: 'latest', serverId, database: 'ledgers_point' });
    expect(point.status, JSON.stringify(point)).toBe('success');
    expect(point.notes).toEqual([expect.stringContaining('without transactions were read by the backup when it reached them, not at its snapshot like the other tables: `ledger` (MyISAM).')]);
    const copy = invariants(db, 'ledgers_point');
    expect(copy).toMatchObject({ money: ACCOUNTS * OPENING, orphans: 0, unexplained: 0 });
    expect(copy.ledger).toBeGreaterThanOrEqual(copy.transfers + 5);
    db.sql('DROP DATABASE ledgers_point');
  });

  it('a MyISAM ledger written only after the full: a moment restores exactly, the MyISAM rows replayed from the log, with the note on the ledger', { timeout: 120_000 }, async () => {
    createBank(db, 'quiet', 'MyISAM');
    const engine = await testEngine({ executor: workerExecutor });
    const backups = tempDir();
    const { taskId, serverId } = await serverWithTask(engine, { kind: 'mysql', name: 'maria-quiet', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: ['bank', 'ledgers', 'xa', 'xb'],
    });
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    writer = startWriter(db, 'quiet');
    await writer.more(3);
    const moment = await writesPastNextSecond(db, writer);
    await writer.stop();
    const { min, max } = committedBefore(db, 'quiet.transfers', writer, moment);
    writer = null;
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const restored = await restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('quiet')) }, asOf: moment.toISOString(), serverId, database: 'quiet_moment' });
    expect(restored.status, JSON.stringify(restored)).toBe('success');
    expect(restored.notes).toEqual(expect.arrayContaining([expect.stringContaining('without transactions were read by the backup when it reached them, not at its snapshot like the other tables: `ledger` (MyISAM).')]));
    const copy = invariants(db, 'quiet_moment');
    expect(copy).toMatchObject({ money: ACCOUNTS * OPENING, orphans: 0, unexplained: 0 });
    expect(copy.transfers).toBeGreaterThanOrEqual(min);
    expect(copy.transfers).toBeLessThanOrEqual(max);
    // A transfer whose COMMIT straddles the moment is cut from the InnoDB tables, but its MyISAM ledger row, which has no
    // transaction, was applied as the log was read: the one row more the note warns of.
    expect(copy.ledger - copy.transfers).toBeGreaterThanOrEqual(0);
    expect(copy.ledger - copy.transfers).toBeLessThanOrEqual(max - copy.transfers);
    db.sql('DROP DATABASE quiet_moment');
  });

  it('one transaction writing two databases: each database\'s point is its own snapshot (they differ), and both restored to the same moment agree', { timeout: 120_000 }, async () => {
    // xa: the accounts and transfers; xb: the ledger, written by the same transactions.
    db.sql(
      `CREATE DATABASE xa; CREATE DATABASE xb;
       CREATE TABLE xa.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL);
       CREATE TABLE xa.transfers (id BIGINT AUTO_INCREMENT PRIMARY KEY, src INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL, at DATETIME(6) NOT NULL);
       CREATE TABLE xb.ledger (transfer_id BIGINT PRIMARY KEY, amount INT NOT NULL);
       INSERT INTO xa.accounts VALUES ${Array.from({ length: ACCOUNTS }, (_, i) => `(${i + 1}, ${OPENING})`).join(',')};`,
    );
    // One database at a time; the second one's job starts only after the writer committed 5 more transfers.
    let jobs = 0;
    const engine = await testEngine({
      executor: hookedExecutor(async (spec) => {
        if (spec.database === 'xa' || spec.database === 'xb') if (++jobs === 2) await writer!.more(5);
      }),
    });
    data(await engine.call('settings.set', { maxConcurrentBackups: 1 }));
    const backups = tempDir();
    const { taskId, serverId } = await serverWithTask(engine, { kind: 'mysql', name: 'maria-two', host: db.host, port: db.port, user: db.user, password: db.password, tls: 'disable' }, 'logical', backups, {
      excludeDatabases: ['bank', 'ledgers', 'quiet'],
    });
    writer = startBankWriter(
      mariadbSession(db, 'xa'),
      ({ src, dst, amount }) =>
        `START TRANSACTION; UPDATE accounts SET balance = balance - ${amount} WHERE id = ${src}; UPDATE accounts SET balance = balance + ${amount} WHERE id = ${dst};` +
        ` INSERT INTO transfers (src, dst, amount, at) VALUES (${src}, ${dst}, ${amount}, UTC_TIMESTAMP(6)); INSERT INTO xb.ledger VALUES (LAST_INSERT_ID(), ${amount}); COMMIT; ${AFTER_COMMIT}`,
    );
    await writer.more(3);
    const full = await runTask(engine, taskId, 'full');
    expect(full.status, JSON.stringify(full)).toBe('success');
    expect(jobs).toBe(2);
    const moment = await writesPastNextSecond(db, writer);
    await writer.stop();
    const { min, max } = committedBefore(db, 'xa.transfers', writer, moment);
    writer = null;
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const restore = (database: string, target: string, asOf?: Date) =>
      restoreAndWait(engine, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder(database)) }, ...(asOf ? { asOf: asOf.toISOString() } : { pointId: 'latest' as const }), serverId, database: target });
    const counts = (a: string, b: string) => db.sql(`SELECT COUNT(*) FROM ${a}.transfers; SELECT COUNT(*) FROM ${b}.ledger; SELECT COUNT(*) FROM ${a}.transfers t LEFT JOIN ${b}.ledger l ON l.transfer_id = t.id WHERE l.transfer_id IS NULL;`).trim().split('\n').map(Number);

    // The points: two snapshots at least 5 transfers apart — the database dumped second holds them, the other does not.
    for (const [d, t] of [['xa', 'xa_point'], ['xb', 'xb_point']] as const) expect((await restore(d, t)).status).toBe('success');
    const [pointTransfers = NaN, pointLedger = NaN] = counts('xa_point', 'xb_point');
    expect(Math.abs(pointLedger - pointTransfers)).toBeGreaterThanOrEqual(5);

    // The same moment for both (binary log, each database's events only): the ledger matches the transfers row for row.
    for (const [d, t] of [['xa', 'xa_moment'], ['xb', 'xb_moment']] as const) {
      const r = await restore(d, t, moment);
      expect(r.status, JSON.stringify(r)).toBe('success');
    }
    const [transfers = NaN, ledger, unmatched] = counts('xa_moment', 'xb_moment');
    expect([ledger, unmatched]).toEqual([transfers, 0]);
    expect(transfers).toBeGreaterThanOrEqual(min);
    expect(transfers).toBeLessThanOrEqual(max);
    expect(db.sql('SELECT SUM(balance) FROM xa_moment.accounts').trim()).toBe(String(ACCOUNTS * OPENING));
    db.sql('DROP DATABASE xa_point; DROP DATABASE xb_point; DROP DATABASE xa_moment; DROP DATABASE xb_moment;');
  });
});
