/**
 * Hostile input through the engine's contract: database names built to break paths
 * (traversal, separators, reserved device names, case collisions, very long names) on a
 * SQLite folder and a PostgreSQL server back up into distinct, safe folders and restore;
 * malformed cron is refused; a fuzz loop sends random and hostile JSON to EVERY contract
 * command — every answer is a Result (never a throw, never INTERNAL) and the engine still
 * works afterwards; a foreign folder is NOT_A_BACKUP and a wrong key KEY_MISMATCH. At the
 * end no secret used here is in the app database, the logs, history or any event.
 *
 * Runs with the engine's default secret store: npm test wraps integration tests in a
 * private GNOME keyring session.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../electron/engine/index.ts';
import { initRepository } from '../../../electron/engine/repository/index.ts';
import { encodeDatabaseFolder } from '../../../electron/engine/servers/index.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { COMMANDS, commandInputs, type CommandName } from '../../../electron/shared/ipc/index.ts';
import { ERROR_CODES } from '../../../electron/shared/result.ts';
import { restoreAndWait } from '../../fixtures/restores.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { rng, Scratch } from '../../fixtures/reliability/common.ts';
import { findSecrets } from '../../fixtures/reliability/secrets-scan.ts';
import { startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

const scratch = new Scratch();
let pg: PgServer;
let engine: Engine;
const events: string[] = [];
const S3_SECRET = `s3-secret-${randomBytes(12).toString('hex')}`;
const KEY = randomBytes(32);
const SEED = Number(process.env.BACKSTOP_SOAK_SEED ?? 777);

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  await pg?.stop();
  scratch.cleanup();
});

async function theEngine(): Promise<Engine> {
  if (!engine) {
    const { createEngine } = await import('../../../electron/engine/index.ts');
    engine = await createEngine({ dataDir: scratch.dir('backstop-rel-engine-'), logLevel: 'debug', encoderWorkers: 0 });
    engine.events.onAny((name, payload) => events.push(`${name} ${JSON.stringify(payload)}`));
  }
  return engine;
}
afterAll(() => engine?.close());

/**
 * Folder names must be one safe path segment (readable: case and letters kept, but nothing a
 * file system or a path would misread), distinct even on a case-insensitive, normalising file
 * system.
 */
function expectSafeDistinctFolders(folders: string[], count: number): void {
  expect(folders).toHaveLength(count);
  for (const f of folders) {
    // eslint-disable-next-line no-control-regex
    expect(f).not.toMatch(/[/\\:*?"<>|\x00-\x1f\x7f]/);
    expect(f).not.toMatch(/^[.\- ]|[. ]$/);
    expect(f).not.toBe('..');
    expect(Buffer.byteLength(f, 'utf8')).toBeLessThanOrEqual(255);
    expect(/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(f)).toBe(false);
  }
  expect(new Set(folders.map((f) => f.normalize('NFD').toLowerCase())).size).toBe(count);
}

describe('hostile database names', () => {
  it('SQLite file names back up into distinct safe folders and restore', async () => {
    const e = await theEngine();
    const folder = scratch.dir();
    const backups = scratch.dir();
    const names = [
      'CON.db',
      'nul',
      'Ledger.db',
      'ledger.db',
      '..\\..\\windows.db',
      '..%2F..%2Fescape.db',
      'trailing dot.',
      '~server',
      'semi;colon $(touch pwned) `x`.db',
      'Ünïcödé ✓ 数据库.db',
      'x'.repeat(240) + '.db',
    ];
    names.forEach((n, i) => {
      const db = new Database(join(folder, n));
      db.exec('CREATE TABLE ledger (id INTEGER PRIMARY KEY)');
      db.exec(`INSERT INTO ledger SELECT value FROM generate_series(1, ${i + 1})`);
      db.close();
    });
    const server = data(await e.call('servers.create', { kind: 'sqlite', name: 'hostile files', folder }));
    const task = data(
      await e.call('tasks.create', {
        name: 'hostile files',
        serverId: server.id,
        type: 'snapshot',
        schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
        destinations: [{ kind: 'local', path: backups }],
      }),
    );
    const run = await runTask(e, task.id, 'full');
    expect(run.databases.map((d) => d.database).sort()).toEqual([...names].sort());
    expect(run.databases.filter((d) => d.status !== 'success').map((d) => `${d.database}: ${d.errorCode} ${d.errorMessage}`)).toEqual([]);
    expectSafeDistinctFolders(readdirSync(backups), names.length);
    expect(readdirSync(folder).sort()).toEqual([...names].sort()); // nothing written beside the sources
    const target = scratch.dir();
    const restoreServer = data(await e.call('servers.create', { kind: 'sqlite', name: 'restore target', folder: target }));
    for (const [i, n] of names.entries()) {
      const f = readdirSync(backups).find((x) => x === encodeDatabaseFolder(n));
      expect(f, n).toBeDefined();
      const inspect = data(await e.call('restore.inspect', { location: { kind: 'local', path: join(backups, f!) } }));
      expect(inspect).toMatchObject({ database: n });
      const r = await restoreAndWait(e, { location: { kind: 'local', path: join(backups, f!) }, pointId: 'latest', serverId: restoreServer.id, database: `r${i}.db` });
      expect(r, n).toMatchObject({ status: 'success' });
      const db = new Database(join(target, `r${i}.db`), { readonly: true });
      expect((db.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n, n).toBe(i + 1);
      db.close();
    }
  });

  it('PostgreSQL database names back up into distinct safe folders and restore', async () => {
    const e = await theEngine();
    const names = ['../etc', 'a/b\\c', 'CON', 'Shop', 'shop', 'x"; DROP DATABASE y; --', 'nul.txt', 'n'.repeat(63), 'ünï ✓ 数据'];
    names.forEach((n, i) => {
      const q = `"${n.replace(/"/g, '""')}"`;
      pg.psql(`CREATE DATABASE ${q}`);
      pg.psql(`CREATE TABLE ledger AS SELECT g AS id FROM generate_series(1, ${i + 1}) g`, n);
    });
    const backups = scratch.dir();
    const server = data(await e.call('servers.create', { kind: 'postgres', name: 'hostile pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }));
    const task = data(
      await e.call('tasks.create', {
        name: 'hostile pg',
        serverId: server.id,
        type: 'logical',
        schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' },
        destinations: [{ kind: 'local', path: backups }],
        excludeDatabases: ['postgres'],
      }),
    );
    const run = await runTask(e, task.id, 'full');
    const dbRuns = run.databases.filter((d) => names.includes(d.database));
    expect(dbRuns.map((d) => d.database).sort()).toEqual([...names].sort());
    expect(run.databases.filter((d) => d.status !== 'success').map((d) => `${d.database}: ${d.errorCode} ${d.errorMessage}`)).toEqual([]);
    const folders = readdirSync(backups).filter((f) => f !== '~server');
    expectSafeDistinctFolders(folders, names.length);
    for (const [i, n] of names.entries()) {
      const r = await restoreAndWait(e, { location: { kind: 'local', path: join(backups, encodeDatabaseFolder(n)) }, pointId: 'latest', serverId: server.id, database: `restored_${i}` });
      expect(r, n).toMatchObject({ status: 'success' });
      expect(pg.psql('SELECT count(*) FROM ledger', `restored_${i}`).trim(), n).toBe(String(i + 1));
    }
  });
});


describe('malformed cron', () => {
  it('is refused with VALIDATION or MALFORMED_REQUEST, never INTERNAL, and never hangs', async () => {
    const e = await theEngine();
    const server = data(await e.call('servers.create', { kind: 'sqlite', name: 'cron target', folder: scratch.dir() }));
    const bad = ['* * *', '61 * * * *', '* 25 * * *', '*/0 * * * *', '0 0 31 2 *', '0 0 * 13 *', '5-1 * * * *', 'a b c d e', '0 0 * * 8', `${'1,'.repeat(90)}1 * * * *`, '@reboot', '0 0 0 0 0', '\u0000 * * * *'];
    for (const cron of bad) {
      for (const call of [
        () => e.call('schedule.preview', { schedule: { full: cron, incremental: null, timezone: 'UTC' } }),
        () => e.call('tasks.create', { name: `c ${cron.slice(0, 20)}`, serverId: server.id, type: 'snapshot', schedule: { full: cron, incremental: null, timezone: 'UTC' }, destinations: [{ kind: 'local', path: '/tmp/x' }] }),
      ]) {
        const res = await Promise.race([call(), new Promise<'hang'>((r) => setTimeout(() => r('hang'), 5_000))]);
        expect(res, cron).not.toBe('hang');
        if (res === 'hang') continue;
        if (cron === '0 0 31 2 *' && res.ok) {
          // Feb 31 never comes: accepted only if the preview honestly shows no run.
          expect(Array.isArray(res.data) ? res.data : []).toEqual([]);
          continue;
        }
        expect(res, cron).toMatchObject({ ok: false, code: expect.stringMatching(/^(VALIDATION|MALFORMED_REQUEST)$/) });
      }
    }
    expect(data(await e.call('tasks.list', undefined)).filter((t) => t.name.startsWith('c '))).toEqual([]);
  });
});

// ───────────── IPC fuzz ─────────────

/** Commands whose valid payload would start long work, touch files outside the test or generate keys: their random payloads are only sent when they fail validation. */
const NO_VALID_CALLS = new Set<CommandName>(['demo.setup', 'tasks.runNow', 'restore.start', 'restore.verify', 'restore.applyGlobals', 'keys.generate', 'keys.import', 'keys.saveToFile', 'servers.test', 'destinations.test', 'tools.detect', 'servers.databases', 'settings.set', 'destinations.saveCredentials', 'destinations.createFolder']);

function hostileValues(rand: () => number): unknown[] {
  const deep: Record<string, unknown> = {};
  let cur = deep;
  for (let i = 0; i < 5_000; i++) cur = (cur.a = {}) as Record<string, unknown>;
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const strings = ['', ' ', '../../../../etc/passwd', '/etc/shadow', 'C:\\Windows\\System32', 'CON', 'NUL', '\u0000', '\uD800', '%00', '${jndi:ldap://x}', '<script>alert(1)</script>', "'; DROP TABLE servers; --", 'a'.repeat(10_000), '🙂'.repeat(500), 'latest', '20260102T030405678Z-9f3a0c1b', '00000000-0000-0000-0000-000000000000', 'key.a1b2-c3d4-e5f6-0718', '* * * * *'];
  const prim: unknown[] = [undefined, null, true, false, 0, -1, -0, 1.5, 2 ** 53, -(2 ** 63), Number.NaN, Number.POSITIVE_INFINITY, 1e308, ...strings];
  const values: unknown[] = [...prim, [], {}, [null], { __proto__: { polluted: true } }, JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'), deep];
  values.push(Array.from({ length: 100_000 }, (_, i) => i), 'x'.repeat(5 * 1024 * 1024), Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])));
  const randomJson = (depth: number): unknown => {
    const r = rand();
    if (depth > 3 || r < 0.4) return pick(prim);
    if (r < 0.7) return Array.from({ length: Math.floor(rand() * 4) }, () => randomJson(depth + 1));
    const keys = ['id', 'name', 'kind', 'path', 'folder', 'location', 'key', 'keyRef', 'schedule', 'destination', 'server', 'task', 'pointId', 'limit', 'taskId', 'restoreId', 'database', 'options', 'title', 'accessKeyId', pick(strings).slice(0, 20)];
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [pick(keys), randomJson(depth + 1)]));
  };
  for (let i = 0; i < 40; i++) values.push(randomJson(0));
  return values;
}

/** Valid-looking payloads with one field replaced by a hostile value. */
function mutations(rand: () => number, hostile: unknown[]): [CommandName, unknown][] {
  const templates: [CommandName, Record<string, unknown>][] = [
    ['servers.create', { kind: 'sqlite', name: 'fuzz', folder: '/tmp/fuzz-never' }],
    ['servers.update', { id: '00000000-0000-0000-0000-000000000000', server: { kind: 'sqlite', name: 'x', folder: '/tmp/x' } }],
    ['servers.delete', { id: '00000000-0000-0000-0000-000000000000' }],
    ['tasks.delete', { id: '00000000-0000-0000-0000-000000000000' }],
    ['tasks.cancel', { id: '00000000-0000-0000-0000-000000000000' }],
    ['history.list', { limit: 5 }],
    ['schedule.preview', { schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' }, count: 3 }],
    ['retention.preview', { taskId: '00000000-0000-0000-0000-000000000000' }],
    ['restore.inspect', { location: { kind: 'local', path: '/nonexistent/backstop-fuzz' } }],
    ['restore.folders', { destination: { kind: 'local', path: '/nonexistent/backstop-fuzz' } }],
    ['restore.cancel', { restoreId: '00000000-0000-0000-0000-000000000000' }],
    ['keys.reveal', { keyRef: 'key.0000-0000-0000-0000' }],
    ['keys.markExported', { keyRef: 'key.0000-0000-0000-0000', method: 'file' }],
    ['keys.recoverySheet', { keyRef: 'key.0000-0000-0000-0000', taskName: 'x' }],
    ['dialog.chooseFolder', { title: 'x' }],
  ];
  const out: [CommandName, unknown][] = [];
  for (const [name, t] of templates) {
    for (const field of Object.keys(t)) {
      for (let i = 0; i < 6; i++) out.push([name, { ...t, [field]: hostile[Math.floor(rand() * hostile.length)] }]);
    }
  }
  return out;
}

describe('IPC fuzz over every contract command', () => {
  it('answers every random/hostile payload with a Result — never a throw, never INTERNAL — and keeps working', async () => {
    const e = await theEngine();
    const rand = rng(SEED);
    const hostile = hostileValues(rand);
    const cases: [CommandName | string, unknown][] = [];
    for (const name of COMMANDS) for (const v of hostile) cases.push([name, v]);
    cases.push(...mutations(rand, hostile));
    for (const bogus of ['', 'servers.list ', '__proto__', 'constructor', 'toString', '../app.info', 'x'.repeat(100_000)]) cases.push([bogus, undefined]);
    const tally: Record<string, number> = {};
    let skipped = 0;
    const longMessages: string[] = [];
    for (const [name, payload] of cases) {
      const schema = (commandInputs as Record<string, { safeParse(v: unknown): { success: boolean } }>)[name];
      if (schema && NO_VALID_CALLS.has(name as CommandName) && schema.safeParse(payload).success) {
        skipped++;
        continue;
      }
      let res: unknown;
      try {
        res = await e.call(name as CommandName, payload);
      } catch (err) {
        throw new Error(`${name} threw for ${show(payload)}: ${String(err)}`);
      }
      const r = res as { ok: boolean; code?: string; message?: string };
      expect(typeof r.ok, name).toBe('boolean');
      if (!r.ok) {
        expect(ERROR_CODES, `${name}`).toContain(r.code);
        expect(r.code, `${name} ${show(payload)}: ${r.message}`).not.toBe('INTERNAL');
        if ((r.message ?? '').length >= 5_000) longMessages.push(`${(r.message ?? '').includes('Unrecognized keys') ? '[unknown-keys echo] ' : ''}${name} ${show(payload).slice(0, 60)} → ${r.code}: ${(r.message ?? '').slice(0, 160)}… (${r.message?.length} chars)`);
      }
      const key = r.ok ? 'ok' : r.code!;
      tally[key] = (tally[key] ?? 0) + 1;
    }
    console.log(`IPC fuzz: ${cases.length} calls over ${COMMANDS.length} commands (${skipped} valid long-work payloads not sent):`, tally, `answers over 5000 chars: ${longMessages.length}`, longMessages.slice(0, 2));
    // Every answer stays short, whatever the payload (dispatch clips each issue).
    expect(longMessages).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    // Still works.
    expect(data(await e.call('app.info', undefined)).version).toEqual(expect.any(String));
    const s = data(await e.call('servers.create', { kind: 'sqlite', name: 'after fuzz', folder: scratch.dir() }));
    expect(data(await e.call('servers.list', undefined)).some((x) => x.id === s.id)).toBe(true);
    expect(data(await e.call('schedule.preview', { schedule: { full: '0 2 * * *', incremental: null, timezone: 'UTC' }, count: 2 }))).toHaveLength(2);
  }, 120_000);
});

describe('MALFORMED_REQUEST messages', () => {
  // zod's `unrecognized_keys` issue lists every unknown key; dispatch clips each issue so a
  // payload with 10,000 unknown keys cannot turn into an ~89 KB error message.
  it('stay short for a payload with 10,000 unknown keys', async () => {
    const e = await theEngine();
    const res = await e.call('app.info', Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])));
    expect(res).toMatchObject({ ok: false, code: 'MALFORMED_REQUEST' });
    expect(res.ok ? 0 : res.message.length).toBeLessThan(2_000);
    expect(res.ok ? '' : res.message).toBe('Invalid request for app.info: unknown keys "k0", "k1", "k2", "k3", "k4" and 9995 more');
  });
});

describe('foreign folders and wrong keys', () => {
  it('a foreign folder is NOT_A_BACKUP; a wrong key is KEY_MISMATCH — for inspect, verify and restore', async () => {
    const e = await theEngine();
    const foreign = scratch.dir();
    writeFileSync(join(foreign, 'backstop.repo.bak'), randomBytes(100));
    mkdirSync(join(foreign, 'packs'));
    writeFileSync(join(foreign, 'packs', 'x.pack'), randomBytes(100));
    const target = data(await e.call('servers.create', { kind: 'sqlite', name: 'foreign target', folder: scratch.dir() }));
    const loc = { kind: 'local', path: foreign } as const;
    expect(await e.call('restore.inspect', { location: loc })).toMatchObject({ ok: false, code: 'NOT_A_BACKUP' });
    expect(await e.call('restore.verify', { location: loc })).toMatchObject({ ok: false, code: 'NOT_A_BACKUP' });
    const r = await e.call('restore.start', { location: loc, pointId: 'latest', serverId: target.id, database: 'x.db' });
    if (r.ok) expect(await restoreAndWaitId(e, r.data.restoreId)).toMatchObject({ status: 'failed', error: { code: 'NOT_A_BACKUP' } });
    else expect(r).toMatchObject({ code: 'NOT_A_BACKUP' });

    // An encrypted repository, opened with another key.
    const repoDir = scratch.dir();
    const repo = await initRepository(new LocalBackend(repoDir), { key: KEY, workers: 0 });
    await repo.writePoint(
      (async function* () {
        yield Buffer.from('SQLite format 3\0');
      })(),
      { kind: 'full', backupType: 'snapshot', database: 'enc.db', serverIdentity: 'x', engineVersion: '1', dumpToolVersion: '1', meta: { format: 'sqlite-file' } },
    );
    const wrong = randomBytes(32).toString('base64');
    const enc = { kind: 'local', path: repoDir } as const;
    expect(await e.call('restore.inspect', { location: enc, key: wrong })).toMatchObject({ ok: false, code: 'KEY_MISMATCH' });
    expect(await e.call('restore.verify', { location: enc, key: wrong })).toMatchObject({ ok: false, code: 'KEY_MISMATCH' });
    expect(await e.call('restore.inspect', { location: enc, key: 'not base64 at all!!' })).toMatchObject({ ok: false, code: expect.stringMatching(/^(KEY_MISMATCH|VALIDATION|MALFORMED_REQUEST)$/) });
    const rs = await e.call('restore.start', { location: enc, pointId: 'latest', serverId: target.id, database: 'y.db', key: wrong });
    if (rs.ok) expect(await restoreAndWaitId(e, rs.data.restoreId)).toMatchObject({ status: 'failed', error: { code: 'KEY_MISMATCH' } });
    else expect(rs).toMatchObject({ code: 'KEY_MISMATCH' });
    // The right key works (so the mismatch above is about the key, not the folder).
    expect(data(await e.call('restore.verify', { location: enc, key: KEY.toString('base64') }))).toMatchObject({ ok: true, pointsChecked: 1 });
  });
});

function show(v: unknown): string {
  try {
    return String(JSON.stringify(v)).slice(0, 200);
  } catch {
    return `<${typeof v} not serialisable>`;
  }
}

/** Waits for the restore's `restore.finished` event (kept in `events`); only the test's timeout bounds a hang. */
async function restoreAndWaitId(e: Engine, restoreId: string): Promise<unknown> {
  for (;;) {
    const hit = events.find((x) => x.startsWith('restore.finished ') && x.includes(restoreId));
    if (hit) return JSON.parse(hit.slice('restore.finished '.length));
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('secrets', () => {
  it('no password, S3 secret or key used above is in the app database, logs, history or events', async () => {
    const e = await theEngine();
    // Use an S3 secret for real: stored in the keychain, then used to sign a request that fails.
    const saved = await e.call('destinations.saveCredentials', { secret: { kind: 's3', accessKeyId: 'AKIARELIABILITYTEST', secretAccessKey: S3_SECRET } });
    expect(saved.ok).toBe(true);
    const ref = saved.ok ? (saved.data as { credentialsRef: string }).credentialsRef : '';
    const probe = await e.call('destinations.test', { destination: { kind: 's3', bucket: 'nobucket', prefix: '', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, storageClass: null, checksumMode: 'WHEN_REQUIRED', credentialsRef: ref } });
    expect(JSON.stringify(probe)).not.toContain(S3_SECRET);
    const history = JSON.stringify(data(await e.call('history.list', { limit: 1000 })));
    const dataDir = e.dataDir;
    await e.close();
    const hits = findSecrets({ 'PostgreSQL password': pg.password, 'S3 secret': S3_SECRET, 'encryption key': KEY }, [dataDir], { events: events.join('\n'), history });
    expect(hits).toEqual([]);
    expect(readdirSync(join(dataDir, 'logs')).length).toBeGreaterThan(0);
  });
});
