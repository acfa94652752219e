/**
 * Parsing pg_dumpall --globals-only output into per-object statement groups: quoting,
 * comments and psql meta-commands must never split or merge statements, and quoted role
 * names keep their case and characters.
 */
import { describe, expect, it } from 'vitest';
import { parseGlobals, splitStatements, withoutPassword } from '../../../electron/engine/servers/postgres/apply-globals.ts';

const DUMP = String.raw`--
-- PostgreSQL database cluster dump
--

\restrict AbCdEf123

SET default_transaction_read_only = off;

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE "Odd; ""Name""";
ALTER ROLE "Odd; ""Name""" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a;b:c''d';
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
COMMENT ON ROLE postgres IS 'it''s the /* not a comment */ superuser; -- still text';
CREATE ROLE web;
ALTER ROLE web WITH LOGIN PASSWORD 'md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' VALID UNTIL '2031-01-01 00:00:00+00';
/* a block /* nested */ comment; */
ALTER ROLE web SET search_path TO 'app', 'public';
ALTER ROLE web IN DATABASE shop SET work_mem TO '64MB';
SELECT $tag$ not ; split $tag$;
SELECT E'\' ; still one';

--
-- Role memberships
--

GRANT "Odd; ""Name""" TO web GRANTED BY postgres;
GRANT postgres TO web WITH ADMIN OPTION;

--
-- Tablespaces
--

CREATE TABLESPACE fast OWNER web LOCATION '/srv/fast';
ALTER TABLESPACE fast SET (random_page_cost='1.1');
GRANT ALL ON TABLESPACE fast TO web;

\unrestrict AbCdEf123
`;

describe('parseGlobals', () => {
  it('splits statements without breaking quoted text, comments or dollar quotes, and skips meta-commands', () => {
    const s = splitStatements(DUMP);
    expect(s).toContain(`COMMENT ON ROLE postgres IS 'it''s the /* not a comment */ superuser; -- still text'`);
    expect(s).toContain('SELECT $tag$ not ; split $tag$');
    expect(s).toContain(String.raw`SELECT E'\' ; still one'`);
    expect(s.some((x) => x.includes('restrict'))).toBe(false);
    expect(s.filter((x) => x.startsWith('CREATE ROLE'))).toEqual(['CREATE ROLE "Odd; ""Name"""', 'CREATE ROLE postgres', 'CREATE ROLE web']);
  });

  it('groups statements per role, membership and tablespace', () => {
    const { prelude, objects } = parseGlobals(DUMP);
    expect(prelude).toEqual(['SET default_transaction_read_only = off', "SET client_encoding = 'UTF8'", 'SET standard_conforming_strings = on']);
    const odd = objects.find((o) => o.kind === 'role' && o.name === 'Odd; "Name"');
    expect(odd).toMatchObject({ create: 'CREATE ROLE "Odd; ""Name"""', attributes: [expect.stringContaining('WITH NOSUPERUSER')], rest: [] });
    const web = objects.find((o) => o.kind === 'role' && o.name === 'web');
    expect(web).toMatchObject({ attributes: [expect.stringContaining('VALID UNTIL')], rest: ["ALTER ROLE web SET search_path TO 'app', 'public'", "ALTER ROLE web IN DATABASE shop SET work_mem TO '64MB'"] });
    expect(objects.find((o) => o.kind === 'role' && o.name === 'postgres')).toMatchObject({ rest: [expect.stringMatching(/^COMMENT ON ROLE postgres/)] });
    expect(objects.filter((o) => o.kind === 'membership')).toEqual([
      { kind: 'membership', role: 'Odd; "Name"', member: 'web', grantor: 'postgres', statement: 'GRANT "Odd; ""Name""" TO web GRANTED BY postgres' },
      { kind: 'membership', role: 'postgres', member: 'web', grantor: null, statement: 'GRANT postgres TO web WITH ADMIN OPTION' },
    ]);
    expect(objects.find((o) => o.kind === 'tablespace')).toEqual({
      kind: 'tablespace',
      name: 'fast',
      create: "CREATE TABLESPACE fast OWNER web LOCATION '/srv/fast'",
      rest: ["ALTER TABLESPACE fast SET (random_page_cost='1.1')", 'GRANT ALL ON TABLESPACE fast TO web'],
    });
    expect(objects.filter((o) => o.kind === 'statement')).toHaveLength(2);
  });

  it('drops only the password clause when an existing role is altered', () => {
    expect(withoutPassword(`ALTER ROLE web WITH LOGIN PASSWORD 'md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' VALID UNTIL '2031-01-01 00:00:00+00'`)).toBe(
      `ALTER ROLE web WITH LOGIN VALID UNTIL '2031-01-01 00:00:00+00'`,
    );
    expect(withoutPassword(`ALTER ROLE "PASSWORD 'x'" WITH NOLOGIN PASSWORD 'SCRAM-SHA-256$4096:x$y:z'`)).toBe(`ALTER ROLE "PASSWORD 'x'" WITH NOLOGIN`);
    expect(withoutPassword('ALTER ROLE web WITH LOGIN PASSWORD NULL')).toBe('ALTER ROLE web WITH LOGIN');
  });
});
