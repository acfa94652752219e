/**
 * The PostgreSQL connector.
 *
 * - logical: one `pg_dump -Fc -Z0` archive per database (Backstop compresses later), plus
 *   the server-level `globals.sql` stream (`pg_dumpall --globals-only`: roles, tablespaces).
 * - snapshot: PostgreSQL cannot snapshot one database, so a snapshot is one cluster-wide
 *   server-level stream `base.tar` (`pg_basebackup -D - -Ft -X fetch`); its restore is
 *   `restoreBaseBackup` (snapshot.ts), not `restore`.
 * - restore (logical): CREATE DATABASE (DATABASE_EXISTS if taken) from template0, then
 *   pg_restore --exit-on-error into it; the new database is dropped if anything fails.
 *   Progress counts TOC entries (`pg_restore -l`) against `--verbose` lines.
 * See connector.ts for the shared contract.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { spawn } from 'node:child_process';
import type { BackupType } from '../../../shared/domain.ts';
import { BackstopError } from '../../../shared/result.ts';
import { childEnv, runTool, sinkTool, streamTool } from '../child-process.ts';
import type {
  BackupSupport,
  ConnectionReport,
  Connector,
  DumpStream,
  OperationOptions,
  RestoreOptions,
  RestoreReport,
  ServerStream,
  SkippedDatabase,
} from '../connector.ts';
import { ProgressReporter } from '../progress.ts';
import { compareVersions, toolVersion, type ToolSearch } from '../tools.ts';
import { checkPgDatabaseName, conninfoDbname, PgConnection, quoteIdent, type PostgresServer } from './connection.ts';

export const PG_GLOBALS_STREAM: ServerStream = { name: 'globals.sql', format: 'pg-globals-sql' };
export const PG_BASEBACKUP_STREAM: ServerStream = { name: 'base.tar', format: 'pg-basebackup-tar' };

interface ServerFacts {
  versionNum: number;
  version: string;
  superuser: boolean;
  replication: boolean;
  readAllData: boolean;
}

function hexToText(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

/** pg_restore --verbose lines that stand for one TOC entry being processed. */
const VERBOSE_ENTRY = /^pg_restore: (creating|processing|executing|restoring|setting|finished item|launching item)/;

export class PostgresConnector implements Connector {
  readonly kind = 'postgres' as const;
  private readonly conn: PgConnection;
  private facts: Promise<ServerFacts> | null = null;

  constructor(server: PostgresServer, password: string | null, search: ToolSearch) {
    this.conn = new PgConnection(server, password, search);
  }

  /** The connection helper (used by snapshot restore verification and tests). */
  get connection(): PgConnection {
    return this.conn;
  }

  support(type: BackupType): BackupSupport {
    return type === 'logical' ? { available: true, scope: 'database' } : { available: true, scope: 'server' };
  }

  private serverFacts(signal?: AbortSignal): Promise<ServerFacts> {
    if (!this.facts) {
      this.facts = this.conn
        .query(
          `SELECT current_setting('server_version_num'), current_setting('server_version'), r.rolsuper, r.rolreplication,
             CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_read_all_data')
                  THEN pg_has_role(current_user, 'pg_read_all_data', 'MEMBER') ELSE false END
           FROM pg_roles r WHERE r.rolname = current_user`,
          { signal, action: 'connecting', fallback: 'UNREACHABLE' },
        )
        .then((rows) => {
          const r = rows[0] ?? [];
          return {
            versionNum: Number(r[0]),
            version: r[1] ?? '?',
            superuser: r[2] === 't',
            replication: r[3] === 't' || r[2] === 't',
            readAllData: r[4] === 't',
          };
        });
      this.facts.catch(() => (this.facts = null));
    }
    return this.facts;
  }

  /** The databases' total size (what a base backup mostly is), or undefined when it cannot be asked: progress only. */
  private async clusterSizeEstimate(signal?: AbortSignal): Promise<number | undefined> {
    try {
      const rows = await this.conn.query(`SELECT sum(pg_database_size(oid)) FROM pg_database WHERE has_database_privilege(oid, 'CONNECT')`, { signal, action: 'estimating the cluster size' });
      const n = Number(rows[0]?.[0]);
      return Number.isFinite(n) && n > 0 ? n : undefined;
    } catch {
      return undefined;
    }
  }

  async testConnection(opts: OperationOptions = {}): Promise<ConnectionReport> {
    const psql = this.conn.tool('psql');
    const pgDump = this.conn.tool('pg_dump');
    const facts = await this.serverFacts(opts.signal);
    const serverMajor = facts.versionNum >= 100000 ? String(Math.floor(facts.versionNum / 10000)) : `${Math.floor(facts.versionNum / 10000)}.${Math.floor(facts.versionNum / 100) % 100}`;
    const dumpVersion = await toolVersion(pgDump);
    if (compareVersions(dumpVersion.major, serverMajor) < 0) {
      throw new BackstopError(
        'TOOL_TOO_OLD',
        `pg_dump ${dumpVersion.version} (${pgDump}) is older than the server (PostgreSQL ${facts.version}); pg_dump must be version ${serverMajor} or newer. Install newer client tools or set their folder in Settings.`,
      );
    }
    if (!facts.superuser && !facts.readAllData) {
      throw new BackstopError(
        'PERMISSION_DENIED',
        `User "${this.conn.server.user}" may not read every database on the ${this.conn.label}. Use a superuser, or GRANT pg_read_all_data TO "${this.conn.server.user}" (PostgreSQL 14+).`,
      );
    }
    const warnings: string[] = [];
    if (!facts.replication) warnings.push(`User "${this.conn.server.user}" has no REPLICATION privilege: snapshot (pg_basebackup) backups will fail.`);
    if (!facts.superuser) warnings.push('Not a superuser: role passwords are left out of the globals dump (pg_dumpall --no-role-passwords).');
    const tools = [
      { name: 'psql', path: psql, version: (await toolVersion(psql)).version },
      { name: 'pg_dump', path: pgDump, version: dumpVersion.version },
    ];
    return { serverVersion: `PostgreSQL ${facts.version}`, tools, warnings };
  }

  async listDatabases(opts: OperationOptions = {}): Promise<string[]> {
    const rows = await this.conn.query(
      `SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE NOT datistemplate AND datallowconn`,
      { signal: opts.signal, action: 'listing databases', fallback: 'UNREACHABLE' },
    );
    return rows.map((r) => hexToText(r[0] ?? '')).sort();
  }

  async skippedDatabases(opts: OperationOptions = {}): Promise<SkippedDatabase[]> {
    const rows = await this.conn.query(
      `SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE NOT datistemplate AND NOT datallowconn`,
      { signal: opts.signal, action: 'listing databases', fallback: 'UNREACHABLE' },
    );
    return rows
      .map((r) => hexToText(r[0] ?? ''))
      .sort()
      .map((database) => ({
        database,
        reason: `connections to database "${database}" are not allowed, so it was not backed up — run ALTER DATABASE ${quoteIdent(database)} ALLOW_CONNECTIONS true to back it up`,
      }));
  }

  async openDump(database: string, type: BackupType, opts: OperationOptions = {}): Promise<DumpStream> {
    if (type !== 'logical') {
      throw new BackstopError('VALIDATION', 'PostgreSQL snapshots cover the whole server: store the server-level "base.tar" stream instead of per-database dumps.');
    }
    checkPgDatabaseName(database);
    const cmd = this.conn.command('pg_dump', ['-Fc', '-Z0', ...this.conn.connArgs(), '-d', conninfoDbname(database)]);
    const { stream, done } = streamTool(cmd, {
      signal: opts.signal,
      classify: this.conn.classify(`dumping database "${database}"`, 'DUMP_FAILED'),
      refine: (e) => this.explainDumpFailure(database, e),
    });
    return { stream, done, handsOverBuffers: true, meta: { format: 'pg-custom' } };
  }

  /**
   * A dump whose session was cut looks the same whether the server went down or the
   * database was dropped (DROP DATABASE … WITH (FORCE)): ask the server which it was.
   */
  private async explainDumpFailure(database: string, e: BackstopError): Promise<BackstopError> {
    if (e.code !== 'UNREACHABLE' && e.code !== 'DUMP_FAILED') return e;
    const rows = await this.conn.query(`SELECT count(*) FROM pg_database WHERE encode(convert_to(datname, 'UTF8'), 'hex') = '${Buffer.from(database, 'utf8').toString('hex')}'`, {
      action: 'checking the database after a failed dump',
      fallback: 'UNREACHABLE',
    });
    if (rows[0]?.[0] === '0') {
      return new BackstopError('DATABASE_NOT_FOUND', `Database "${database}" was dropped while it was being backed up; the partial dump was discarded.`, { cause: e });
    }
    return e.code === 'UNREACHABLE' ? new BackstopError('DUMP_FAILED', `The server ended the dump session of database "${database}" although it is still running. ${e.message}`, { cause: e }) : e;
  }

  serverStreams(type: BackupType): ServerStream[] {
    return type === 'logical' ? [PG_GLOBALS_STREAM] : [PG_BASEBACKUP_STREAM];
  }

  async openServerDump(name: string, opts: OperationOptions = {}): Promise<DumpStream> {
    if (name === PG_GLOBALS_STREAM.name) {
      const facts = await this.serverFacts(opts.signal);
      const args = ['--globals-only', ...(facts.superuser ? [] : ['--no-role-passwords']), ...this.conn.connArgs()];
      const { stream, done } = streamTool(this.conn.command('pg_dumpall', args), {
        signal: opts.signal,
        classify: this.conn.classify('dumping roles and tablespaces (pg_dumpall --globals-only)', 'DUMP_FAILED'),
      });
      return { stream, done, handsOverBuffers: true, meta: { format: PG_GLOBALS_STREAM.format } };
    }
    if (name === PG_BASEBACKUP_STREAM.name) {
      const expectedBytes = await this.clusterSizeEstimate(opts.signal);
      const args = ['-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', ...this.conn.connArgs()];
      const { stream, done } = streamTool(this.conn.command('pg_basebackup', args), {
        signal: opts.signal,
        classify: this.conn.classify('taking a base backup (pg_basebackup)', 'DUMP_FAILED'),
      });
      return { stream, done, handsOverBuffers: true, meta: { format: PG_BASEBACKUP_STREAM.format, ...(expectedBytes ? { expectedBytes } : {}) } };
    }
    throw new BackstopError('VALIDATION', `Unknown PostgreSQL server-level stream "${name}".`);
  }

  async restore(database: string, source: Readable, type: BackupType, opts: RestoreOptions = {}): Promise<RestoreReport> {
    try {
      return await this.restoreDatabase(database, source, type, opts);
    } catch (e) {
      source.destroy(); // the restore owns the source: an unread dump must not keep a child alive
      throw e;
    }
  }

  private async restoreDatabase(database: string, source: Readable, type: BackupType, opts: RestoreOptions): Promise<RestoreReport> {
    if (type !== 'logical') {
      throw new BackstopError('VALIDATION', 'A PostgreSQL snapshot restores into a new data directory (restoreBaseBackup), not into a database.');
    }
    checkPgDatabaseName(database);
    const jobs = Math.max(1, Math.floor(opts.jobs ?? 1));
    await this.conn.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE template0`, {
      signal: opts.signal,
      action: `creating database "${database}"`,
      fallback: 'RESTORE_FAILED',
    });
    try {
      await this.pgRestore(database, source, jobs, opts);
      return { database };
    } catch (e) {
      if ((await this.dropQuietly(database)) || !(e instanceof BackstopError)) throw e;
      throw new BackstopError(e.code, `${e.message} The half-restored database "${database}" could not be removed; drop it by hand.`, { cause: e });
    }
  }

  private async pgRestore(database: string, source: Readable, jobs: number, opts: RestoreOptions): Promise<void> {
    const progress = new ProgressReporter('entries', null, opts.onProgress);
    const args = ['--exit-on-error', '--verbose', ...(opts.noOwner ? ['--no-owner'] : []), ...this.conn.connArgs(), '-d', conninfoDbname(database)];
    const classify = this.conn.classify(`restoring into database "${database}"`, 'RESTORE_FAILED');
    let seen = 0;
    let partial = '';
    const onStderr = (text: string): void => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (VERBOSE_ENTRY.test(l)) progress.report(++seen);
    };
    if (jobs > 1) {
      // Parallel pg_restore needs a seekable file: spool the stream first.
      const dir = await mkdtemp(join(opts.tempDir ?? tmpdir(), 'backstop-pgrestore-'));
      try {
        const file = join(dir, 'archive.dump');
        await pipeline(source, createWriteStream(file, { flags: 'wx', mode: 0o600 }), { signal: opts.signal });
        progress.setTotal(await this.tocEntries(file, opts.signal));
        await sinkTool(this.conn.command('pg_restore', [...args, '-j', String(jobs), file]), emptyStream(), { classify, signal: opts.signal, onStderr });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } else {
      // Stream straight into pg_restore; a second pg_restore -l reads the TOC at the head of the same bytes.
      const lister = this.startLister((n) => progress.setTotal(n));
      const tee = new PassThrough();
      tee.on('data', (chunk: Buffer) => lister.write(chunk));
      tee.on('end', () => lister.end());
      tee.on('error', () => lister.end());
      source.on('error', (e) => tee.destroy(e));
      source.pipe(tee);
      try {
        await sinkTool(this.conn.command('pg_restore', args), tee, { classify, signal: opts.signal, onStderr });
      } finally {
        lister.stop();
      }
    }
    progress.finish();
  }

  /** pg_restore -l on stdin: calls back with the TOC entry count; never fails the restore. */
  private startLister(onTotal: (n: number) => void): { write(b: Buffer): void; end(): void; stop(): void } {
    let alive = true;
    let out = '';
    const child = spawn(this.conn.tool('pg_restore'), ['-l'], { stdio: ['pipe', 'pipe', 'ignore'], env: childEnv(), windowsHide: true });
    child.on('error', () => (alive = false));
    child.stdin.on('error', () => (alive = false));
    child.stdin.on('close', () => (alive = false));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('close', (code) => {
      alive = false;
      if (code === 0) onTotal(countToc(out));
    });
    return {
      write: (b) => {
        if (alive) child.stdin.write(b);
      },
      end: () => {
        if (alive) child.stdin.end();
      },
      stop: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  }

  private async tocEntries(file: string, signal?: AbortSignal): Promise<number | null> {
    try {
      const out = await runTool(this.conn.command('pg_restore', ['-l', file]), {
        signal,
        classify: this.conn.classify('reading the archive table of contents', 'RESTORE_FAILED'),
      });
      return countToc(out);
    } catch {
      return null;
    }
  }

  /** Drops a half-restored database; never throws (the original error matters more). */
  private async dropQuietly(database: string): Promise<boolean> {
    try {
      const facts = await this.serverFacts();
      const force = facts.versionNum >= 130000 ? ' WITH (FORCE)' : '';
      await this.conn.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}${force}`, { action: `dropping the half-restored database "${database}"` });
      return true;
    } catch {
      return false;
    }
  }
}

function countToc(list: string): number {
  return list.split('\n').filter((l) => l.trim().length > 0 && !l.startsWith(';')).length;
}

function emptyStream(): Readable {
  const s = new PassThrough();
  s.end();
  return s;
}
