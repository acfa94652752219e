/**
 * Finding database client tools (pg_dump, mariadb-dump, …) and their versions.
 *
 * Contract: a tool is looked up in this order — the explicit folder from Settings, the
 * folders on PATH, then the usual install locations of the OS (versioned folders newest
 * first). `findTool` throws TOOL_MISSING naming the tool and the folders searched.
 * `toolVersion` runs `<tool> --version` once per path (cached) and parses it; a job worker
 * takes the versions its run already read (`knownToolVersions` → `seedToolVersions`). The pure
 * parts (`candidateDirs`, `parseToolVersion`, `compareVersions`) take the platform, env
 * and directory listing as inputs so they are unit-testable on any OS.
 */
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { posix, win32 } from 'node:path';
import { BackstopError } from '../../shared/result.ts';
import { runTool, stderrDetail } from './child-process.ts';

export type ToolFamily = 'postgres' | 'mysql';

export interface ToolSearch {
  /** Explicit folder from Settings, searched first. */
  binDir?: string | null;
  platform?: NodeJS.Platform;
  /** PATH value (defaults to process.env.PATH / Path). */
  pathEnv?: string;
  /** Lists a directory's entry names; [] when it does not exist. */
  listDir?: (dir: string) => string[];
  /** Whether a file exists and can be executed. */
  isExecutable?: (file: string) => boolean;
}

function defaultListDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function defaultIsExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Numeric, dotted-version-aware comparison ("15" > "9.6", "10.11.6" > "10.5"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.match(/\d+/g)?.map(Number) ?? [];
  const pb = b.match(/\d+/g)?.map(Number) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** Expands one `*` in the last-but-n segment of `pattern`, newest version first. */
function expand(pattern: string, path: typeof posix, listDir: (d: string) => string[]): string[] {
  const star = pattern.indexOf('*');
  if (star < 0) return [pattern];
  const slash = Math.max(pattern.lastIndexOf('/', star), pattern.lastIndexOf('\\', star));
  const parent = pattern.slice(0, slash);
  const rest = pattern.slice(slash + 1);
  const nextSep = rest.search(/[\\/]/);
  const segment = nextSep < 0 ? rest : rest.slice(0, nextSep);
  const tail = nextSep < 0 ? '' : rest.slice(nextSep + 1);
  const [before = '', after = ''] = segment.split('*');
  const matches = listDir(parent)
    .filter((n) => n.startsWith(before) && n.endsWith(after) && n.length >= before.length + after.length)
    .sort((x, y) => compareVersions(y.slice(before.length), x.slice(before.length)));
  return matches.map((m) => (tail ? path.join(parent, m, tail) : path.join(parent, m)));
}

const USUAL: Record<ToolFamily, Partial<Record<NodeJS.Platform, string[]>> & { default: string[] }> = {
  postgres: {
    linux: ['/usr/lib/postgresql/*/bin', '/usr/pgsql-*/bin', '/usr/local/pgsql/bin', '/usr/local/bin', '/usr/bin'],
    darwin: [
      '/opt/homebrew/opt/postgresql@*/bin',
      '/opt/homebrew/opt/libpq/bin',
      '/usr/local/opt/postgresql@*/bin',
      '/usr/local/opt/libpq/bin',
      '/Applications/Postgres.app/Contents/Versions/latest/bin',
      '/Applications/Postgres.app/Contents/Versions/*/bin',
      '/opt/homebrew/bin',
      '/usr/local/pgsql/bin',
      '/usr/local/bin',
    ],
    win32: ['C:\\Program Files\\PostgreSQL\\*\\bin', 'C:\\Program Files (x86)\\PostgreSQL\\*\\bin'],
    default: ['/usr/local/pgsql/bin', '/usr/local/bin', '/usr/bin'],
  },
  mysql: {
    linux: ['/usr/bin', '/usr/local/mysql/bin', '/usr/local/bin'],
    darwin: [
      '/opt/homebrew/opt/mysql-client/bin',
      '/opt/homebrew/opt/mariadb/bin',
      '/opt/homebrew/opt/mysql/bin',
      '/usr/local/opt/mysql-client/bin',
      '/opt/homebrew/bin',
      '/usr/local/mysql/bin',
      '/usr/local/bin',
    ],
    win32: ['C:\\Program Files\\MariaDB *\\bin', 'C:\\Program Files\\MySQL\\MySQL Server *\\bin'],
    default: ['/usr/local/mysql/bin', '/usr/local/bin', '/usr/bin'],
  },
};

/** The folders searched for a family's tools, in order, without duplicates. */
export function candidateDirs(family: ToolFamily, search: ToolSearch = {}): string[] {
  const platform = search.platform ?? process.platform;
  const path = platform === 'win32' ? win32 : posix;
  const listDir = search.listDir ?? defaultListDir;
  const pathEnv = search.pathEnv ?? process.env.PATH ?? process.env.Path ?? '';
  const dirs: string[] = [];
  if (search.binDir) dirs.push(search.binDir);
  dirs.push(...pathEnv.split(platform === 'win32' ? ';' : ':').filter((d) => d.length > 0));
  for (const pattern of USUAL[family][platform] ?? USUAL[family].default) dirs.push(...expand(pattern, path, listDir));
  return [...new Set(dirs)];
}

/**
 * The absolute path of the first of `names` found (folder order first, then name order
 * within a folder: e.g. ['mariadb-dump', 'mysqldump']).
 */
export function findTool(names: string[], family: ToolFamily, search: ToolSearch = {}): string {
  const platform = search.platform ?? process.platform;
  const path = platform === 'win32' ? win32 : posix;
  const isExecutable = search.isExecutable ?? defaultIsExecutable;
  const dirs = candidateDirs(family, search);
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.join(dir, platform === 'win32' ? `${name}.exe` : name);
      if (isExecutable(file)) return file;
    }
  }
  const where = search.binDir ? `the folder set in Settings (${search.binDir}), PATH and the usual install locations` : 'PATH and the usual install locations';
  throw new BackstopError('TOOL_MISSING', `${names.join(' or ')} was not found in ${where}. ${installHint(family)}`);
}

/** What to do when a family's client tools are missing or cannot run. */
export function installHint(family: ToolFamily): string {
  return `Install the ${family === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'} client tools or set their folder in Settings.`;
}

function familyOf(path: string): ToolFamily {
  return /(^|[\\/])(pg_\w+|psql)(\.exe)?$/i.test(path) ? 'postgres' : 'mysql';
}

export interface ParsedToolVersion {
  /** e.g. "15.14", "10.11.6". */
  version: string;
  /** PostgreSQL: major ("15", "9.6"); MySQL: major.minor ("10.11", "8.0"). */
  major: string;
  flavor: 'postgresql' | 'mariadb' | 'mysql';
}

/** Parses `--version` output of pg_dump/psql/pg_restore/mysqldump/mariadb-dump/mysql/mariadb. */
export function parseToolVersion(output: string): ParsedToolVersion | null {
  const pg = /\(PostgreSQL\)\s+(\d+(?:\.\d+)*)/.exec(output);
  if (pg?.[1]) {
    const parts = pg[1].split('.');
    const major = Number(parts[0]) >= 10 ? (parts[0] ?? '') : parts.slice(0, 2).join('.');
    return { version: pg[1], major, flavor: 'postgresql' };
  }
  const maria = /(?:Distrib|from)\s+(\d+\.\d+(?:\.\d+)?)-MariaDB/i.exec(output);
  if (maria?.[1]) return { version: maria[1], major: maria[1].split('.').slice(0, 2).join('.'), flavor: 'mariadb' };
  const mysql = /Ver\s+(\d+\.\d+(?:\.\d+)?)(?!.*Distrib)/.exec(output);
  const distrib = /Distrib\s+(\d+\.\d+(?:\.\d+)?)/.exec(output);
  const v = distrib?.[1] ?? mysql?.[1];
  if (v) return { version: v, major: v.split('.').slice(0, 2).join('.'), flavor: 'mysql' };
  return null;
}

const versionCache = new Map<string, Promise<ParsedToolVersion>>();
/** The versions read so far in this thread (path → parsed), for job workers (`knownToolVersions`). */
const versionsRead = new Map<string, ParsedToolVersion>();

export function toolVersion(path: string): Promise<ParsedToolVersion> {
  let cached = versionCache.get(path);
  if (!cached) {
    cached = runTool(
      { path, args: ['--version'] },
      {
        classify: (f) => {
          const detail = stderrDetail(f.stderr);
          return new BackstopError('TOOL_MISSING', `${path} cannot run: "--version" failed (exit code ${f.code ?? 'none'})${detail ? `: ${detail}` : ''}. ${installHint(familyOf(path))}`);
        },
      },
    ).then((out) => {
      const parsed = parseToolVersion(out);
      if (!parsed) throw new BackstopError('TOOL_MISSING', `Could not read the version of ${path} from "${out.trim().slice(0, 200)}". ${installHint(familyOf(path))}`);
      versionsRead.set(path, parsed);
      return parsed;
    });
    cached.catch(() => versionCache.delete(path));
    versionCache.set(path, cached);
  }
  return cached;
}

/** The tool versions this thread has read (path → parsed), for a job spec: a job worker then runs no `--version` of its own. */
export function knownToolVersions(): Record<string, ParsedToolVersion> {
  return Object.fromEntries(versionsRead);
}

/** Takes versions another thread read (`knownToolVersions`), for paths this one has not asked about yet. */
export function seedToolVersions(known: Record<string, ParsedToolVersion>): void {
  for (const [path, parsed] of Object.entries(known)) {
    if (versionCache.has(path)) continue;
    versionCache.set(path, Promise.resolve(parsed));
    versionsRead.set(path, parsed);
  }
}
