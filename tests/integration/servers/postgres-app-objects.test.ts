/**
 * What real applications put in a PostgreSQL database, restored into a new database on the
 * same server — logically (pg_restore of a pg_dump archive), by a test restore (scratch
 * database) and out of a cluster snapshot (one database recovered in a temporary cluster):
 * - a logical replication SUBSCRIPTION (to a publication in another database of the same
 *   server, its slot made beforehand): the copy never names the source's slot — it is left
 *   out, with a note saying how to make one of its own — so the copy can be dropped (DROP
 *   DATABASE refuses a database with a subscription), and the temporary cluster of a snapshot
 *   restore runs no logical replication worker (it would connect to the publisher and take
 *   the source's slot);
 * - enums extended with ADD VALUE BEFORE/AFTER (sort order ≠ oid order), domains with
 *   CHECKs over an extension type, extensions in a schema of their own (citext, hstore,
 *   pg_trgm with a GIN index), the `lo` extension's trigger and large objects with owners
 *   and grants, FORCE row-level security with policies per role, identity columns (their
 *   sequences' last_value), a trigger enabled for replicas only, an SQL function naming a
 *   table created after it (check_function_bodies), and default_transaction_read_only = on
 *   on the database itself — each compared between source and copy through the catalogs.
 * Also: a role that is not a superuser restores an archive with a subscription and
 * publications FOR ALL TABLES / TABLES IN SCHEMA (only a superuser may create them: left out,
 * a note giving the statements, which recreate them), and a scratch database that an older
 * Backstop restored with the source's subscription is dropped without touching the slot.
 * The source's subscription and slot are checked untouched after every restore.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RestoreOptions, type Server } from '../../../electron/shared/domain.ts';
import { connectorFor, encodeDatabaseFolder, SERVER_FOLDER, type Connector } from '../../../electron/engine/servers/index.ts';
import { planRecovery, restoreDatabaseAt } from '../../../electron/engine/restore/pitr.ts';
import { holdsSubscriptions } from '../../../electron/engine/servers/postgres/restored-cluster.ts';
import { LocalBackend } from '../../../electron/engine/storage/index.ts';
import { testEngine } from '../../fixtures/engine.ts';
import { createEngine, type Engine } from '../../../electron/engine/index.ts';
import { openRepository, type Repository } from '../../../electron/engine/repository/index.ts';
import { data, runTask } from '../../fixtures/runs.ts';
import { serverWithTask } from '../../fixtures/server-task.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';
import { PG_BIN, pgContentFingerprint, pgSchemaDump, startPostgres, type PgServer } from '../../fixtures/servers/postgres.ts';

let pg: PgServer;
let appDump: string;
let dumpDir: string | undefined;

const SECRET = 'sub-Secret-77';

const target = (user = pg.user): Server => ({ id: 'pg', name: 'pg', kind: 'postgres', host: pg.host, port: pg.port, user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' });

function connectorOf(): Connector {
  return connectorFor(target(), { password: pg.password, toolPaths: { postgres: PG_BIN } });
}

async function dumpToFile(db: string, dir: string): Promise<string> {
  const file = join(dir, `${db}.dump`);
  const dump = await connectorOf().openDump(db, 'logical');
  await pipeline(dump.stream, createWriteStream(file));
  await dump.done;
  return file;
}

const W = 'SET default_transaction_read_only = off;';

const APP = `
CREATE SCHEMA ext; CREATE EXTENSION citext SCHEMA ext; CREATE EXTENSION hstore SCHEMA ext; CREATE EXTENSION pg_trgm SCHEMA ext; CREATE EXTENSION lo;
CREATE TYPE status AS ENUM ('new', 'done');
SET check_function_bodies = off;
CREATE FUNCTION open_count() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM public.later WHERE NOT closed';
RESET check_function_bodies;
CREATE TABLE later (id int PRIMARY KEY, closed boolean NOT NULL DEFAULT false);
INSERT INTO later VALUES (1, false), (2, true), (3, false);
CREATE TABLE t (id int PRIMARY KEY, v text);
`;

// ADD VALUE is committed before the new values are used (one psql call each).
const ENUM_VALUES = [`ALTER TYPE status ADD VALUE 'active' BEFORE 'done'`, `ALTER TYPE status ADD VALUE 'archived' AFTER 'done'`, `ALTER TYPE status ADD VALUE 'draft' BEFORE 'new'`];

const APP_TABLES = `
CREATE DOMAIN email AS ext.citext CONSTRAINT has_at CHECK (VALUE ~ '@') CONSTRAINT not_local CHECK (VALUE !~~* '%@localhost');
CREATE DOMAIN qty AS int NOT NULL DEFAULT 1 CHECK (VALUE >= 0) CHECK (VALUE < 1000);
CREATE TABLE tickets (id int GENERATED BY DEFAULT AS IDENTITY (START 100 INCREMENT 5) PRIMARY KEY, tenant text NOT NULL, st status NOT NULL DEFAULT 'draft',
  who email, n qty, tags ext.hstore, title text, doc lo);
CREATE INDEX tickets_title_trgm ON tickets USING gin (title ext.gin_trgm_ops);
CREATE TRIGGER tickets_doc BEFORE UPDATE OR DELETE ON tickets FOR EACH ROW EXECUTE FUNCTION lo_manage(doc);
CREATE TABLE audit (at int, what text);
CREATE FUNCTION audit_it() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.audit VALUES (NEW.id, TG_OP); RETURN NEW; END $$;
CREATE TRIGGER tickets_audit AFTER INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION audit_it();
CREATE TRIGGER tickets_replica AFTER INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION audit_it();
ALTER TABLE tickets ENABLE REPLICA TRIGGER tickets_replica;
INSERT INTO tickets (tenant, st, who, n, tags, title, doc) VALUES
  ('a', 'draft', 'Ann@Example.org', 3, 'k=>1', 'printer on fire', lo_from_bytea(0, 'doc one')),
  ('a', 'active', 'bob@example.org', 0, NULL, 'printer jammed', NULL),
  ('b', 'archived', 'Cy@example.org', 999, 'x=>NULL', 'network down', lo_from_bytea(0, 'doc two'));
INSERT INTO tickets (id, tenant, title) OVERRIDING SYSTEM VALUE VALUES (500, 'b', 'imported');
SELECT setval(pg_get_serial_sequence('tickets', 'id'), 300);
SELECT lo_from_bytea(777001, 'shared blob'); ALTER LARGE OBJECT 777001 OWNER TO lo_owner; GRANT SELECT ON LARGE OBJECT 777001 TO tenant_a;
ALTER TABLE tickets ENABLE ROW LEVEL SECURITY; ALTER TABLE tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_a_read ON tickets FOR SELECT TO tenant_a USING (tenant = 'a');
CREATE POLICY tenant_b_all ON tickets TO tenant_b USING (tenant = 'b') WITH CHECK (tenant = 'b');
CREATE POLICY not_archived ON tickets AS RESTRICTIVE FOR SELECT TO tenant_a, tenant_b USING (st <> 'archived');
GRANT USAGE ON SCHEMA ext TO tenant_a, tenant_b; GRANT SELECT ON tickets TO tenant_a, tenant_b; GRANT INSERT ON tickets TO tenant_b;
ALTER TABLE tickets OWNER TO app_owner;
CREATE PUBLICATION app_pub FOR TABLE tickets;
`;

/** What an application relies on, asked of the catalogs of `db` (one session). */
function appFacts(db: string): Record<string, string> {
  const facts: Record<string, string> = {
    enum: `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'status'::regtype`,
    'enum order in data': `SELECT string_agg(st::text, ',' ORDER BY st, id) FROM tickets`,
    domains: `SELECT string_agg(t.typname || ' ' || format_type(t.typbasetype, t.typtypmod) || ' notnull=' || t.typnotnull || ' default=' || coalesce(t.typdefault, '-') || ' ' || coalesce((SELECT string_agg(c.conname || ': ' || pg_get_constraintdef(c.oid), '; ' ORDER BY c.conname) FROM pg_constraint c WHERE c.contypid = t.oid), ''), ' | ' ORDER BY t.typname) FROM pg_type t WHERE t.typtype = 'd' AND t.typnamespace = 'public'::regnamespace`,
    extensions: `SELECT string_agg(extname || '@' || extnamespace::regnamespace || ' ' || extversion, ',' ORDER BY extname) FROM pg_extension`,
    'trigram index': `SELECT pg_get_indexdef('tickets_title_trgm'::regclass)`,
    'trigram search': `SELECT string_agg(title, ',' ORDER BY title) FROM tickets WHERE ext.word_similarity('printr', title) > 0.5`,
    triggers: `SELECT string_agg(tgname || ' ' || tgenabled::text || ' ' || pg_get_triggerdef(oid), ' | ' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'tickets'::regclass AND NOT tgisinternal`,
    rls: `SELECT relrowsecurity || '/' || relforcerowsecurity || ' owner=' || pg_get_userbyid(relowner) || ' acl=' || array_to_string(relacl, ',') FROM pg_class WHERE oid = 'tickets'::regclass`,
    policies: `SELECT string_agg(policyname || ' ' || permissive || ' ' || array_to_string(roles, ',') || ' ' || cmd || ' ' || coalesce(qual, '-') || ' ' || coalesce(with_check, '-'), ' | ' ORDER BY policyname) FROM pg_policies`,
    identity: `SELECT attname || ' ' || attidentity::text || ' ' || (SELECT seqstart || '+' || seqincrement FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence('tickets', 'id')::regclass) FROM pg_attribute WHERE attrelid = 'tickets'::regclass AND attidentity <> ''`,
    'sequence last_value': `SELECT last_value || ' ' || is_called FROM tickets_id_seq`,
    'large objects': `SELECT string_agg(m.oid || ' ' || pg_get_userbyid(m.lomowner) || ' ' || coalesce(array_to_string(m.lomacl, ','), '-') || ' ' || md5(lo_get(m.oid)), ' | ' ORDER BY md5(lo_get(m.oid))) FROM pg_largeobject_metadata m`,
    'documents in rows': `SELECT string_agg(title || '=' || convert_from(lo_get(doc), 'UTF8'), ',' ORDER BY title) FROM tickets WHERE doc IS NOT NULL`,
    'function on a later table': `SELECT open_count()`,
    audit: `SELECT count(*) FROM audit`,
    'read-only by default': `SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND setrole = 0`,
    publications: `SELECT string_agg(pubname, ',') FROM pg_publication`,
    subscriptions: `SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  };
  const answers = pg.psql(Object.values(facts).map((sql) => `${sql};`).join('\n'), db).split('\n');
  return Object.fromEntries(Object.keys(facts).map((k, i) => [k, answers[i]!]));
}

/** As the source has it, with the one thing a copy must not have. */
const expectedCopy = () => ({ ...appFacts('appdb'), subscriptions: '0' });

/** The schema dump of `db` with its name normalised, without the subscription (a copy never has it). */
const schemaOf = (db: string) =>
  pgSchemaDump(pg, db)
    .split(db)
    .join('appdb')
    .replace(/\n--\n-- Name: sub; Type: SUBSCRIPTION;[\s\S]*?ALTER SUBSCRIPTION sub OWNER TO postgres;\n/, '');

/** The source's subscription and its slot on the publisher, as they must stay. */
const sourceReplication = () =>
  pg
    .psql(
      `SELECT s.subname || ' enabled=' || s.subenabled || ' slot=' || s.subslotname || ' db=' || d.datname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid ORDER BY 1;
       SELECT slot_name || ' ' || plugin || ' ' || database FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY 1`,
    )
    .trim();

const SUB_NOTE = (copy: string) =>
  `Subscription "sub" (publication "pub", replication slot "app_slot" on its publisher) was not restored: a copy must never use the source's replication slot. To replicate into "${copy}", create a subscription with a slot of its own: CREATE SUBSCRIPTION "sub" CONNECTION '<the source subscription's connection>' PUBLICATION "pub" WITH (slot_name = '${copy}_sub', copy_data = false);`;

const drop = (db: string) => pg.psql(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);

beforeAll(async () => {
  pg = await startPostgres({ settings: ['wal_level=logical'] });
  pg.psql(`CREATE ROLE app_owner; CREATE ROLE tenant_a; CREATE ROLE tenant_b; CREATE ROLE lo_owner; CREATE DATABASE pubdb; CREATE DATABASE appdb`);
  pg.psql(`CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION pub FOR TABLE t`, 'pubdb');
  // On one server, CREATE SUBSCRIPTION cannot make its slot (it would wait for itself): made first, as the docs say.
  pg.psql(`SELECT pg_create_logical_replication_slot('app_slot', 'pgoutput')`, 'pubdb');
  pg.psql(APP, 'appdb');
  for (const sql of ENUM_VALUES) pg.psql(sql, 'appdb');
  pg.psql(APP_TABLES, 'appdb');
  // Enabled and connected: the source replicates (the password is only there to be never shown).
  pg.psql(`CREATE SUBSCRIPTION sub CONNECTION 'host=${pg.socketDir} port=${pg.port} user=postgres dbname=pubdb password=${SECRET}' PUBLICATION pub WITH (create_slot = false, slot_name = 'app_slot', copy_data = false)`, 'appdb');
  pg.psql(`ALTER DATABASE appdb SET default_transaction_read_only = on`);
  dumpDir = mkdtempSync(join(tmpdir(), 'backstop-pgapp-'));
  appDump = await dumpToFile('appdb', dumpDir);
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
});

describe('logical restore into a new database on the same server', () => {
  test('the subscription is left out (a note says why and how to make one with its own slot); everything else matches the source; the copy can be dropped', async () => {
    const before = sourceReplication();
    expect(before).toBe(`sub enabled=true slot=app_slot db=appdb\napp_slot pgoutput pubdb`);
    const report = await connectorOf().restore('appcopy', createReadStream(appDump), 'logical');
    try {
      expect(report).toEqual({ database: 'appcopy', notes: [SUB_NOTE('appcopy')] });
      expect(JSON.stringify(report)).not.toContain(SECRET);
      const copy = appFacts('appcopy');
      expect(copy).toEqual(expectedCopy());
      expect(copy).toMatchObject({
        enum: 'draft,new,active,done,archived',
        'enum order in data': 'draft,draft,active,archived',
        extensions: 'citext@ext 1.6,hstore@ext 1.8,lo@public 1.1,pg_trgm@ext 1.6,plpgsql@pg_catalog 1.0',
        'trigram search': 'printer jammed,printer on fire',
        rls: 'true/true owner=app_owner acl=app_owner=arwdDxt/app_owner,tenant_a=r/app_owner,tenant_b=ar/app_owner',
        'sequence last_value': '300 true',
        'function on a later table': '2',
        audit: '4',
        'read-only by default': 'default_transaction_read_only=on',
        publications: 'app_pub',
      });
      expect(copy.triggers).toContain('tickets_replica R CREATE TRIGGER');
      expect(schemaOf('appcopy')).toBe(schemaOf('appdb'));
      expect(pgContentFingerprint(pg, 'appcopy')).toEqual(pgContentFingerprint(pg, 'appdb'));
      // The copy behaves: the identity carries on from the source's sequence, the domain and the policies bite.
      expect(pg.psql(`${W} INSERT INTO tickets (tenant, title) VALUES ('a', 'new one') RETURNING id`, 'appcopy').trim()).toBe('305');
      expect(() => pg.psql(`${W} INSERT INTO tickets (tenant, who) VALUES ('a', 'root@LOCALHOST')`, 'appcopy')).toThrow(/violates check constraint "not_local"/);
      expect(pg.psql(`SET ROLE tenant_a; SELECT string_agg(title, ',' ORDER BY title) FROM tickets`, 'appcopy').trim()).toBe('new one,printer jammed,printer on fire');
      expect(() => pg.psql(`${W} SET ROLE tenant_b; INSERT INTO tickets (tenant, title) VALUES ('a', 'sneaky')`, 'appcopy')).toThrow(/violates row-level security policy/);
    } finally {
      // A database with a subscription cannot be dropped ("is being used by logical replication subscription").
      await connectorOf().dropDatabase('appcopy');
    }
    expect(pg.psql(`SELECT count(*) FROM pg_database WHERE datname = 'appcopy'`).trim()).toBe('0');
    expect(sourceReplication()).toBe(before);
  });
});

const OLD_SUB = `"Sub ""x"""`;

describe('dropping a scratch database', () => {
  test('one holding a subscription (restored by an older Backstop, naming the source’s slot) is dropped; the slot on the publisher stays', async () => {
    pg.psql(`CREATE DATABASE "old scratch"`);
    pg.psql(`CREATE SUBSCRIPTION ${OLD_SUB} CONNECTION 'host=${pg.socketDir} port=${pg.port} user=postgres dbname=pubdb' PUBLICATION pub WITH (connect = false, slot_name = 'app_slot')`, 'old scratch');
    const before = sourceReplication();
    expect(before).toContain('Sub "x" enabled=false slot=app_slot db=old scratch');
    try {
      await connectorOf().dropDatabase('old scratch');
      expect(pg.psql(`SELECT count(*) FROM pg_database WHERE datname = 'old scratch'`).trim()).toBe('0');
      expect(sourceReplication()).toBe(before.split('\n').filter((l) => !l.includes('old scratch')).join('\n'));
      expect(sourceReplication()).toContain('app_slot pgoutput pubdb');
    } finally {
      if (pg.psql(`SELECT count(*) FROM pg_database WHERE datname = 'old scratch'`).trim() === '1') {
        pg.psql(`ALTER SUBSCRIPTION ${OLD_SUB} DISABLE; ALTER SUBSCRIPTION ${OLD_SUB} SET (slot_name = NONE)`, 'old scratch');
        pg.psql(`DROP SUBSCRIPTION ${OLD_SUB}`, 'old scratch');
        drop('old scratch');
      }
    }
  });
});

describe('restoring as a role that is not a superuser', () => {
  test('an archive with a subscription and a publication FOR ALL TABLES restores, without both (only a superuser may create either: it failed with PERMISSION_DENIED quoting the CREATE SUBSCRIPTION, password included)', async () => {
    pg.psql(`CREATE ROLE restorer LOGIN CREATEDB PASSWORD 'restorer-pw'; CREATE DATABASE small`);
    const dir = mkdtempSync(join(tmpdir(), 'backstop-pgapp-'));
    try {
      pg.psql(
        `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one'); CREATE SCHEMA s; CREATE TABLE s.u (id int);
         CREATE PUBLICATION small_all FOR ALL TABLES; CREATE PUBLICATION small_one FOR TABLE t WITH (publish = 'insert'); CREATE PUBLICATION small_schema FOR TABLES IN SCHEMA s;
         CREATE SUBSCRIPTION small_sub CONNECTION 'host=${pg.socketDir} port=${pg.port} user=postgres dbname=pubdb password=${SECRET}' PUBLICATION pub WITH (connect = false, slot_name = 'app_slot')`,
        'small',
      );
      const dump = await dumpToFile('small', dir);
      const restorer = connectorFor(target('restorer'), { password: 'restorer-pw', toolPaths: { postgres: PG_BIN } });
      const report = await restorer.restore('small_copy', createReadStream(dump), 'logical', { noOwner: true });
      expect(report.notes).toEqual([
        `Subscription "small_sub" (publication "pub", replication slot "app_slot" on its publisher) was not restored: a copy must never use the source's replication slot. To replicate into "small_copy", create a subscription with a slot of its own: CREATE SUBSCRIPTION "small_sub" CONNECTION '<the source subscription's connection>' PUBLICATION "pub" WITH (slot_name = 'small_copy_small_sub', copy_data = false);`,
        `Publications "small_all", "small_one", "small_schema" were not restored: "restorer" is not a superuser, and only a superuser may create a publication FOR ALL TABLES or FOR TABLES IN SCHEMA ("small_all", "small_schema"). A publication sends nothing by itself; to have them in "small_copy", run there as a superuser: CREATE PUBLICATION small_all FOR ALL TABLES WITH (publish = 'insert, update, delete, truncate'); CREATE PUBLICATION small_one WITH (publish = 'insert'); CREATE PUBLICATION small_schema WITH (publish = 'insert, update, delete, truncate'); ALTER PUBLICATION small_one ADD TABLE ONLY public.t; ALTER PUBLICATION small_schema ADD TABLES IN SCHEMA s;`,
        'Ownership not restored: the database and every object in it belong to "restorer".',
      ]);
      expect(pg.psql(`SELECT v FROM t`, 'small_copy').trim()).toBe('one');
      expect(pg.psql(`SELECT count(*) FROM pg_publication`, 'small_copy').trim()).toBe('0');
      // Run as the note says, they are the source's publications again.
      const statements = /run there as a superuser: (.*)$/.exec(report.notes?.[1] ?? "")![1]!;
      pg.psql(statements, 'small_copy');
      const pubs = `SELECT string_agg(pubname || ' ' || puballtables || ' ' || pubinsert || pubupdate, ',' ORDER BY 1) FROM pg_publication UNION ALL SELECT string_agg(pubname || ':' || schemaname || '.' || tablename, ',' ORDER BY 1) FROM pg_publication_tables`;
      expect(pg.psql(pubs, 'small_copy')).toBe(pg.psql(pubs, 'small'));
      await restorer.dropDatabase('small_copy');
      expect(pg.psql(`SELECT count(*) FROM pg_database WHERE datname = 'small_copy'`).trim()).toBe('0');
    } finally {
      drop('small_copy');
      pg.psql(`ALTER SUBSCRIPTION small_sub DISABLE; ALTER SUBSCRIPTION small_sub SET (slot_name = NONE)`, 'small');
      pg.psql(`DROP SUBSCRIPTION small_sub`, 'small');
      drop('small');
      pg.psql('DROP ROLE restorer');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('snapshot (base backup) of the cluster: one database recovered in a temporary cluster', () => {
  // One base backup for both tests (the engine's own temp folders, removed in afterAll).
  let engine: Engine;
  let taskId: string;
  let repo: Repository;
  let folders: string[] = [];
  beforeAll(async () => {
    folders = [mkdtempSync(join(tmpdir(), 'backstop-pgapp-data-')), mkdtempSync(join(tmpdir(), 'backstop-pgapp-backups-'))];
    engine = await createEngine({ dataDir: folders[0]!, logLevel: 'debug', encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    ({ taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'snapshot', folders[1]!, {
      excludeDatabases: ['pubdb'],
    }));
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    repo = await openRepository(new LocalBackend(join(folders[1]!, SERVER_FOLDER, encodeDatabaseFolder('base.tar'))));
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
    pg.psql(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_type = 'physical' AND NOT active`);
    for (const f of folders) rmSync(f, { recursive: true, force: true });
  });

  test('the temporary cluster runs no logical replication worker (the slot stays the source’s); the copy equals the logical copy', { timeout: 60_000 }, async () => {
    const full = (await repo.listPoints()).at(-1)!;
    const tmp = tempDir();
    chmodSync(tmp, 0o755);
    // The source's subscription stops: its slot is then free for whoever connects (what a worker of the temporary cluster would take).
    pg.psql(`${W} ALTER SUBSCRIPTION sub DISABLE`, 'appdb');
    const before = sourceReplication();
    let workers = '';
    let subscriptionsSeen = false;
    try {
      const report = await restoreDatabaseAt({
        repo,
        plan: await planRecovery(repo, { pointId: full.id }),
        sourceDatabase: 'appdb',
        server: target(),
        password: pg.password,
        database: 'appsnap',
        toolPaths: { postgres: PG_BIN },
        options: RestoreOptions.parse({}),
        tempDir: tmp,
        onRecovered: (dir) => {
          // What a whole-cluster restore (--folder) of this backup reads to warn about the subscription.
          subscriptionsSeen = holdsSubscriptions(dir);
          // postmaster.pid: line 4 the port, line 5 the socket folder.
          const [, , , port, socket] = readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n');
          workers = execFileSync(join(PG_BIN, 'psql'), ['-X', '-A', '-t', '-h', socket!, '-p', port!, '-U', 'postgres', '-d', 'appdb', '-c',
            `SELECT current_setting('max_logical_replication_workers') || ' ' || (SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'logical replication%') || ' ' || (SELECT string_agg(subname || '=' || subenabled, ',') FROM pg_subscription)`,
          ], { encoding: 'utf8' }).trim();
        },
      });
      // The base backup holds the subscription enabled; no worker may start for it.
      expect(workers).toBe('0 0 sub=true');
      expect(subscriptionsSeen).toBe(true);
      expect(report.notes).toContain(SUB_NOTE('appsnap'));
      expect(JSON.stringify(report)).not.toContain(SECRET);
      expect(appFacts('appsnap')).toEqual(expectedCopy());
      expect(schemaOf('appsnap')).toBe(schemaOf('appdb'));
      expect(pgContentFingerprint(pg, 'appsnap')).toEqual(pgContentFingerprint(pg, 'appdb'));
      await connectorOf().dropDatabase('appsnap');
      expect(sourceReplication()).toBe(before);
    } finally {
      drop('appsnap');
      pg.psql(`${W} ALTER SUBSCRIPTION sub ENABLE`, 'appdb');
    }
  });

  test('the task’s test restore passes and removes its scratch database; the source keeps its subscription and slot', { timeout: 60_000 }, async () => {
    const before = sourceReplication();
    const summary = await engine.testRestores.run(await engine.resolveTask(taskId), 'manual');
    expect(summary).toMatchObject({ status: 'success', error: null });
    expect(summary.databases.map((d) => `${d.database}:${d.status}`)).toEqual(['appdb:ok']);
    expect(pg.psql(`SELECT count(*) FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%'`).trim()).toBe('0');
    expect(sourceReplication()).toBe(before);
  });
});

describe('test restore of a logical task (scratch database)', () => {
  test('passes and removes its scratch database; the source keeps its subscription and slot', { timeout: 60_000 }, async () => {
    const engine = await testEngine({ encoderWorkers: 0 });
    data(await engine.call('settings.set', { toolPaths: { postgres: PG_BIN, mysql: null } }));
    const { taskId } = await serverWithTask(engine, { kind: 'postgres', name: 'pg', host: pg.host, port: pg.port, user: pg.user, password: pg.password, tls: 'disable' }, 'logical', tempDir(), {
      excludeDatabases: ['postgres', 'pubdb'],
    });
    expect((await runTask(engine, taskId, 'full')).status).toBe('success');
    const before = sourceReplication();
    const summary = await engine.testRestores.run(await engine.resolveTask(taskId), 'manual');
    expect(summary).toMatchObject({ status: 'success', error: null, leftoversRemoved: [] });
    expect(summary.databases.map((d) => `${d.database}:${d.status}`)).toEqual(['appdb:ok']);
    expect(pg.psql(`SELECT count(*) FROM pg_database WHERE datname LIKE 'backstop\\_test\\_%'`).trim()).toBe('0');
    expect(sourceReplication()).toBe(before);
  });
});
