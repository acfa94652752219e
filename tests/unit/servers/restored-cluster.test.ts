/**
 * The next steps of a restored cluster snapshot, read from the data directory's own files:
 * configuration that points at the source's folders or archives WAL is named, missing
 * configuration is written (and only when missing), and the start command is complete.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { completeConfiguration, holdsSubscriptions, restoredClusterNotes } from '../../../electron/engine/servers/postgres/restored-cluster.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function dataDir(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'backstop-restored-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('restored cluster', () => {
  it('writes only the configuration files the backup lacks', () => {
    const d = dataDir({ PG_VERSION: '15\n', 'pg_hba.conf': 'local all all trust\n' });
    expect(completeConfiguration(d)).toEqual(['postgresql.conf', 'pg_ident.conf']);
    expect(readFileSync(join(d, 'pg_hba.conf'), 'utf8')).toBe('local all all trust\n');
    expect(readFileSync(join(d, 'postgresql.conf'), 'utf8')).toContain("listen_addresses = 'localhost'");
    expect(completeConfiguration(d)).toEqual([]);
  });

  it("names settings that point at the source's folders or archive WAL, and gives a complete start command", async () => {
    const d = dataDir({
      PG_VERSION: '15\n',
      'postgresql.conf': "port = 5432\ndata_directory = '/var/lib/postgresql/15/main'   # set by the packager\n#hba_file = '/etc/x'\ninclude_dir = 'conf.d'\n",
      'postgresql.auto.conf': "archive_mode = 'on'\narchive_command = 'cp %p /archive/%f'\n",
    });
    const notes = await restoredClusterNotes({ dataDir: d, owner: { user: null, why: null }, wroteConfig: [], verified: true });
    const all = notes.join('\n');
    expect(notes[0]).toBe(`Restored a PostgreSQL 15 cluster (PG_VERSION 15) into ${d}; pg_verifybackup checked every file. It is a new, stopped cluster with the source's databases, roles and passwords.`);
    expect(all).toContain(`postgresql.conf came from the source and sets data_directory = '/var/lib/postgresql/15/main', a path of the source server: comment it out in ${join(d, 'postgresql.conf')} before starting`);
    expect(all).not.toContain('hba_file');
    expect(all).toContain("includes 'conf.d' (include_dir)");
    expect(all).toContain('set archive_mode = off in the restored cluster before starting');
    expect(all).toContain("(the source's postgresql.conf says port = 5432)");
    const start = notes.find((n) => n.startsWith('Start it: '));
    expect(start).toMatch(new RegExp(`pg_ctl -D ${d} -o "-p (\\d+) -k /tmp" -l ${d}/startup.log start$`));
    expect(Number(/-p (\d+)/.exec(start!)![1])).toBeGreaterThan(5432);
  });

  it('a cluster whose pg_subscription has pages (found through global/pg_filenode.map) is told to start without replication workers', async () => {
    const d = dataDir({ PG_VERSION: '15\n' });
    mkdirSync(join(d, 'global'));
    // magic, 2 mappings: pg_authid 1260 -> 1260, pg_subscription 6100 -> 7001 (moved by a VACUUM FULL).
    const map = Buffer.alloc(512);
    [0x592717, 2, 1260, 1260, 6100, 7001].forEach((v, i) => map.writeUInt32LE(v, 4 * i));
    writeFileSync(join(d, 'global', 'pg_filenode.map'), map);
    writeFileSync(join(d, 'global', '6100'), Buffer.alloc(8192));
    writeFileSync(join(d, 'global', '7001'), '');
    expect(holdsSubscriptions(d)).toBe(false);
    const quiet = await restoredClusterNotes({ dataDir: d, owner: { user: null, why: null }, wroteConfig: [], verified: true });
    expect(quiet.join('\n')).not.toContain('subscription');
    writeFileSync(join(d, 'global', '7001'), Buffer.alloc(8192));
    expect(holdsSubscriptions(d)).toBe(true);
    const notes = await restoredClusterNotes({ dataDir: d, owner: { user: null, why: null }, wroteConfig: [], verified: true });
    expect(notes).toContain(
      "The cluster holds logical replication subscriptions (its pg_subscription catalog is not empty). Started as it is, each enabled one connects to its publisher with the source's replication slot and takes the changes meant for the source: unless this cluster replaces the source, add max_logical_replication_workers = 0 to its postgresql.conf before starting, then in each database with one run ALTER SUBSCRIPTION … DISABLE; ALTER SUBSCRIPTION … SET (slot_name = NONE); (DROP SUBSCRIPTION then leaves the publisher alone) and remove that setting.",
    );
    // No map: the catalog's own file.
    rmSync(join(d, 'global', 'pg_filenode.map'));
    expect(holdsSubscriptions(d)).toBe(true);
  });
});
