/**
 * The PostgreSQL restore planner on pg_restore-shaped scripts: statements are recognised
 * token by token (names with quotes, semicolons and keywords inside strings, comments or
 * function bodies never mislead it), the database name is rewritten only where the grammar
 * puts it, roles are found, mapped and checked as the user's choices say.
 */
import { describe, expect, test } from 'vitest';
import { BackstopError } from '../../../electron/shared/result.ts';
import { decodeScript, largeObjectEntries, planRestore, sourceDatabaseName, type PlanInput } from '../../../electron/engine/servers/postgres/restore-plan.ts';
import { renderStatement, splitStatements } from '../../../electron/engine/servers/postgres/sql-script.ts';

const DB_SCRIPT = `--
-- PostgreSQL database dump
--
\\restrict abc
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);
--
-- Name: we"ird; Type: DATABASE; Schema: -; Owner: o w n
--
CREATE DATABASE "we""ird;" WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';
ALTER DATABASE "we""ird;" OWNER TO "o w n";
\\unrestrict abc
\\connect -reuse-previous=on "dbname='we\\"ird;'"
COMMENT ON DATABASE "we""ird;" IS 'ALTER DATABASE "we""ird;" OWNER TO x; -- not a statement';
ALTER DATABASE "we""ird;" SET search_path TO 'app', 'public';
ALTER ROLE reader IN DATABASE "we""ird;" SET work_mem TO '8MB';
REVOKE CONNECT,TEMPORARY ON DATABASE "we""ird;" FROM PUBLIC;
GRANT CONNECT ON DATABASE "we""ird;" TO reader;
SET SESSION AUTHORIZATION "o w n";
GRANT CREATE ON DATABASE "we""ird;" TO "Gr;antee" WITH GRANT OPTION;
RESET SESSION AUTHORIZATION;
`;

const OBJECT_SCRIPT = `
CREATE SCHEMA app;
ALTER SCHEMA app OWNER TO "o w n";
CREATE FUNCTION app.f(x integer) RETURNS integer
    LANGUAGE sql
    AS $_$ SELECT 1; ALTER TABLE t OWNER TO ghost; GRANT ALL ON t TO ghost $_$;
ALTER FUNCTION app.f(x integer) OWNER TO "o w n";
COMMENT ON FUNCTION app.f(x integer) IS E'it\\'s; ALTER TABLE t OWNER TO ghost;';
/* nested /* comment; */ ALTER TABLE t OWNER TO ghost; */
GRANT SELECT("to", "from") ON TABLE app.orders TO reader;
REVOKE ALL ON FUNCTION app.f(x integer) FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE "o w n" IN SCHEMA app GRANT SELECT ON TABLES TO reader;
`;

function input(over: Partial<PlanInput> = {}): PlanInput {
  return {
    sourceDatabase: 'we"ird;',
    databaseScript: DB_SCRIPT,
    objectScript: OBJECT_SCRIPT,
    existingRoles: new Set(['postgres', 'o w n', 'reader', 'Gr;antee']),
    restoringUser: 'postgres',
    serverLabel: 'PostgreSQL server h:5432',
    choices: { noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false },
    ...over,
  };
}

function rejection(fn: () => unknown): BackstopError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BackstopError);
    return e as BackstopError;
  }
  throw new Error('expected an error');
}

describe('splitStatements', () => {
  test('strings, dollar bodies, comments and meta-commands never split or end a statement; rendering is exact', () => {
    const stmts = splitStatements(OBJECT_SCRIPT);
    expect(stmts.map((s) => renderStatement(s)).join('')).toBe(OBJECT_SCRIPT.trimEnd());
    expect(stmts).toHaveLength(8);
    const meta = splitStatements(DB_SCRIPT).filter((s) => s.tokens[s.sig[0]!]!.kind === 'meta');
    expect(meta.map((s) => renderStatement(s))).toEqual(['\\restrict abc', '\\unrestrict abc', `\\connect -reuse-previous=on "dbname='we\\"ird;'"`]);
  });

  test('the source name comes from CREATE DATABASE, unquoted', () => {
    expect(sourceDatabaseName(DB_SCRIPT)).toBe('we"ird;');
  });
});

describe('planRestore', () => {
  test('rewrites the database name only where the grammar puts it; pg_restore does owners and privileges', () => {
    const plan = planRestore(input(), 'new "db"');
    expect(plan.createDatabase).toBe(`CREATE DATABASE "new ""db""" WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';`);
    expect(plan.databaseStatements).toEqual([
      'ALTER DATABASE "new ""db""" OWNER TO "o w n";',
      `COMMENT ON DATABASE "new ""db""" IS 'ALTER DATABASE "we""ird;" OWNER TO x; -- not a statement';`,
      `ALTER DATABASE "new ""db""" SET search_path TO 'app', 'public';`,
      `ALTER ROLE reader IN DATABASE "new ""db""" SET work_mem TO '8MB';`,
      'REVOKE CONNECT,TEMPORARY ON DATABASE "new ""db""" FROM PUBLIC;',
      'GRANT CONNECT ON DATABASE "new ""db""" TO reader;',
      'SET SESSION AUTHORIZATION "o w n";',
      'GRANT CREATE ON DATABASE "new ""db""" TO "Gr;antee" WITH GRANT OPTION;',
      'RESET SESSION AUTHORIZATION;',
    ]);
    expect(plan.objectStatements).toEqual([]);
    expect(plan.pgRestoreArgs).toEqual([]);
    expect(plan.notes).toEqual([]);
    expect(plan.standardConformingStrings).toBe(true);
  });

  test("an archive from a session with standard_conforming_strings off: its literals ('C:\\\\dir') are to run under that setting", () => {
    const off = DB_SCRIPT.replace("SET client_encoding = 'UTF8';", "SET client_encoding = 'UTF8';\nSET standard_conforming_strings = off;");
    expect(off).not.toBe(DB_SCRIPT);
    expect(planRestore(input({ databaseScript: off }), 'n').standardConformingStrings).toBe(false);
    expect(planRestore(input({ databaseScript: off.replace('= off;', '= on;') }), 'n').standardConformingStrings).toBe(true);
  });

  test('missing roles: ROLE_MISSING names each and what names it; words in strings and bodies are not roles', () => {
    const e = rejection(() => planRestore(input({ existingRoles: new Set(['postgres']) }), 'n'));
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).toBe(
      'The backup names roles that the PostgreSQL server h:5432 lacks: role "Gr;antee" (granted CREATE on the database), role "o w n" (owner of the database; grantor of privileges on the database; owner of SCHEMA app; and 2 more), role "reader" (has settings in the database (ALTER ROLE … IN DATABASE … SET); granted CONNECT on the database; granted SELECT("to", "from") on TABLE app.orders; and 1 more). Nothing was restored. Choose one: create the missing roles (without login or privileges), map each to a role that exists, or skip ownership (everything then belongs to "postgres") and/or privileges.',
    );
    expect(e.message).not.toContain('ghost');
  });

  test('skip ownership and privileges: only the settings of roles that exist are applied', () => {
    const plan = planRestore(input({ existingRoles: new Set(['postgres']), choices: { noOwner: true, noPrivileges: true, roleMap: {}, createRoles: false } }), 'n');
    expect(plan.pgRestoreArgs).toEqual(['--no-owner', '--no-privileges']);
    expect(plan.databaseStatements).toEqual([`COMMENT ON DATABASE "n" IS 'ALTER DATABASE "we""ird;" OWNER TO x; -- not a statement';`, `ALTER DATABASE "n" SET search_path TO 'app', 'public';`]);
    expect(plan.notes.at(-1)).toBe('Settings of role "reader" in the database (ALTER ROLE … IN DATABASE) were not restored: the role does not exist here.');
  });

  test('a role map rewrites owners, grantees, grantors and per-role settings, objects included', () => {
    const plan = planRestore(input({ existingRoles: new Set(['postgres', 'owner2', 'R 2', 'reader', 'Gr;antee']), choices: { noOwner: false, noPrivileges: false, roleMap: { 'o w n': 'owner2', reader: 'R 2' }, createRoles: false } }), 'n');
    expect(plan.pgRestoreArgs).toEqual(['--no-owner', '--no-privileges']);
    expect(plan.objectStatements).toEqual([
      'ALTER SCHEMA app OWNER TO "owner2";',
      'ALTER FUNCTION app.f(x integer) OWNER TO "owner2";',
      'GRANT SELECT("to", "from") ON TABLE app.orders TO "R 2";',
      'REVOKE ALL ON FUNCTION app.f(x integer) FROM PUBLIC;',
      'ALTER DEFAULT PRIVILEGES FOR ROLE "owner2" IN SCHEMA app GRANT SELECT ON TABLES TO "R 2";',
    ]);
    expect(plan.databaseStatements).toContain('ALTER DATABASE "n" OWNER TO "owner2";');
    expect(plan.databaseStatements).toContain(`ALTER ROLE "R 2" IN DATABASE "n" SET work_mem TO '8MB';`);
    expect(plan.databaseStatements).toContain('SET SESSION AUTHORIZATION "owner2";');
    expect(plan.notes).toEqual(['Role "o w n" of the backup was mapped to "owner2".', 'Role "reader" of the backup was mapped to "R 2".']);
  });

  test('create roles: the missing ones are listed for creation, with a note each', () => {
    const plan = planRestore(input({ existingRoles: new Set(['postgres', 'o w n']), choices: { noOwner: false, noPrivileges: false, roleMap: {}, createRoles: true } }), 'n');
    expect(plan.createRoles).toEqual(['Gr;antee', 'reader']);
    expect(plan.notes).toEqual([
      'Created role "Gr;antee" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
      'Created role "reader" (NOLOGIN, no privileges): give it LOGIN and a password before using it.',
    ]);
  });

  test('an archive without a CREATE DATABASE entry is refused before anything is created', () => {
    const e = rejection(() => planRestore(input({ databaseScript: "SET client_encoding = 'UTF8';\n" }), 'n'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/no CREATE DATABASE entry/);
  });
});

describe('row-level security policies', () => {
  const POLICY = `${OBJECT_SCRIPT}CREATE POLICY "p; TO x" ON app.orders AS RESTRICTIVE FOR SELECT TO reader, "Pol Role" USING ((owner = CURRENT_USER));\n`;

  test('their roles are checked; a role map cannot stand in for them, creating the role can', () => {
    const e = rejection(() =>
      planRestore(input({ objectScript: POLICY, existingRoles: new Set(['postgres', 'o w n', 'reader', 'Gr;antee', 'other']), choices: { noOwner: true, noPrivileges: true, roleMap: { 'Pol Role': 'other' }, createRoles: false } }), 'n'),
    );
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).toContain('"Pol Role" (named in POLICY "p; TO x" ON app.orders AS RESTRICTIVE FOR SELECT)');
    expect(e.message).toContain('Roles named in row-level security policies ("Pol Role") can only be created, not mapped or skipped.');
    const plan = planRestore(input({ objectScript: POLICY, choices: { noOwner: false, noPrivileges: false, roleMap: {}, createRoles: true } }), 'n');
    expect(plan.createRoles).toEqual(['Pol Role']);
  });

  test('a mapped role the target has, named in a policy or a user mapping: the restore goes on, a note names where it still appears and the fix (never a mapping option)', () => {
    const script = `${POLICY}CREATE USER MAPPING FOR "Pol Role" SERVER s OPTIONS (password 'pw-secret');\n`;
    const roles = new Set(['postgres', 'o w n', 'reader', 'Gr;antee', 'Pol Role', 'other']);
    const plan = planRestore(input({ objectScript: script, existingRoles: roles, choices: { noOwner: true, noPrivileges: true, roleMap: { 'Pol Role': 'other' }, createRoles: false } }), 'n');
    expect(plan.notes.filter((n) => n.includes('Pol Role'))).toEqual([
      'Role "Pol Role" still appears, not mapped to "other", where a role mapping does not reach (pg_restore creates row-level security policies and user mappings as they are): ' +
        'named in POLICY "p; TO x" ON app.orders AS RESTRICTIVE FOR SELECT; has a USER MAPPING for server s. If "other" should be named there instead, in the restored database: ' +
        'ALTER POLICY name ON table TO … (its roles, with "other" in place of "Pol Role"); CREATE USER MAPPING FOR "other" SERVER … OPTIONS (…).',
    ]);
    expect(plan.notes.join('\n')).not.toContain('pw-secret');
  });
});

describe('user mappings, large objects, tablespaces', () => {
  test("a user mapping's role is checked like a policy's; PUBLIC and CURRENT_USER are not roles; its options are never read as roles", () => {
    const script = `${OBJECT_SCRIPT}CREATE USER MAPPING FOR "Fdw User" SERVER "re mote" OPTIONS (\n    password 'TO ghost',\n    "user" 'u'\n);\nCREATE USER MAPPING FOR PUBLIC SERVER s;\nCREATE USER MAPPING FOR CURRENT_USER SERVER s;\n`;
    const e = rejection(() => planRestore(input({ objectScript: script, choices: { noOwner: true, noPrivileges: true, roleMap: {}, createRoles: false } }), 'n'));
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).toContain('lacks: role "Fdw User" (has a USER MAPPING for server re mote). Nothing was restored.');
    expect(e.message).toContain('Roles named in row-level security policies or user mappings ("Fdw User") can only be created');
    expect(planRestore(input({ objectScript: script, choices: { noOwner: false, noPrivileges: false, roleMap: {}, createRoles: true } }), 'n').createRoles).toEqual(['Fdw User']);
  });

  test("large objects' metadata entries are picked from the listing, their data (BLOBS) never", () => {
    const list = ['3348; 2613 5151 BLOB - 5151 lo_owner', '3356; 0 0 COMMENT - LARGE OBJECT 5151 lo_owner', '3357; 0 0 ACL - LARGE OBJECT 5151 lo_owner', '3349; 0 0 BLOBS - BLOBS ', '214; 1259 16385 TABLE public limits postgres'];
    expect(largeObjectEntries(list.join('\n'))).toEqual(list.slice(0, 3));
  });

  test('20,000 large objects of one role: a missing role is named with a count of its uses, a mapped one rewrites every owner and grant', () => {
    let objects = '';
    for (let i = 1; i <= 20_000; i++) objects += `SELECT pg_catalog.lo_create('${i}');\nALTER LARGE OBJECT ${i} OWNER TO lo_owner;\nGRANT SELECT ON LARGE OBJECT ${i} TO reader;\n`;
    const e = rejection(() => planRestore(input({ objectScript: objects, existingRoles: new Set(['postgres', 'o w n', 'reader', 'Gr;antee']) }), 'n'));
    expect(e.code).toBe('ROLE_MISSING');
    expect(e.message).toMatch(/lacks: role "lo_owner" \(owner of LARGE OBJECT 1; owner of LARGE OBJECT 2; owner of LARGE OBJECT 3; and 19997 more\)\. Nothing was restored\./);
    const plan = planRestore(input({ objectScript: objects, existingRoles: new Set(['postgres', 'o w n', 'reader', 'Gr;antee', 'keeper']), choices: { noOwner: false, noPrivileges: false, roleMap: { lo_owner: 'keeper' }, createRoles: false } }), 'n');
    const owners = plan.objectStatements.filter((x) => x.startsWith('ALTER LARGE OBJECT'));
    expect(owners).toHaveLength(20_000);
    expect(owners[19_999]).toBe('ALTER LARGE OBJECT 20000 OWNER TO "keeper";');
    expect(plan.objectStatements.filter((x) => x.startsWith('GRANT SELECT ON LARGE OBJECT'))).toHaveLength(20_000);
  });

  test('tablespaces the target lacks are refused before anything else, each named with what is in it', () => {
    const db = DB_SCRIPT.replace("TEMPLATE = template0", 'TEMPLATE = template0 TABLESPACE = "fast ts"');
    const objects = `${OBJECT_SCRIPT}SET default_tablespace = cold;\nCREATE TABLE app.old (id int);\nSET default_tablespace = '';\n`;
    const e = rejection(() => planRestore(input({ databaseScript: db, objectScript: objects, existingTablespaces: new Set(['pg_default', 'pg_global']) }), 'n'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toMatch(/^The backup puts things in tablespaces that the PostgreSQL server h:5432 lacks: "fast ts" \(the database\), "cold" \(tables or indexes\)\. Nothing was restored\./);
    expect(() => planRestore(input({ databaseScript: db, objectScript: objects, existingTablespaces: new Set(['fast ts', 'cold']) }), 'n')).not.toThrow();
  });
});

describe('decodeScript', () => {
  test('reads the script in the encoding pg_restore wrote it in', () => {
    expect(decodeScript(Buffer.from("SET client_encoding = 'LATIN1';\nCOMMENT ON DATABASE x IS 'Caf\u00e9';", 'latin1'))).toContain("'Café'");
    expect(decodeScript(Buffer.from("SET client_encoding = 'WIN1251';\n", 'latin1'))).toContain('WIN1251');
    const e = (() => {
      try {
        decodeScript(Buffer.concat([Buffer.from("SET client_encoding = 'MULE_INTERNAL';\n"), Buffer.from([0x81, 0x82])]));
      } catch (err) {
        return err as BackstopError;
      }
      return null;
    })();
    expect(e?.code).toBe('RESTORE_FAILED');
    expect(e?.message).toContain('encoding MULE_INTERNAL');
  });
});

describe('logical replication subscriptions', () => {
  const SUBS = `
CREATE SUBSCRIPTION "Sub;One" CONNECTION 'host=pub dbname=shop password=pw''; CREATE SUBSCRIPTION x' PUBLICATION "pub a", pub_b WITH (connect = false, slot_name = 'slot''s');
ALTER SUBSCRIPTION "Sub;One" OWNER TO sub_owner;
COMMENT ON SUBSCRIPTION "Sub;One" IS 'ALTER TABLE t OWNER TO ghost';
CREATE SUBSCRIPTION plain CONNECTION 'host=pub' PUBLICATION p WITH (connect = false, slot_name = NONE);
ALTER SUBSCRIPTION plain OWNER TO sub_owner;
`;

  test('are left out (pg_restore --no-subscriptions) with a note each naming the publications and the slot, never the connection; their owner need not exist, nor be mapped', () => {
    for (const choices of [{}, { roleMap: { 'o w n': 'postgres', sub_owner: 'postgres' } }]) {
      const plan = planRestore(input({ objectScript: OBJECT_SCRIPT + SUBS, choices: { noOwner: false, noPrivileges: false, roleMap: {}, createRoles: false, ...choices } }), 'Copy-1');
      expect(plan.pgRestoreArgs).toContain('--no-subscriptions');
      expect(plan.createRoles).toEqual([]);
      expect(plan.objectStatements.join('\n')).not.toContain('SUBSCRIPTION');
      const subNotes = plan.notes.filter((n) => n.startsWith('Subscription'));
      expect(subNotes).toEqual([
        `Subscription "Sub;One" (publications "pub a", "pub_b", replication slot "slot's" on its publisher) was not restored: a copy must never use the source's replication slot. To replicate into "Copy-1", create a subscription with a slot of its own: CREATE SUBSCRIPTION "Sub;One" CONNECTION '<the source subscription's connection>' PUBLICATION "pub a", "pub_b" WITH (slot_name = 'copy_1_sub_one', copy_data = false);`,
        `Subscription "plain" (publication "p") was not restored: a copy must never use the source's replication slot. To replicate into "Copy-1", create a subscription with a slot of its own: CREATE SUBSCRIPTION "plain" CONNECTION '<the source subscription's connection>' PUBLICATION "p" WITH (slot_name = 'copy_1_plain', copy_data = false);`,
      ]);
      expect(subNotes.join('\n')).not.toContain('password');
    }
  });

  test('an archive without one restores as before (no flag, no note)', () => {
    const plan = planRestore(input(), 'copy');
    expect(plan.pgRestoreArgs).not.toContain('--no-subscriptions');
    expect(plan.notes).toEqual([]);
  });
});

describe('publications only a superuser may create', () => {
  const PUBS = `
CREATE PUBLICATION "all ""p""" FOR ALL TABLES WITH (publish = 'insert');
ALTER PUBLICATION "all ""p""" OWNER TO pub_owner;
COMMENT ON PUBLICATION "all ""p""" IS 'FOR ALL TABLES';
CREATE PUBLICATION one WITH (publish = 'insert, update, delete, truncate');
ALTER PUBLICATION one ADD TABLE ONLY app.orders;
`;
  const ONE_ONLY = `
CREATE PUBLICATION one WITH (publish = 'insert, update, delete, truncate');
ALTER PUBLICATION one OWNER TO "o w n";
ALTER PUBLICATION one ADD TABLE ONLY app.orders;
ALTER PUBLICATION one ADD TABLES IN SCHEMA app;
`;

  test('a superuser (or one not known not to be) restores them as they are', () => {
    for (const superuser of [true, undefined]) {
      const plan = planRestore(input({ objectScript: OBJECT_SCRIPT + PUBS, existingRoles: new Set(['postgres', 'o w n', 'reader', 'Gr;antee', 'pub_owner']), ...(superuser === undefined ? {} : { superuser }) }), 'copy');
      expect(plan.pgRestoreArgs).not.toContain('--no-publications');
      expect(plan.notes).toEqual([]);
    }
  });

  test('anyone else restores without the publications (their owner need not exist), a note giving their statements', () => {
    const plan = planRestore(input({ objectScript: OBJECT_SCRIPT + PUBS, superuser: false, restoringUser: 'app' }), 'copy');
    expect(plan.pgRestoreArgs).toContain('--no-publications');
    expect(plan.createRoles).toEqual([]);
    expect(plan.notes).toEqual([
      `Publications "all "p"", "one" were not restored: "app" is not a superuser, and only a superuser may create a publication FOR ALL TABLES or FOR TABLES IN SCHEMA ("all "p""). A publication sends nothing by itself; to have them in "copy", run there as a superuser: CREATE PUBLICATION "all ""p""" FOR ALL TABLES WITH (publish = 'insert'); CREATE PUBLICATION one WITH (publish = 'insert, update, delete, truncate'); ALTER PUBLICATION one ADD TABLE ONLY app.orders;`,
    ]);
    // TABLES IN SCHEMA alone is enough; FOR TABLE alone is not.
    expect(planRestore(input({ objectScript: ONE_ONLY, superuser: false }), 'copy').pgRestoreArgs).toContain('--no-publications');
    // A schema named "schema", or "all", is no keyword there.
    const forTable = planRestore(input({ objectScript: ONE_ONLY.replace('ALTER PUBLICATION one ADD TABLES IN SCHEMA app;', 'ALTER PUBLICATION one ADD TABLE ONLY schema.all;'), superuser: false }), 'copy');
    expect(forTable.pgRestoreArgs).not.toContain('--no-publications');
    expect(forTable.notes).toEqual([]);
  });
});
