/**
 * kill -9 of a MariaDB task's incremental (the server's binary log, stored as the
 * `~server/binlog` stream), with the real `backstop` CLI as a child process and a real
 * MariaDB 10.11 (log on, ROW format): a committed transaction of 25 known ids is written
 * before each run, each incremental is killed at a random moment aimed at the log read (the
 * run's private `backstop-binlog-*` folder exists: mariadb-binlog is copying closed files) or
 * at the commit (an in-flight marker exists in a repository), and the next incremental must
 * complete and continue the chain. At the end `ledger` is restored to the latest moment and
 * must hold every committed id exactly once (no gap: nothing missing; no duplicate replay:
 * the table has no key, a file replayed twice would double its ids), and the stored reads'
 * files must be consecutive. Assertions never depend on where a kill landed.
 */
import { existsSync, readdirSync, utimesSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRepository } from '../../../electron/engine/repository/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { encodeDatabaseFolder, SERVER_FOLDER } from '../../../electron/engine/servers/index.ts';
import { logFileNumber, type LogReadMeta } from '../../../electron/engine/servers/mysql/binlog.ts';
import { cli, rng, rowsOf, Scratch, sleep, spawnCli } from '../../fixtures/reliability/common.ts';
import { repositoriesUnder, writeTask } from '../../fixtures/reliability/kill-harness.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';
import { storedPoints } from '../../fixtures/points.ts';

const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? Date.now() % 100_000);
const KILLS = 3;
const PASSWORD_ENV = 'BACKSTOP_REL_MARIA_PASSWORD';
const scratch = new Scratch();
let db: MariadbServer;

beforeAll(async () => {
  db = await startMariadb({ binlog: true });
}, 60_000);
afterAll(async () => {
  await db?.stop();
  scratch.cleanup();
});

describe('kill -9 during a MariaDB binary-log incremental', () => {
  it(`${KILLS} incrementals killed during the log read or the commit: every next run continues the chain, the restore to the latest moment has every committed row once`, async () => {
    const rand = rng(SEED);
    const backups = scratch.dir('backstop-binlogkill-backups-');
    const dataDir = scratch.dir('backstop-binlogkill-data-');
    // The child's TMPDIR: its log read's private folder appears here (and a killed run's stays behind).
    const childTmp = scratch.dir('backstop-binlogkill-tmp-');
    const taskFile = join(scratch.dir(), 'task.json');
    const server = { kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: PASSWORD_ENV, tls: 'disable' };
    writeTask(taskFile, server, backups, undefined, { name: 'binlogkill' });
    const serverFile = join(scratch.dir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify(server));
    process.env[PASSWORD_ENV] = db.password;
    const env = { [PASSWORD_ENV]: db.password, TMPDIR: childTmp };

    db.sql('CREATE DATABASE ledger; CREATE DATABASE noise');
    // No primary key: a row replayed twice shows up as a duplicate id.
    db.sql('CREATE TABLE ledger (id INT NOT NULL, batch INT NOT NULL) ENGINE=InnoDB', 'ledger');
    db.sql('CREATE TABLE filler (n INT, v TEXT) ENGINE=InnoDB', 'noise');
    const committed: number[] = [];
    let batch = 0;
    // One committed transaction of 25 known ids, plus ~1.5 MB of other log so a read lasts long enough to be hit.
    const write = () => {
      batch++;
      const from = committed.length + 1;
      const values = Array.from({ length: 25 }, (_, k) => `(${from + k}, ${batch})`).join(', ');
      db.sql(`INSERT INTO ledger.ledger VALUES ${values}; INSERT INTO noise.filler SELECT seq, REPEAT(MD5(seq), 30) FROM seq_1_to_1500;`, 'noise');
      for (let id = from; id < from + 25; id++) committed.push(id);
    };
    const backup = async (kind: 'full' | 'incremental') => {
      const r = await cli('backup', '--config', taskFile, '--data-dir', dataDir, '--kind', kind, '--json');
      const rows = rowsOf(r.json);
      return { ok: r.code === 0, out: r.out, ledger: rows.find((d) => d.database === 'ledger'), binlog: rows.find((d) => d.database === 'binlog') };
    };
    const reading = (before: Set<string>) => readdirSync(childTmp).some((f) => f.startsWith('backstop-binlog-') && !before.has(f));
    // In-flight markers of the repository writes (a killed commit leaves one behind: only new ones count).
    const markers = () => repositoriesUnder(backups).flatMap((r) => (existsSync(join(r, 'inflight')) ? readdirSync(join(r, 'inflight')).filter((f) => !f.startsWith('.')).map((f) => join(r, f)) : []));

    write();
    const first = await backup('full');
    expect(first.ok, first.out).toBe(true);
    expect(first.ledger).toMatchObject({ kind: 'full', status: 'ok' });

    const log: { case: number; aim: string; delayMs: number; killed: boolean; next: string }[] = [];
    for (let i = 1; i <= KILLS; i++) {
      write();
      const aim = i % 2 === 1 ? 'log read' : 'commit';
      const delayMs = Math.round(rand() * (aim === 'log read' ? 60 : 200));
      const oldMarkers = new Set(markers());
      const oldTmp = new Set(readdirSync(childTmp));
      const inFlight = () => markers().some((m) => !oldMarkers.has(m));
      const { child, done } = spawnCli(['backup', '--config', taskFile, '--data-dir', dataDir, '--kind', 'incremental', '--json'], env);
      let exited = false;
      void done.then(() => (exited = true));
      while (!exited && !(aim === 'log read' ? reading(oldTmp) : inFlight())) await sleep(2);
      await Promise.race([sleep(delayMs), done]);
      const killed = child.exitCode === null && child.signalCode === null;
      if (killed) child.kill('SIGKILL');
      const exit = await done;
      if (!killed) expect(exit.code, exit.out).toBe(0);
      // Rows written after the kill must reach the chain too.
      write();
      const next = await backup('incremental');
      log.push({ case: i, aim, delayMs, killed, next: `binlog ${next.binlog?.kind}/${next.binlog?.status}, ledger ${next.ledger?.kind}/${next.ledger?.status}` });
      expect(next.ok, `case ${i} (${aim}, ${delayMs} ms): ${next.out}`).toBe(true);
      // The chain goes on: the log is read as an incremental, and ledger needs no re-dump.
      expect(next.binlog, next.out).toMatchObject({ kind: 'incremental', status: 'ok' });
      expect(next.ledger, next.out).toMatchObject({ kind: 'incremental', status: 'ok', point: null });
    }
    console.log(`binlog kill -9 (seed ${SEED}):`);
    console.table(log);

    // The stored reads: one chain whose files follow each other (a file may repeat, never be skipped).
    const points = await storedPoints(join(backups, SERVER_FOLDER), 'binlog');
    expect(points[0]!.kind).toBe('full');
    expect(points.slice(1).every((p) => p.kind === 'incremental')).toBe(true);
    const stored = points.flatMap((p) => (p.meta as unknown as LogReadMeta).binlogFiles);
    const numbers = [...new Set(stored.map((f) => logFileNumber(f)!.n))].sort((a, b) => a - b);
    expect(numbers.length).toBeGreaterThan(KILLS);
    expect(numbers.at(-1)! - numbers[0]! + 1, `stored files ${numbers.join(', ')} leave no gap`).toBe(numbers.length);

    // Restore to the latest moment: every committed id, exactly once.
    await sleep(1100 - (Date.now() % 1000));
    const moment = new Date().toISOString();
    await sleep(1100 - (Date.now() % 1000));
    const last = await backup('incremental');
    expect(last.ok, last.out).toBe(true);
    const restored = await cli('restore', join(backups, encodeDatabaseFolder('ledger')), '--as-of', moment, '--server', serverFile, '--database', 'ledger_latest', '--data-dir', dataDir, '--json');
    expect(restored.code, restored.out).toBe(0);
    const got = db.sql('SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id), COUNT(DISTINCT batch) FROM ledger', 'ledger_latest').trim().split('\t');
    expect(got, `committed ids 1..${committed.length} in ${batch} batches`).toEqual([String(committed.length), String(committed.length), '1', String(committed.length), String(batch)]);
  }, 120_000);

  it('kill -9 while retention prunes the stored log: the repository stays consistent (verify passes, the latest moment restores), the next run completes the prune', async () => {
    const backups = scratch.dir('backstop-binlogprune-backups-');
    const dataDir = scratch.dir('backstop-binlogprune-data-');
    const taskFile = join(scratch.dir(), 'task.json');
    const server = { kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: PASSWORD_ENV, tls: 'disable' };
    writeTask(taskFile, server, backups, undefined, { name: 'binlogprune', retention: { keepLast: 1 } });
    const serverFile = join(scratch.dir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify(server));
    process.env[PASSWORD_ENV] = db.password;
    const logFolder = join(backups, SERVER_FOLDER, encodeDatabaseFolder('binlog'));
    const logReads = () => storedPoints(join(backups, SERVER_FOLDER), 'binlog');
    const backup = async (kind: 'full' | 'incremental') => {
      const r = await cli('backup', '--config', taskFile, '--data-dir', dataDir, '--kind', kind, '--json');
      expect(r.code, r.out).toBe(0);
    };
    db.sql('CREATE DATABASE pruned');
    db.sql('CREATE TABLE ledger (id INT NOT NULL, filler TEXT) ENGINE=InnoDB', 'pruned');
    let rows = 0;
    // 20 known ids and ~100 KB of incompressible log per write.
    const write = () => {
      db.sql(`INSERT INTO ledger SELECT ${rows} + seq, HEX(RANDOM_BYTES(5000)) FROM seq_1_to_20`, 'pruned');
      rows += 20;
    };
    write();
    await backup('full');
    for (let i = 0; i < 5; i++) {
      write();
      await backup('incremental');
    }
    write();
    // The second full: the first goes by keepLast 1; every read before its position is no longer needed.
    await backup('full');
    const kept = await storedPoints(backups, 'pruned');
    expect(kept.map((p) => p.kind)).toEqual(['full']);
    const needed = logFileNumber(kept[0]!.meta.binlogFile as string)!.n;
    const readsBefore = (await logReads()).length;
    expect(readsBefore).toBeGreaterThanOrEqual(6);
    // Stored an hour ago, for the GC's grace period (the clock).
    const then = new Date(Date.now() - 3_600_000);
    for (const f of readdirSync(join(logFolder, 'packs'), { recursive: true, withFileTypes: true })) if (f.isFile()) utimesSync(join(f.parentPath, f.name), then, then);
    const packsBefore = readdirSync(join(logFolder, 'packs'), { recursive: true }).length;

    write();
    // The run's log job stores its read, then prunes: killed the moment the first read's manifest is deleted.
    const { child, done } = spawnCli(['backup', '--config', taskFile, '--data-dir', dataDir, '--kind', 'incremental', '--json'], { [PASSWORD_ENV]: db.password });
    const watcher = watch(join(logFolder, 'points'), () => {
      if (readdirSync(join(logFolder, 'points')).length <= readsBefore && child.exitCode === null) child.kill('SIGKILL');
    });
    const exit = await done;
    watcher.close();
    const readsLeft = (await logReads()).length;
    console.log(`binlog prune kill -9: ${exit.signal ?? `exit ${exit.code}`}, reads ${readsBefore} → ${readsLeft} (+1 new), packs ${packsBefore} → ${readdirSync(join(logFolder, 'packs'), { recursive: true }).length}`);
    expect(exit.signal, `the prune was not reached before the run ended: ${exit.out}`).toBe('SIGKILL');

    // Consistent: every stored read verifies, the reads left are each chain's newest part, the latest moment restores.
    const verified = await cli('verify', logFolder, '--data-dir', dataDir, '--json');
    expect(verified.code, verified.out).toBe(0);
    const files = (await logReads()).flatMap((p) => (p.meta as unknown as LogReadMeta).binlogFiles.map((f) => logFileNumber(f)!.n));
    const distinct = [...new Set(files)].sort((a, b) => a - b);
    expect(distinct.at(-1)! - distinct[0]! + 1, `stored files ${distinct.join(', ')} leave no gap`).toBe(distinct.length);
    expect(distinct[0]!).toBeLessThanOrEqual(needed);

    // The next run completes it: only reads a kept dump needs are left, and no pack is left behind.
    write();
    await sleep(1100 - (Date.now() % 1000));
    const moment = new Date().toISOString();
    await sleep(1100 - (Date.now() % 1000));
    await backup('incremental');
    const repo = await openRepository(new LocalBackend(logFolder));
    const reads = await repo.listPoints();
    expect(reads.every((p) => (p.meta as unknown as LogReadMeta).binlogFiles.some((f) => logFileNumber(f)!.n >= needed))).toBe(true);
    expect((await repo.collectGarbage()).packsDeleted).toBe(0);
    expect((await cli('verify', logFolder, '--data-dir', dataDir, '--json')).code).toBe(0);
    const restored = await cli('restore', join(backups, encodeDatabaseFolder('pruned')), '--as-of', moment, '--server', serverFile, '--database', 'pruned_latest', '--data-dir', dataDir, '--json');
    expect(restored.code, restored.out).toBe(0);
    expect(db.sql('SELECT COUNT(*), COUNT(DISTINCT id), MIN(id), MAX(id) FROM ledger', 'pruned_latest').trim()).toBe(`${rows}\t${rows}\t1\t${rows}`);
  }, 180_000);
});
