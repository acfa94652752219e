/**
 * pgBackRest as a peer of the PostgreSQL snapshot task (issue #19's "pgBackRest and Barman
 * are Debian packages: add whichever can run here as a peer row"), for `--only wal`.
 *
 * pgBackRest 2.45 (Debian 12) on the bench's own cluster, as its docs set it up for a local
 * repository: one stanza, repository on local disk, `compress-type=zst` level 3 (Backstop's
 * level), no encryption (the WAL bench stores unencrypted too), run as the cluster's OS user.
 * Its WAL path is `archive_command = pgbackrest archive-push %p`, one call per completed
 * segment: to leave the server Backstop measures untouched (no archive_mode, no restart), the
 * bench calls archive-push itself on exactly the segments the change wrote, as the archiver
 * would. Measured:
 * - `backup --type=full` (its base backup; `archive-check=n`, since nothing archives here);
 * - after the bench's 1% scattered UPDATE: archive-push of the change's segments (pgBackRest's
 *   cost of "what changed" for point-in-time recovery), and `backup --type=incr` (its file-level
 *   incremental: every data file that changed is copied whole).
 *
 * Contract: `pgbackrestPeer(work, pg, sh)` returns null when `pgbackrest` is not installed
 * (the caller notes how to install it); otherwise `{ full(), walPush(fromLsn, toLsn), incr() }`,
 * each resolving to seconds and bytes. Nothing is asserted; a failing command throws with its output.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chownTree } from '../../tests/fixtures/servers/common.ts';
import type { PgServer } from '../../tests/fixtures/servers/postgres.ts';

export interface PeerTiming {
  seconds: number;
  /** Bytes the repository grew by. */
  stored: number;
}

export interface PgbackrestPeer {
  version: string;
  full(): Promise<PeerTiming>;
  /** archive-push of every WAL segment from the one holding `fromLsn` to the one holding `toLsn`. */
  walPush(fromLsn: string, toLsn: string): Promise<PeerTiming & { segments: number }>;
  incr(): Promise<PeerTiming>;
}

const STANZA = 'bench';

function installed(): string | null {
  try {
    return execFileSync('pgbackrest', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function treeBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? treeBytes(p) : statSync(p).size;
  }
  return n;
}

export function pgbackrestPeer(work: string, pg: PgServer, sh: (cmd: string) => Promise<{ seconds: number; stdout: string }>): PgbackrestPeer | null {
  const version = installed();
  if (!version) return null;
  const dir = join(work, 'pgbackrest');
  const repo = join(dir, 'repo');
  for (const d of ['repo', 'log', 'lock', 'spool']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'pgbackrest.conf');
  writeFileSync(
    conf,
    [
      '[global]',
      `repo1-path=${repo}`,
      `log-path=${join(dir, 'log')}`,
      `lock-path=${join(dir, 'lock')}`,
      `spool-path=${join(dir, 'spool')}`,
      'compress-type=zst',
      'compress-level=3',
      'start-fast=y',
      'archive-check=n',
      'log-level-console=warn',
      'log-level-file=off',
      '',
      `[${STANZA}]`,
      `pg1-path=${pg.dataDir}`,
      `pg1-port=${pg.port}`,
      `pg1-socket-path=${pg.socketDir}`,
      'pg1-user=postgres',
      '',
    ].join('\n'),
  );
  if (pg.osUser) chownTree(dir, pg.osUser);
  // As the cluster's OS user (it reads the data files), from a folder that user may enter.
  const run = (args: string) => sh(`cd /tmp && ${pg.osUser ? 'runuser -u postgres -- ' : ''}pgbackrest --config='${conf}' --stanza=${STANZA} ${args}`);
  let created = false;
  const ensureStanza = async () => {
    if (created) return;
    await run('stanza-create');
    created = true;
  };
  const timed = async (args: string): Promise<PeerTiming> => {
    const before = treeBytes(repo);
    const r = await run(args);
    return { seconds: r.seconds, stored: treeBytes(repo) - before };
  };
  return {
    version,
    async full() {
      await ensureStanza();
      return timed('backup --type=full');
    },
    async walPush(fromLsn, toLsn) {
      await ensureStanza();
      const first = pg.psql(`SELECT pg_walfile_name('${fromLsn}')`).trim();
      const last = pg.psql(`SELECT pg_walfile_name('${toLsn}')`).trim();
      const segments = readdirSync(join(pg.dataDir, 'pg_wal'))
        .filter((f) => /^[0-9A-F]{24}$/.test(f) && f >= first && f <= last)
        .sort();
      const before = treeBytes(repo);
      let seconds = 0;
      for (const s of segments) seconds += (await run(`archive-push '${join(pg.dataDir, 'pg_wal', s)}'`)).seconds;
      return { seconds, stored: treeBytes(repo) - before, segments: segments.length };
    },
    async incr() {
      await ensureStanza();
      return timed('backup --type=incr');
    },
  };
}
