/**
 * A MariaDB 10.11 backup restored onto ANOTHER server than its source, one that differs:
 * - a table of a storage engine loaded as a plugin on the source only (ARCHIVE, ha_archive):
 *   the dump's session allows engine substitution, so the target makes it an InnoDB table;
 *   the restore keeps the data and says so in a note naming the table, the engine and the fix;
 * - a target with innodb_force_primary_key=ON and tables without a primary key in the
 *   backup: RESTORE_FAILED naming the setting, a table and the fix, nothing left there.
 * (A target whose max_allowed_packet is smaller than a row: servers/mariadb-content.test.ts;
 * lower_case_table_names=1 targets: servers/mariadb-settings.test.ts, tasks/mariadb-binlog.test.ts.)
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Server } from '../../../electron/shared/domain.ts';
import { connectorFor, type Connector } from '../../../electron/engine/servers/index.ts';
import { rejection } from '../../fixtures/servers/common.ts';
import { startMariadb, type MariadbServer } from '../../fixtures/servers/mariadb.ts';

let src: MariadbServer;
let target: MariadbServer;
let scratch: string;

function connector(server: MariadbServer): Connector {
  const s: Server = { id: 'm', name: 'm', kind: 'mysql', host: server.host, port: server.port, user: server.user, tls: 'disable', passwordRef: null, createdAt: '', updatedAt: '' };
  return connectorFor(s, { password: server.password, toolPaths: { mysql: null } });
}

const databases = (server: MariadbServer) => server.sql('SELECT GROUP_CONCAT(SCHEMA_NAME ORDER BY SCHEMA_NAME) FROM information_schema.SCHEMATA').trim();

async function dumpToFile(db: string): Promise<string> {
  const file = join(scratch, `${db}.sql`);
  const d = await connector(src).openDump(db, 'logical');
  await pipeline(d.stream, createWriteStream(file));
  await d.done;
  return file;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'backstop-other-target-'));
  [src, target] = await Promise.all([startMariadb(), startMariadb({ args: ['--innodb-force-primary-key=ON'] })]);
  src.sql("INSTALL SONAME 'ha_archive'");
}, 120_000);

afterAll(async () => {
  await Promise.all([src?.stop(), target?.stop()]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('a storage engine the target lacks', () => {
  test('an ARCHIVE table (plugin on the source only) comes back as InnoDB with its rows, and a note names the table, the engine and the fix', async () => {
    src.sql('CREATE DATABASE arch');
    src.sql(
      `CREATE TABLE log (id INT NOT NULL, msg VARCHAR(20), PRIMARY KEY (id)) ENGINE=InnoDB;
       CREATE TABLE history (id INT, msg VARCHAR(20)) ENGINE=ARCHIVE;
       INSERT INTO log VALUES (1, 'a'); INSERT INTO history VALUES (1, 'old'), (2, 'older');`,
      'arch',
    );
    expect(target.sql("SELECT COUNT(*) FROM information_schema.ENGINES WHERE ENGINE = 'ARCHIVE'").trim()).toBe('0');
    const file = await dumpToFile('arch');
    target.sql('SET GLOBAL innodb_force_primary_key = OFF');
    try {
      const report = await connector(target).restore('arch_copy', createReadStream(file), 'logical');
      expect(target.sql("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'arch_copy' ORDER BY 1").trim()).toBe('history\tInnoDB\nlog\tInnoDB');
      expect(target.sql('SELECT id, msg FROM history ORDER BY id', 'arch_copy').trim()).toBe('1\told\n2\tolder');
      expect(report.notes ?? []).toContain(
        `Tables of "arch_copy" use storage engines this server does not have, so it made them InnoDB tables (their rows are all there): \`history\` (ARCHIVE). To keep the original engine, load it on this server (INSTALL SONAME 'ha_archive';) and convert the tables back (ALTER TABLE \`history\` ENGINE=ARCHIVE;).`,
      );
    } finally {
      target.sql('SET GLOBAL innodb_force_primary_key = ON; DROP DATABASE IF EXISTS arch_copy');
    }
  });
});

describe('innodb_force_primary_key on the target', () => {
  test('a backup with a table without a primary key: RESTORE_FAILED naming the setting, the table and the fix; nothing left on the target', async () => {
    src.sql('CREATE DATABASE nopk');
    src.sql('CREATE TABLE keyed (id INT PRIMARY KEY); CREATE TABLE `Loose Rows` (v INT); INSERT INTO keyed VALUES (1); INSERT INTO `Loose Rows` VALUES (7);', 'nopk');
    const file = await dumpToFile('nopk');
    const before = databases(target);
    const e = await rejection(connector(target).restore('nopk_copy', createReadStream(file), 'logical'));
    expect(e.code).toBe('RESTORE_FAILED');
    expect(e.message).toContain(`Database "nopk_copy" cannot be restored on the MySQL/MariaDB server 127.0.0.1:${target.port}: it has innodb_force_primary_key=ON, and the backup has a table without a primary key (\`Loose Rows\`), which that server refuses to create. The new database was removed.`);
    expect(e.message).toContain('SET GLOBAL innodb_force_primary_key = OFF;');
    expect(databases(target)).toBe(before);
    // The fix works: with the setting off for the restore, every row comes back.
    target.sql('SET GLOBAL innodb_force_primary_key = OFF');
    try {
      await connector(target).restore('nopk_copy', createReadStream(file), 'logical');
      expect(target.sql('SELECT v FROM `Loose Rows`', 'nopk_copy').trim()).toBe('7');
    } finally {
      target.sql('SET GLOBAL innodb_force_primary_key = ON; DROP DATABASE IF EXISTS nopk_copy');
    }
  });
});
