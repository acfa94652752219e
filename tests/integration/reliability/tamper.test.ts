/**
 * Tampering with a backup folder: a flipped byte in a pack, a manifest or the header, a
 * truncated file, a deleted pack. `backstop verify` reports it and names what is broken;
 * `backstop restore` fails with INTEGRITY and leaves no new file/database — or, where the
 * damaged bytes are never read by a restore (a pack's salt or index), restores the exact
 * same bytes as from the untouched folder. Nothing is ever restored silently wrong.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { cli, filesUnder, rng, Scratch } from '../../fixtures/reliability/common.ts';
import { PG_PASSWORD_ENV } from '../../fixtures/reliability/kill-harness.ts';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

interface Fixture {
  folder: string;
  dataDir: string;
  serverFile: string;
  pristine: string;
  points: string[];
  baselineSha: string;
}
let fx: Fixture;

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

beforeAll(async () => {
  const folder = scratch.dir();
  const backups = scratch.dir();
  const dataDir = scratch.dir();
  const db = new Database(join(folder, 'ledger.db'));
  db.exec('CREATE TABLE ledger (id INTEGER PRIMARY KEY, v TEXT)');
  const ins = db.prepare('INSERT INTO ledger (v) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 4000; i++) ins.run(randomBytes(96).toString('hex'));
  })();
  const task = join(scratch.dir(), 'task.json');
  writeFileSync(task, JSON.stringify({ name: 't', server: { kind: 'sqlite', folder }, type: 'snapshot', schedule: { full: '0 2 * * *', incremental: '0 * * * *' }, destinations: [{ kind: 'local', path: backups }] }));
  expect((await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'full', '--json')).code).toBe(0);
  db.exec("UPDATE ledger SET v = 'changed' WHERE id % 50 = 0");
  db.close();
  expect((await cli('backup', '--config', task, '--data-dir', dataDir, '--kind', 'incremental', '--json')).code).toBe(0);
  const serverFile = join(scratch.dir(), 'server.json');
  writeFileSync(serverFile, JSON.stringify({ kind: 'sqlite', folder }));
  const pristine = join(backups, encodeDatabaseFolder('ledger.db'));
  const points = ((await cli('points', pristine, '--data-dir', dataDir, '--json')).json as { id: string }[]).map((p) => p.id);
  expect(points).toHaveLength(2);
  const r = await cli('restore', pristine, '--point', 'latest', '--server', serverFile, '--database', 'baseline.db', '--data-dir', dataDir, '--json');
  expect(r.code, r.out).toBe(0);
  fx = { folder, dataDir, serverFile, pristine, points, baselineSha: sha(join(folder, 'baseline.db')) };
});

let n = 0;
function copy(): string {
  const dir = join(scratch.dir(), 'ledger.db');
  cpSync(fx.pristine, dir, { recursive: true });
  return dir;
}
const packsOf = (repo: string) => filesUnder(repo).filter((f) => f.startsWith('packs/'));
function flip(file: string, offset: number): void {
  const b = readFileSync(file);
  b[offset] = (b[offset] ?? 0) ^ 0x01;
  writeFileSync(file, b);
}

interface Outcome {
  verifyCode: number;
  verifyText: string;
  restore: 'integrity' | 'identical' | 'WRONG';
  restoreText: string;
}

async function probe(repo: string): Promise<Outcome> {
  const verify = await cli('verify', repo, '--data-dir', fx.dataDir, '--json');
  const name = `restored-${++n}.db`;
  const restore = await cli('restore', repo, '--point', fx.points[1]!, '--server', fx.serverFile, '--database', name, '--data-dir', fx.dataDir, '--json');
  const target = join(fx.folder, name);
  let outcome: Outcome['restore'];
  if (restore.code !== 0) {
    outcome = (restore.json as { error?: { code: string } } | null)?.error?.code === 'INTEGRITY' && !existsSync(target) ? 'integrity' : 'WRONG';
  } else {
    outcome = sha(target) === fx.baselineSha ? 'identical' : 'WRONG';
    rmSync(target);
  }
  // A failed restore leaves no temp file behind either.
  expect(readdirSync(fx.folder).filter((f) => f.startsWith('.'))).toEqual([]);
  return { verifyCode: verify.code, verifyText: verify.out, restore: outcome, restoreText: restore.out };
}

describe('tampered backup folders', () => {
  it('a flipped byte in a pack’s chunk data: verify names the pack and the point, restore fails with INTEGRITY', async () => {
    const repo = copy();
    for (const p of packsOf(repo)) flip(join(repo, p), 40); // inside the first stored chunk of every pack
    const o = await probe(repo);
    expect(o.verifyCode).toBe(1);
    const report = JSON.parse(o.verifyText) as { ok: boolean; problems: { pointId: string | null; packId: string | null; code: string }[] };
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.code === 'INTEGRITY' && p.packId && packsOf(repo).some((f) => f.includes(p.packId!)) && p.pointId)).toBe(true);
    expect(o.restore).toBe('integrity');
  });

  it('20 byte flips at random offsets in random packs: verify always detects, restore is never silently wrong', async () => {
    const rand = rng(Number(process.env.BACKSTOP_SOAK_SEED ?? 1234));
    const tally = { detected: 0, integrity: 0, identical: 0, wrong: 0 };
    for (let i = 0; i < 20; i++) {
      const repo = copy();
      const packs = packsOf(repo);
      const file = join(repo, packs[Math.floor(rand() * packs.length)]!);
      const size = readFileSync(file).length;
      flip(file, Math.floor(rand() * size));
      const o = await probe(repo);
      if (o.verifyCode === 1 && (JSON.parse(o.verifyText) as { ok: boolean }).ok === false) tally.detected++;
      if (o.restore === 'integrity') tally.integrity++;
      else if (o.restore === 'identical') tally.identical++;
      else tally.wrong++;
      rmSync(repo, { recursive: true });
    }
    console.log('random pack byte flips:', tally);
    expect(tally.detected).toBe(20);
    expect(tally.wrong).toBe(0);
    expect(tally.integrity).toBeGreaterThan(0);
  }, 120_000);

  it('a flipped byte in a manifest: points, verify and restore all name the point', async () => {
    const repo = copy();
    const manifest = join(repo, 'points', `${fx.points[1]}.point`);
    flip(manifest, 40);
    const o = await probe(repo);
    expect(o.verifyCode).toBe(1);
    expect(o.verifyText).toContain(fx.points[1]);
    expect(o.restore).toBe('integrity');
    expect(o.restoreText).toContain(fx.points[1]);
    const points = await cli('points', repo, '--data-dir', fx.dataDir, '--json');
    expect(points.json).toMatchObject({ error: { code: 'INTEGRITY', message: expect.stringContaining(fx.points[1]!) } });
  });

  it('a flipped byte or truncation of the header: INTEGRITY on open, for verify and restore', async () => {
    for (const damage of [(f: string) => flip(f, 20), (f: string) => truncateSync(f, 30)]) {
      const repo = copy();
      damage(join(repo, 'backstop.repo'));
      const o = await probe(repo);
      expect(o.verifyCode).toBe(1);
      expect(JSON.parse(o.verifyText)).toMatchObject({ error: { code: 'INTEGRITY' } });
      expect(o.restore).toBe('integrity');
    }
  });

  it('truncated packs, a truncated manifest and deleted packs are reported, restore fails with INTEGRITY', async () => {
    // Every pack is damaged, so whichever packs the restored point needs are affected.
    const cases: [string, (repo: string) => string[]][] = [
      ['truncated packs', (repo) => packsOf(repo).map((p) => (truncateSync(join(repo, p), 100), basename(p, '.pack')))],
      ['deleted packs', (repo) => packsOf(repo).map((p) => (rmSync(join(repo, p)), basename(p, '.pack')))],
      ['truncated manifest', (repo) => (truncateSync(join(repo, 'points', `${fx.points[1]}.point`), 20), [fx.points[1]!])],
    ];
    for (const [label, damage] of cases) {
      const repo = copy();
      const named = damage(repo);
      const o = await probe(repo);
      expect(o.verifyCode, label).toBe(1);
      expect(named.some((id) => o.verifyText.includes(id)), `${label}: ${o.verifyText}`).toBe(true);
      expect(o.restore, label).toBe('integrity');
    }
  });
});

describe('tampered PostgreSQL backup', () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(() => pg?.stop());

  it('restore of a damaged pack fails with INTEGRITY and leaves no new database', async () => {
    pg.psql('CREATE DATABASE shop');
    pg.psql("CREATE TABLE item AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g", 'shop');
    const backups = scratch.dir();
    const dataDir = scratch.dir();
    const server = { kind: 'postgres', host: pg.host, port: pg.port, user: pg.user, passwordEnv: PG_PASSWORD_ENV, tls: 'disable' };
    process.env[PG_PASSWORD_ENV] = pg.password;
    const task = join(scratch.dir(), 'task.json');
    writeFileSync(task, JSON.stringify({ name: 'pg', server, type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: backups }], excludeDatabases: ['postgres'], tools: { binDir: pg.binDir } }));
    const serverFile = join(scratch.dir(), 'server.json');
    writeFileSync(serverFile, JSON.stringify(server));
    const b = await cli('backup', '--config', task, '--data-dir', dataDir, '--json');
    expect(b.code, b.out).toBe(0);
    const repo = join(backups, encodeDatabaseFolder('shop'));
    for (const p of packsOf(repo)) flip(join(repo, p), 40);
    const r = await cli('restore', repo, '--point', 'latest', '--server', serverFile, '--database', 'shop_copy', '--data-dir', dataDir, '--json');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ error: { code: 'INTEGRITY' } });
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname = 'shop_copy'").trim()).toBe('0');
  });
});
