/**
 * PostgreSQL snapshot tasks (base backup + WAL) against what a real server holds at the moment
 * a DBA restores to: prepared transactions (PREPARE TRANSACTION, max_prepared_transactions > 0)
 * open at the moment, one of them holding an ACCESS EXCLUSIVE lock; a long transaction open
 * across it; UNLOGGED tables (never in WAL nor in a base backup); a template database and one
 * that allows no connections; databases created, renamed and dropped after the moment. One
 * server and one chain (full + incremental) for the file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import type { RunDatabase } from '../../../electron/shared/domain.ts';
import { PgConnection } from '../../../electron/engine/servers/postgres/connection.ts';
import { SERVER_FOLDER, startDataDirectory } from '../../../electron/engine/servers/index.ts';
import { restoreCommand } from '../../../electron/cli/commands/location.ts';
import { chownTree } from '../../fixtures/servers/common.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { PG_BIN, pgSession, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { walTask, privateTmpDir, pgServerFile, untilPromoted } from '../../fixtures/wal-task.ts';

let pg: PgServer;
/** The chain's backups (kept for the whole file), and the ~server folder in it. */
let backups: string;
let serverRoot: string;
/** A moment with two prepared transactions and a long transaction open. */
let moment: string;
/** The full's History row. */
let fullRow: RunDatabase;

const now = () => pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim();
const pause = () => new Promise((r) => setTimeout(r, 300));

beforeAll(async () => {
  pg = await startPostgres({ settings: ['max_prepared_transactions=5'] });
  backups = mkdtempSync(join(tmpdir(), 'backstop-test-'));
  serverRoot = join(backups, SERVER_FOLDER);
  pg.psql('CREATE DATABASE shop');
  pg.psql("CREATE DATABASE tmpl IS_TEMPLATE true");
  pg.psql("CREATE DATABASE closed");
  pg.psql(
    "CREATE TABLE orders (id int PRIMARY KEY, note text); CREATE TABLE audit (id int); CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text); CREATE UNLOGGED SEQUENCE tickets; INSERT INTO orders VALUES (0, 'zero'); INSERT INTO audit VALUES (1); INSERT INTO cache VALUES ('a', 'b'); SELECT nextval('tickets')",
    'shop',
  );
  pg.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('template row')", 'tmpl');
  pg.psql("CREATE TABLE t (v text); INSERT INTO t VALUES ('closed row')", 'closed');
  pg.psql('ALTER DATABASE closed ALLOW_CONNECTIONS false');
  // Renamed and dropped after the moment.
  pg.psql('CREATE DATABASE old');
  pg.psql('CREATE DATABASE gone');
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (backups) rmSync(backups, { recursive: true, force: true });
});

/** The chain (full, then an incremental after the moment), made by the first test that needs it. */
async function backUp(): Promise<void> {
  if (moment) return;
  const task = await walTask(pg, backups);
  const engine = task.engine;
  fullRow = (await runTask(engine, task.taskId, 'full')).databases[0]!;
  expect(fullRow).toMatchObject({ kind: 'full', status: 'success' });
  // Past the second the reachable range starts in (rounded up to a whole second).
  await new Promise((r) => setTimeout(r, 1100));
  pg.psql("INSERT INTO orders VALUES (1, 'one'); INSERT INTO cache VALUES ('c', 'd')", 'shop');
  const long = pgSession(pg, 'shop');
  await long.ask("BEGIN; INSERT INTO orders VALUES (100, 'long')");
  pg.psql("BEGIN; INSERT INTO orders VALUES (200, 'prepared'); PREPARE TRANSACTION 'p_rows'", 'shop');
  // An application's migration under two-phase commit: ACCESS EXCLUSIVE on audit until COMMIT PREPARED.
  pg.psql("BEGIN; ALTER TABLE audit ADD COLUMN note text; PREPARE TRANSACTION 'p_ddl'", 'shop');
  await pause();
  moment = now();
  await pause();
  await long.ask('COMMIT');
  await long.close();
  pg.psql("COMMIT PREPARED 'p_rows'", 'shop');
  // Created, renamed and dropped after the moment.
  pg.psql('CREATE DATABASE later');
  pg.psql('ALTER DATABASE old RENAME TO renamed');
  pg.psql('DROP DATABASE gone');
  expect((await runTask(engine, task.taskId, 'incremental')).databases[0]).toMatchObject({ kind: 'incremental', status: 'success' });
  pg.psql("COMMIT PREPARED 'p_ddl'", 'shop');
}

/** An engine for restores (the PostgreSQL tools set), closed when the test ends. */
async function restorer(): Promise<Engine> {
  await backUp();
  const engine = await testEngine({ encoderWorkers: 0 });
  data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
  return engine;
}

const rowsOf = (database: string) => pg.psql("SELECT string_agg(id || note, ',' ORDER BY id) FROM orders", database).trim();

describe('PostgreSQL snapshot restore to a moment: open transactions, unlogged tables, special databases', () => {
  it("a full's History row names the unlogged tables a restore of it yields empty, per database", async () => {
    await backUp();
    expect(fullRow.warnings).toEqual([
      '"shop" has 2 unlogged tables or sequences (public.cache, public.tickets): a restore of this snapshot yields them empty (PostgreSQL writes no WAL for UNLOGGED tables and pg_basebackup leaves their data out). Back "shop" up with a logical task too if their rows matter, or ALTER TABLE … SET LOGGED.',
    ]);
  }, 120_000);

  it('one database at a moment with prepared transactions (one holding ACCESS EXCLUSIVE) and a long transaction open: completes without them, rolled back in the temporary cluster and named in the notes; unlogged tables come back empty and are named', async () => {
    const engine = await restorer();
    privateTmpDir();
    const r = await restoreCommand(engine, serverRoot, { asOf: new Date(moment), serverFile: pgServerFile(pg), database: 'shop_at', sourceDatabase: 'shop' });
    expect(r).toMatchObject({ database: 'shop_at', cluster: false });
    // Neither the long transaction (committed after the moment) nor the prepared ones (committed after it).
    expect(rowsOf('shop_at')).toBe('0zero,1one');
    expect(pg.psql("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'audit'::regclass AND attnum > 0", 'shop_at').trim()).toBe('id');
    expect(pg.psql('SELECT count(*) FROM audit', 'shop_at').trim()).toBe('1');
    const notes = r.notes.join('\n');
    expect(notes).toMatch(/2 prepared transactions were open in "shop" at that moment \(PREPARE TRANSACTION, not yet COMMIT PREPARED\): "p_rows" \(prepared [0-9-]+ [0-9:]+ UTC by postgres\), "p_ddl" \(prepared [0-9-]+ [0-9:]+ UTC by postgres\)\. They had not committed then, so they were rolled back in the temporary cluster before the dump/);
    // UNLOGGED: the table and the sequence exist, empty (at its start), and the notes name both.
    expect(pg.psql("SELECT (SELECT count(*) FROM cache) || ' ' || (SELECT last_value || ':' || is_called::text FROM tickets) || ' ' || (SELECT relpersistence::text FROM pg_class WHERE relname = 'cache')", 'shop_at').trim()).toBe('0 1:false u');
    expect(notes).toContain('"shop" has 2 unlogged tables or sequences (public.cache, public.tickets): restored empty (a sequence at its start), as they were not in the backup');
    // The source is as it was: its rows, and nothing of the restore in it.
    expect(rowsOf('shop')).toBe('0zero,1one,100long,200prepared');
    expect(pg.psql('SELECT count(*) FROM pg_prepared_xacts').trim()).toBe('0');
    pg.psql('DROP DATABASE shop_at');
  }, 120_000);

  it('the whole cluster at that moment (--folder): postgresql.auto.conf carries the source max_prepared_transactions, so it starts; its prepared transactions are kept and the notes say how to end them; its unlogged tables are empty and named', async () => {
    const engine = await restorer();
    const parent = tempDir();
    if (pg.osUser) chownTree(parent, pg.osUser);
    const folder = join(parent, 'cluster');
    const r = await restoreCommand(engine, serverRoot, { asOf: new Date(moment), folder });
    expect(r.notes.join('\n')).toContain("postgresql.auto.conf sets the source's max_prepared_transactions = 5 (read from the backup's pg_control; keep them");
    expect(r.notes.join('\n')).toContain("ROLLBACK PREPARED 'gid'");
    expect(r.notes.join('\n')).toContain('UNLOGGED tables and sequences start empty in it (PostgreSQL writes no WAL for them and pg_basebackup leaves their data out); when the base backup was taken they were: "shop": public.cache, public.tickets.');
    const running = await startDataDirectory(folder, { user: 'postgres', toolPaths: { postgres: PG_BIN }, socketOnly: true });
    try {
      const conn = new PgConnection({ kind: 'postgres', host: running.host, port: running.port, user: 'postgres', tls: 'disable' }, null, { binDir: PG_BIN });
      await untilPromoted(conn);
      expect(await conn.query("SELECT string_agg(gid, ',' ORDER BY gid) FROM pg_prepared_xacts")).toEqual([['p_ddl,p_rows']]);
      expect(await conn.query("SELECT string_agg(id || note, ',' ORDER BY id) FROM orders", { database: 'shop' })).toEqual([['0zero,1one']]);
      expect(await conn.query('SELECT count(*) FROM cache', { database: 'shop' })).toEqual([['0']]);
    } finally {
      await running.stop();
    }
  }, 120_000);

  it('a template database and one with ALLOW_CONNECTIONS false restore at a moment as ordinary databases that allow connections, the notes say so', async () => {
    const engine = await restorer();
    privateTmpDir();
    const serverFile = pgServerFile(pg);
    const tmpl = await restoreCommand(engine, serverRoot, { asOf: new Date(moment), serverFile, database: 'tmpl_at', sourceDatabase: 'tmpl' });
    expect(pg.psql('SELECT v FROM t', 'tmpl_at').trim()).toBe('template row');
    expect(tmpl.notes.join('\n')).toContain('The backed-up database was a template (IS_TEMPLATE); "tmpl_at" was restored as an ordinary database.');
    const closed = await restoreCommand(engine, serverRoot, { asOf: new Date(moment), serverFile, database: 'closed_at', sourceDatabase: 'closed' });
    expect(pg.psql('SELECT v FROM t', 'closed_at').trim()).toBe('closed row');
    expect(closed.notes.join('\n')).toContain('"closed" allowed no connections at that moment (ALLOW_CONNECTIONS false); connections were allowed in the temporary cluster to dump it, and the restored "closed_at" allows them. If it should not: ALTER DATABASE "closed_at" ALLOW_CONNECTIONS false;');
    expect(pg.psql("SELECT string_agg(datname || ':' || datistemplate || ':' || datallowconn, ',' ORDER BY datname) FROM pg_database WHERE datname IN ('tmpl', 'tmpl_at', 'closed', 'closed_at')").trim()).toBe(
      'closed:false:false,closed_at:false:true,tmpl:true:true,tmpl_at:false:true',
    );
    pg.psql('DROP DATABASE tmpl_at; DROP DATABASE closed_at');
  }, 120_000);

  it('databases created or dropped between the moment and the end of the chain: a name the cluster did not have then is DATABASE_NOT_FOUND naming what it had and where the backups hold it', async () => {
    const engine = await restorer();
    privateTmpDir();
    const serverFile = pgServerFile(pg);
    const at = moment.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    const had = 'it had: closed, gone, old, postgres, shop, tmpl.';
    // Created after the moment.
    await expect(restoreCommand(engine, serverRoot, { asOf: new Date(moment), serverFile, database: 'later_at', sourceDatabase: 'later' })).rejects.toMatchObject({
      code: 'DATABASE_NOT_FOUND',
      message: expect.stringMatching(
        new RegExp(`^The cluster held no database "later" at ${at}; ${had} No base backup of this server records "later": if it was created after that moment, restore a later moment \\(the backups reach [0-9-]+ [0-9:]+ UTC to [0-9-]+ [0-9:]+ UTC\\); if it was renamed since, restore it by the name it had then\\. Nothing was created\\.$`),
      ),
    });
    // Dropped before the end of the chain: restoring its end names the base backup that has it.
    await expect(restoreCommand(engine, serverRoot, { point: 'latest', serverFile, database: 'gone_at', sourceDatabase: 'gone' })).rejects.toMatchObject({
      code: 'DATABASE_NOT_FOUND',
      message: expect.stringMatching(/^The cluster held no database "gone" at that restore point; it had: closed, later, postgres, renamed, shop, tmpl\. "gone" was in the base backup this moment is replayed from \(point [0-9TZ-]+-[0-9a-f]+\): it was dropped or renamed \(ALTER DATABASE … RENAME\) after that — restore an earlier moment, or this one by the name it had then\. Nothing was created\.$/),
    });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE '%\\_at'").trim()).toBe('0');
  }, 180_000);
});
