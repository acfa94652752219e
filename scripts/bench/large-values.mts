/**
 * Peak memory of backups and restores of one very large value (docs/PERFORMANCE.md "Very large
 * values"; never asserted on), through the real `backstop` command (out/cli, built first), each
 * run its own process: its own peak RSS and its tools' (mariadb-dump, pg_dump, the clients)
 * apart, sampled from /proc (tests/fixtures/cli.ts runBackstopPeakRss), and its wall time. On
 * fixture servers, a value of each size (MB, random bytes):
 * - PostgreSQL bytea: logical full, restore of the latest point;
 * - MariaDB LONGBLOB (binary log on): logical full, an UPDATE of the value to a new one of the
 *   same size, the binary-log incremental, restore to a moment after the UPDATE (full + replay);
 * - SQLite BLOB: logical and snapshot full, restore of each.
 * Each restore is checked on the server (md5/MD5/sha3 and length of the value).
 * Run: npx tsx scripts/bench/large-values.mts [sizes MB, comma-separated; default 64,256] [engines: pg,maria,sqlite]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli } from '../build-cli.mjs';
import { encodeDatabaseFolder } from '../../electron/engine/servers/index.ts';
import { runBackstopPeakRss } from '../../tests/fixtures/cli.ts';
import { startPostgres } from '../../tests/fixtures/servers/postgres.ts';
import { startMariadb } from '../../tests/fixtures/servers/mariadb.ts';

const sizes = (process.argv[2] ?? '64,256').split(',').map(Number);
const engines = (process.argv[3] ?? 'pg,maria,sqlite').split(',');
const scratch = mkdtempSync(join(tmpdir(), 'large-values-'));
const PASSWORD_ENV = 'BENCH_LARGE_VALUES_PASSWORD';
await buildCli();

interface Setup {
  engine: string;
  mb: number;
  server: Record<string, unknown>;
  env: Record<string, string>;
  dataDir: string;
  backups: string;
  serverFile: string;
}

function setup(engine: string, mb: number, server: Record<string, unknown>, password: string | null, type: 'logical' | 'snapshot'): Setup & { taskFile: string } {
  const dir = mkdtempSync(join(scratch, `${engine}-${mb}-`));
  const backups = join(dir, 'backups');
  mkdirSync(backups);
  const taskFile = join(dir, 'task.json');
  writeFileSync(taskFile, JSON.stringify({ name: `${engine} ${mb} ${type}`, server, type, schedule: { full: '0 2 * * 0', incremental: '0 * * * *', timezone: 'UTC' }, destinations: [{ kind: 'local', path: backups }] }));
  const serverFile = join(dir, 'server.json');
  writeFileSync(serverFile, JSON.stringify(server));
  return { engine, mb, server, env: password ? { [PASSWORD_ENV]: password } : {}, dataDir: join(dir, 'data'), backups, serverFile, taskFile };
}

async function run(s: Setup, op: string, argv: string[], check?: () => boolean): Promise<boolean> {
  const t = performance.now();
  const r = await runBackstopPeakRss([...argv, '--data-dir', s.dataDir, '--json'], { env: s.env });
  const seconds = Number(((performance.now() - t) / 1000).toFixed(1));
  const ok = r.code === 0;
  let error: unknown;
  if (!ok) {
    try {
      const doc = JSON.parse(r.stdout) as { error?: unknown; databases?: { error?: unknown }[] };
      error = doc.error ?? doc.databases?.map((d) => d.error).filter(Boolean);
    } catch {
      error = r.stdout.slice(0, 400) + r.stderr.slice(-400);
    }
  }
  console.log(JSON.stringify({ engine: s.engine, mb: s.mb, op, seconds, ownPeakMb: Math.round(r.peakRssMb), toolsPeakMb: Math.round(r.toolsPeakRssMb), ok, same: ok && check ? check() : undefined, error }));
  return ok;
}

const restoreArgs = (s: Setup, database: string, source: string, at: string[]) => ['restore', join(s.backups, encodeDatabaseFolder(source)), ...at, '--server', s.serverFile, '--database', database];

async function aMoment(): Promise<string> {
  await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
  const moment = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
  return moment;
}

if (engines.includes('pg')) {
  const pg = await startPostgres();
  const server = { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: PASSWORD_ENV, tls: 'disable' };
  for (const mb of sizes) {
    const db = `big${mb}`;
    pg.psql(`CREATE DATABASE ${db}`);
    // Incompressible bytes built inside the server (md5 pieces), stored out of line uncompressed.
    pg.psql(`CREATE TABLE files (id int PRIMARY KEY, body bytea); ALTER TABLE files ALTER body SET STORAGE EXTERNAL;
      INSERT INTO files SELECT 1, string_agg(decode(md5(i::text) || md5((i + 1)::text), 'hex') || decode(repeat(md5(i::text), 32), 'hex'), ''::bytea) FROM generate_series(1, ${mb} * 1024 * 1024 / 528) i;`, db);
    const sum = (d: string) => pg.psql('SELECT md5(body), length(body) FROM files', d).trim();
    const s = setup('postgres', mb, server, pg.password, 'logical');
    if (await run(s, 'logical full', ['backup', '--config', s.taskFile, '--kind', 'full'])) {
      await run(s, 'logical restore', restoreArgs(s, `${db}_r`, db, ['--point', 'latest']), () => sum(`${db}_r`) === sum(db));
      pg.psql(`DROP DATABASE IF EXISTS ${db}_r`);
    }
    pg.psql(`DROP DATABASE ${db}`);
  }
  await pg.stop();
}

if (engines.includes('maria')) {
  // max_allowed_packet: the dump's statement of the row (2× the value as hex); a redo log for a row of up to ~700 MB.
  const m = await startMariadb({ binlog: true, args: ['--max-allowed-packet=1G', '--innodb-log-file-size=2G'] });
  const server = { kind: 'mysql', host: m.host, port: m.port, user: m.user, passwordEnv: PASSWORD_ENV, tls: 'disable' };
  for (const mb of sizes) {
    const db = `big${mb}`;
    m.sql(`CREATE DATABASE ${db}`);
    m.sql(`CREATE TABLE files (id INT PRIMARY KEY, body LONGBLOB); INSERT INTO files VALUES (1, REPEAT(RANDOM_BYTES(1024), ${mb} * 1024));`, db);
    const sum = (d: string) => m.sql('SELECT MD5(body), LENGTH(body) FROM files', d).trim();
    const s = setup('mariadb', mb, server, m.password, 'logical');
    await run(s, 'logical full', ['backup', '--config', s.taskFile, '--kind', 'full']);
    await run(s, 'logical restore', restoreArgs(s, `${db}_r`, db, ['--point', 'latest']), () => sum(`${db}_r`) === sum(db));
    m.sql(`DROP DATABASE ${db}_r`);
    m.sql(`UPDATE files SET body = REPEAT(RANDOM_BYTES(1024), ${mb} * 1024) WHERE id = 1`, db);
    const moment = await aMoment();
    const atMoment = sum(db);
    await run(s, 'binlog incremental', ['backup', '--config', s.taskFile, '--kind', 'incremental']);
    await run(s, 'restore to a moment (full + replay)', restoreArgs(s, `${db}_m`, db, ['--as-of', moment]), () => sum(`${db}_m`) === atMoment);
    m.sql(`DROP DATABASE ${db}_m; DROP DATABASE ${db}; PURGE BINARY LOGS BEFORE NOW();`);
  }
  await m.stop();
}

if (engines.includes('sqlite')) {
  const folder = join(scratch, 'sqlite');
  mkdirSync(folder);
  const target = join(scratch, 'sqlite-target');
  mkdirSync(target);
  const server = { kind: 'sqlite', folder };
  const sq = (path: string, sql: string) => execFileSync('sqlite3', [path, sql], { encoding: 'utf8' }).trim();
  for (const mb of sizes) {
    const db = `big${mb}.db`;
    sq(join(folder, db), `CREATE TABLE files (id INTEGER PRIMARY KEY, body BLOB); INSERT INTO files VALUES (1, randomblob(${mb} * 1024 * 1024));`);
    const sum = (path: string) => sq(path, 'SELECT length(body), hex(sha3(body)) FROM files');
    for (const type of ['logical', 'snapshot'] as const) {
      const s = { ...setup('sqlite', mb, server, null, type), serverFile: join(scratch, `sqlite-target-${mb}-${type}.json`) };
      writeFileSync(s.serverFile, JSON.stringify({ kind: 'sqlite', folder: target }));
      await run(s, `${type} full`, ['backup', '--config', s.taskFile, '--kind', 'full']);
      const restored = `${mb}-${type}.db`;
      await run(s, `${type} restore`, restoreArgs(s, restored, db, ['--point', 'latest']), () => sum(join(target, restored)) === sum(join(folder, db)));
      rmSync(join(target, restored), { force: true });
    }
    rmSync(join(folder, db));
  }
}
rmSync(scratch, { recursive: true, force: true });
