/**
 * Restore to a moment when the DBA, the workstation and the database server each live in
 * another time zone, through the real `backstop restore --as-of` (a child process run with
 * TZ=Asia/Kolkata or TZ=America/New_York) against real servers set to yet another zone:
 * - PostgreSQL 15 with `timezone = 'Pacific/Chatham'` (+13:45) in its configuration (ALTER
 *   SYSTEM: postgresql.auto.conf, inside the base backup) and other zones per database and
 *   per role: one database of a snapshot task's cluster backup restored to a moment typed as
 *   Kolkata wall time without an offset holds exactly the rows committed up to that
 *   millisecond, and the CLI notes the instant it read; the whole cluster restored to a moment
 *   typed with `+05:30` from New York recovers to exactly that instant (recovery_target_time);
 * - MariaDB with `--default-time-zone=+05:30`: a moment typed as New York wall time on a whole
 *   second replays nothing logged during that second (those statements started at or after
 *   it); a moment inside a second (typed with `+05:30`) replays the whole second, and the
 *   restore's note says so; TIMESTAMP and DATETIME values come back as they were; a full
 *   taken while the workstation's clock is 30 s behind the server's records its snapshot
 *   by the server's clock (binary-log times are the server's): a moment before the full
 *   is not restored from it (OUT_OF_RANGE), never with a row committed after that moment;
 * - refused before anything is created: a New York wall time the clocks skip (named with both
 *   offsets, never shifted an hour) or show twice, a date alone, a moment before the first
 *   point or in the future (OUT_OF_RANGE naming the range, and how the typed moment was read).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { wallTime } from '../../../electron/shared/zoned-time.ts';
import { runBackstop, type CliRun } from '../../fixtures/cli.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { pgServerFile, privateTmpDir, walTask } from '../../fixtures/wal-task.ts';

let pg: PgServer;
let maria: MariadbServer;

beforeAll(async () => {
  [pg, maria] = await Promise.all([startPostgres({ settings: ['timezone=Pacific/Chatham', 'log_timezone=Pacific/Chatham'] }), startMariadb({ binlog: true, args: ['--default-time-zone=+05:30'] })]);
}, 120_000);

afterAll(async () => {
  await Promise.all([pg?.stop(), maria?.stop()]);
});

/** `backstop <argv> --json` in a child process whose local time zone is `tz`. */
async function cliIn(tz: string, argv: string[]): Promise<CliRun & { doc: { notes?: string[]; error?: { code: string; message: string } } }> {
  const r = await runBackstop([...argv, '--json', '--data-dir', join(tempDir(), 'data')], { env: { TZ: tz } });
  return { ...r, doc: JSON.parse(r.stdout) };
}

/** "YYYY-MM-DDTHH:mm:ss.fff" as a clock in `zone` shows `ms` (no offset: what a DBA types). */
function wallMs(ms: number, zone: string): string {
  return `${wallTime(new Date(ms), zone)}.${String(ms % 1000).padStart(3, '0')}`;
}

/** `ms` written with the +05:30 offset. */
function kolkataWithOffset(ms: number): string {
  return `${wallMs(ms, 'Asia/Kolkata')}+05:30`;
}

const pause = (ms = 300) => new Promise((r) => setTimeout(r, ms));

describe('PostgreSQL in Pacific/Chatham, the CLI in Kolkata and New York', () => {
  it('restores exactly the rows committed up to the moment typed, read in the workstation zone or with its offset; skipped, doubled, date-only and unreachable moments create nothing', async () => {
    privateTmpDir();
    pg.psql("ALTER SYSTEM SET timezone = 'Pacific/Chatham'");
    pg.psql('SELECT pg_reload_conf()');
    pg.psql('CREATE DATABASE tz');
    pg.psql("ALTER DATABASE tz SET timezone = 'America/St_Johns'");
    pg.psql(`ALTER ROLE "${pg.user}" SET timezone = 'Asia/Tokyo'`);
    pg.psql('CREATE TABLE t (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())', 'tz');
    const { engine, backups, taskId } = await walTask(pg);
    // The server's clock in UTC, to the millisecond (rounded down: still after what committed before it).
    const serverMs = () => Math.floor(Date.parse(pg.psql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`).trim()));
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    await pause(1100); // past the second the range starts in
    pg.psql('INSERT INTO t (id) VALUES (1)', 'tz');
    await pause();
    const afterOne = serverMs();
    await pause();
    pg.psql('INSERT INTO t (id) VALUES (2)', 'tz');
    await pause();
    const afterTwo = serverMs();
    await pause();
    pg.psql('INSERT INTO t (id) VALUES (3)', 'tz');
    expect((await runTask(engine, taskId, 'incremental')).status).toBe('success');
    const location = { kind: 'local' as const, path: join(backups, SERVER_FOLDER, encodeDatabaseFolder('base.tar')) };
    const range = data(await engine.call('restore.inspect', { location })).momentRanges![0]!;
    // The range is the server's instants, not its wall clock read as UTC (13:45 off).
    expect(Date.parse(range.from)).toBeLessThan(afterOne);
    expect(Date.parse(range.to)).toBeGreaterThan(afterTwo);
    expect(Date.parse(range.to)).toBeLessThan(Date.now() + 60_000);

    const root = join(backups, SERVER_FOLDER);
    const server = pgServerFile(pg);
    const restore = (tz: string, at: string, database: string) => cliIn(tz, ['restore', root, '--as-of', at, '--source-database', 'tz', '--server', server, '--database', database]);
    const rows = (database: string) => pg.psql('SELECT string_agg(id::text, \',\' ORDER BY id) FROM t', database).trim();
    const exists = (database: string) => pg.psql(`SELECT count(*) FROM pg_database WHERE datname = '${database}'`).trim() === '1';

    // Kolkata wall time, no offset: this computer's zone; the note says how it was read.
    const local = wallMs(afterOne, 'Asia/Kolkata');
    const one = await restore('Asia/Kolkata', local, 'tz_one');
    expect(one.code, one.stdout + one.stderr).toBe(0);
    expect(rows('tz_one')).toBe('1');
    // The timestamptz the server wrote in its zones is the same instant in the copy.
    const instants = (database: string) => pg.psql("SELECT string_agg(id || '@' || extract(epoch FROM at), ',' ORDER BY id) FROM t WHERE id = 1", database).trim();
    expect(instants('tz_one')).toBe(instants('tz'));
    expect(one.doc.notes![0]).toBe(`--as-of ${local} has no offset: read in this computer's time zone (Asia/Kolkata, UTC+05:30), that is ${new Date(afterOne).toISOString()}.`);
    // Typed with +05:30 on a New York workstation: the offset wins. The whole cluster (no
    // replay here: it recovers on its first start) is set to recover to exactly that instant.
    const folder = join(tempDir(), 'cluster');
    const two = await cliIn('America/New_York', ['restore', location.path, '--as-of', kolkataWithOffset(afterTwo), '--folder', folder]);
    expect(two.code, two.stdout + two.stderr).toBe(0);
    expect(readFileSync(join(folder, 'postgresql.auto.conf'), 'utf8')).toContain(`recovery_target_time = '${new Date(afterTwo).toISOString().replace('T', ' ').replace('Z', '+00')}'`);
    expect(two.doc.notes!.join('\n')).not.toContain('has no offset');

    // Refused before anything is created, each naming the fix.
    const refused = async (tz: string, at: string, database: string) => {
      const r = await restore(tz, at, database);
      expect(r.code).not.toBe(0);
      expect(exists(database)).toBe(false);
      return r.doc.error!;
    };
    // 02:30 on 2026-03-08 never happens in New York: not silently 03:30.
    expect(await refused('America/New_York', '2026-03-08T02:30', 'tz_gap')).toEqual({
      code: 'VALIDATION',
      message: expect.stringContaining("2026-03-08 02:30:00 never happens in America/New_York (this computer's time zone): the clocks skip forward there that day (UTC-05:00 to UTC-04:00). Write the moment with the offset you mean"),
    });
    expect(await refused('America/New_York', '2026-11-01T01:30', 'tz_twice')).toEqual({
      code: 'VALIDATION',
      message: expect.stringContaining('2026-11-01T01:30:00-04:00 (the first) or 2026-11-01T01:30:00-05:00 (the second)'),
    });
    expect(await refused('Asia/Kolkata', wallMs(afterOne, 'Asia/Kolkata').slice(0, 10), 'tz_date')).toEqual({ code: 'VALIDATION', message: expect.stringContaining('write it as ISO-8601 date and time') });
    // Unreachable: the range named (UTC), and what the typed moment was read as.
    const future = Date.now() + 3_600_000 - (Date.now() % 1000);
    const late = await refused('Asia/Kolkata', wallMs(future, 'Asia/Kolkata'), 'tz_late');
    expect(late.code).toBe('OUT_OF_RANGE');
    expect(late.message).toMatch(/The backups reach \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC to .* UTC\. Nothing was created\./);
    expect(late.message).toContain(`(--as-of ${wallMs(future, 'Asia/Kolkata')} has no offset: read in this computer's time zone (Asia/Kolkata, UTC+05:30), that is ${new Date(future).toISOString()}.)`);
  }, 180_000);
});

describe('MariaDB at +05:30, the CLI in New York', () => {
  it('a whole-second moment replays nothing logged during that second; one inside a second replays the whole second and says so; before the first point: OUT_OF_RANGE', async () => {
    maria.sql('CREATE DATABASE shop_tz');
    maria.sql('CREATE TABLE t (id INT PRIMARY KEY, ts TIMESTAMP(3) NULL, dt DATETIME(3) NULL)', 'shop_tz');
    const engine = await testEngine({ encoderWorkers: 0 });
    const s = data(await engine.call('servers.create', { kind: 'mysql', name: 'm', host: maria.host, port: maria.port, user: maria.user, password: maria.password, tls: 'disable' }));
    const backups = tempDir();
    const task = data(
      await engine.call('tasks.create', { name: 'tz', serverId: s.id, type: 'logical', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
    );
    expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    // The log's timestamps are the second each statement started: set them (SET timestamp) so
    // the rows fall on known sides of known seconds, in the next second after the full.
    const base = Math.ceil(Date.now() / 1000) + 1;
    const at = (seconds: number, id: number) => `SET timestamp = ${seconds.toFixed(3)}; INSERT INTO t VALUES (${id}, NOW(3), NOW(3));`;
    maria.sql(`${at(base + 0.1, 1)} ${at(base + 1.05, 2)} ${at(base + 1.6, 3)} ${at(base + 2.2, 4)}`, 'shop_tz');
    // The incremental reads the log once its end (the server's clock) is past every moment asked.
    await pause(Math.max(0, (base + 2.5) * 1000 - Date.now()));
    expect((await runTask(engine, task.id, 'incremental')).status).toBe('success');

    process.env.TZ_TEST_MARIA_PASSWORD = maria.password;
    const server = join(tempDir(), 'server.json');
    writeFileSync(server, JSON.stringify({ kind: 'mysql', host: maria.host, port: maria.port, user: maria.user, passwordEnv: 'TZ_TEST_MARIA_PASSWORD', tls: 'disable' }));
    const location = join(backups, encodeDatabaseFolder('shop_tz'));
    const restore = (at: string, database: string) => cliIn('America/New_York', ['restore', location, '--as-of', at, '--server', server, '--database', database]);
    const rows = (database: string) => maria.sql('SELECT GROUP_CONCAT(id ORDER BY id) FROM t', database).trim();
    const values = (database: string) => maria.sql("SET time_zone = '+00:00'; SELECT id, ts, dt FROM t ORDER BY id", database).trim().split('\n');

    // base+1.000 as New York wall time: row 2 (logged during that second, at .05) is after it.
    const whole = (base + 1) * 1000;
    const w = await restore(wallTime(new Date(whole), 'America/New_York'), 'shop_whole');
    expect(w.code, w.stdout + w.stderr).toBe(0);
    expect(rows('shop_whole')).toBe('1');
    expect(w.doc.notes!.join('\n')).toContain(`then the binary log up to that second: events logged before ${new Date(whole).toISOString().slice(0, 19)}Z, none logged during that second`);
    // base+1.400 typed with +05:30: the whole second base+1 (rows 2 and 3, the log cannot tell .05 from .6), not row 4.
    const inside = whole + 400;
    const f = await restore(kolkataWithOffset(inside), 'shop_inside');
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(rows('shop_inside')).toBe('1,2,3');
    expect(f.doc.notes!.join('\n')).toContain(`every event logged during ${new Date(whole).toISOString().slice(0, 19)}Z's second, also any after ${new Date(inside).toISOString()}`);
    // The values the server wrote in its own zone come back the same.
    expect(values('shop_inside')).toEqual(values('shop_tz').slice(0, 3));

    // Before the first point: OUT_OF_RANGE naming the range, nothing created.
    const early = await restore(wallTime(new Date((base - 3600) * 1000), 'America/New_York'), 'shop_early');
    expect(early.code).not.toBe(0);
    expect(early.doc.error).toEqual({ code: 'OUT_OF_RANGE', message: expect.stringMatching(/is outside what this database's backups reach\. Reachable moments \(UTC\): .*has no offset: read in this computer's time zone \(America\/New_York, UTC-0[45]:00\)/) });
    expect(maria.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_early'").trim()).toBe('0');
  }, 120_000);

  it("a full taken while the workstation's clock is behind the server's: the range starts at the snapshot by the server's clock", async () => {
    maria.sql('CREATE DATABASE skew; CREATE TABLE skew.t (id INT PRIMARY KEY)');
    const engine = await testEngine({ encoderWorkers: 0, jobs: 'inline' });
    const s = data(await engine.call('servers.create', { kind: 'mysql', name: 'm2', host: maria.host, port: maria.port, user: maria.user, password: maria.password, tls: 'disable' }));
    const backups = tempDir();
    const task = data(
      await engine.call('tasks.create', { name: 'skew', serverId: s.id, type: 'logical', schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }),
    );
    const serverNow = () => maria.sql("SELECT DATE_FORMAT(UTC_TIMESTAMP(3), '%Y-%m-%dT%H:%i:%s.%fZ')").trim();
    const moment = serverNow();
    await pause(1100);
    maria.sql('INSERT INTO t VALUES (1)', 'skew'); // after the moment, before the full
    // The workstation's clock 30 s behind the server's while the full runs.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 30_000, shouldAdvanceTime: true });
    try {
      expect((await runTask(engine, task.id, 'full')).status).toBe('success');
    } finally {
      vi.useRealTimers();
    }
    maria.sql('INSERT INTO t VALUES (2)', 'skew');
    await pause(1100);
    expect((await runTask(engine, task.id, 'incremental')).status).toBe('success');
    const info = data(await engine.call('restore.inspect', { location: { kind: 'local', path: join(backups, encodeDatabaseFolder('skew')) } }));
    expect(Date.parse(info.momentRanges![0]!.from)).toBeGreaterThan(Date.parse(moment));

    process.env.TZ_TEST_MARIA_PASSWORD = maria.password;
    const server = join(tempDir(), 'server.json');
    writeFileSync(server, JSON.stringify({ kind: 'mysql', host: maria.host, port: maria.port, user: maria.user, passwordEnv: 'TZ_TEST_MARIA_PASSWORD', tls: 'disable' }));
    const r = await cliIn('UTC', ['restore', join(backups, encodeDatabaseFolder('skew')), '--as-of', moment, '--server', server, '--database', 'skew_then']);
    expect(r.doc.error).toMatchObject({ code: 'OUT_OF_RANGE' });
    expect(maria.sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'skew_then'").trim()).toBe('0');
  }, 60_000);
});
