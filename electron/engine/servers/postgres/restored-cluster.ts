/**
 * A restored PostgreSQL cluster snapshot (a data directory extracted from `base.tar`):
 * make it startable and say exactly how to start it.
 *
 * Contract:
 * - `completeConfiguration(dataDir)` writes the configuration files a data directory needs
 *   to start but the backup lacks — on Debian/Ubuntu the source's postgresql.conf,
 *   pg_hba.conf and pg_ident.conf live in /etc/postgresql/<major>/<cluster>, so a base
 *   backup holds none. It never changes a file that came with the backup; it returns
 *   what it wrote. Call it after pg_verifybackup (extra files would fail the manifest check).
 * - `clusterOwner(requested)` decides whose the folder becomes: as root, the named OS user
 *   (default `postgres`); VALIDATION when a user named explicitly does not exist. Not as
 *   root, nobody (the files stay the restoring user's) and the notes say so.
 * - `restoredClusterNotes` returns the next steps, in order: what was restored (major
 *   version), who owns it, what the configuration says that matters (paths pointing at the
 *   source's folders, archiving, subscriptions that would take the source's replication
 *   slots, the port), the server binary, and a start command that
 *   works as printed ("Start it: …"), plus how to connect and stop. It never throws: what
 *   it cannot find it says.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { BackstopError } from '../../../shared/result.ts';
import type { ToolPaths } from '../connector.ts';
import { candidateDirs, findTool, toolVersion } from '../tools.ts';
import { shellQuote } from '../shell-quote.ts';
import { currentOsUserName, lookUpOsUser, runningAsRoot, unreachableParent, type OsUser } from './server-os-user.ts';

/** Where restored clusters are told to put their Unix socket (writable by every user). */
const SOCKET_DIR = '/tmp';

const MINIMAL_CONF = `# Written by Backstop when this cluster was restored: the backup held no postgresql.conf
# (the source kept its configuration outside its data directory, as Debian and Ubuntu do in
# /etc/postgresql/<major>/<cluster>). Copy the settings you need from the source server's
# configuration; until then PostgreSQL's defaults apply.
listen_addresses = 'localhost'
`;

const MINIMAL_HBA = `# Written by Backstop when this cluster was restored: the backup held no pg_hba.conf.
# Local connections: the OS user of the same name; TCP from this machine: the role's password.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  peer
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
`;

const MINIMAL_IDENT = `# Written by Backstop when this cluster was restored: the backup held no pg_ident.conf.
`;

export function completeConfiguration(dataDir: string): string[] {
  const wrote: string[] = [];
  for (const [name, text] of [
    ['postgresql.conf', MINIMAL_CONF],
    ['pg_hba.conf', MINIMAL_HBA],
    ['pg_ident.conf', MINIMAL_IDENT],
  ] as const) {
    const file = join(dataDir, name);
    if (existsSync(file)) continue;
    writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    wrote.push(name);
  }
  return wrote;
}

export interface ClusterOwner {
  /** The user the folder was given to; null when Backstop could not chown (not root, or no such user). */
  user: OsUser | null;
  /** Why there is no user, for the notes. */
  why: string | null;
}

export function clusterOwner(requested: string | null | undefined): ClusterOwner {
  const name = requested ?? 'postgres';
  const user = lookUpOsUser(name);
  if (requested && !user) {
    throw new BackstopError('VALIDATION', `There is no OS user "${requested}" on this machine to own the restored data directory; give an existing user with --os-user (the one your PostgreSQL server runs as).`);
  }
  if (!runningAsRoot()) {
    const me = currentOsUserName();
    if (user && requested && requested !== me) {
      return { user: null, why: `Backstop is not running as root, so it could not give the data directory to "${requested}": it belongs to ${me}. Run as root: chown -R ${requested}: <folder>, or start the server as ${me}.` };
    }
    return { user: null, why: null };
  }
  if (!user) {
    return { user: null, why: 'There is no "postgres" OS user on this machine, so the data directory still belongs to root, and PostgreSQL refuses to run as root: chown -R <the server\'s OS user>: <folder> (or restore with --os-user NAME).' };
  }
  return { user, why: null };
}

interface Setting {
  file: string;
  name: string;
  value: string;
}

/** The settings of postgresql.conf and postgresql.auto.conf (later lines win, auto.conf last), include directives too. */
function readSettings(dataDir: string): Setting[] {
  const out: Setting[] = [];
  for (const file of ['postgresql.conf', 'postgresql.auto.conf']) {
    let text: string;
    try {
      text = readFileSync(join(dataDir, file), 'utf8');
    } catch {
      continue;
    }
    for (const raw of text.split('\n')) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=\s*|\s+)('(?:[^'\\]|\\.|'')*'|[^#\s]*)/.exec(raw);
      if (!m) continue;
      const value = (m[2] ?? '').startsWith("'") ? (m[2] ?? '').slice(1, -1).replace(/''/g, "'") : (m[2] ?? '');
      out.push({ file, name: (m[1] ?? '').toLowerCase(), value });
    }
  }
  return out;
}

function last(settings: Setting[], name: string): Setting | undefined {
  return settings.filter((s) => s.name === name).at(-1);
}

async function portLooksFree(port: number): Promise<boolean> {
  if (existsSync(join(SOCKET_DIR, `.s.PGSQL.${port}`))) return false;
  for (const host of ['127.0.0.1', '0.0.0.0']) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, host, () => srv.close(() => resolve(true)));
    });
    if (!free) return false;
  }
  return true;
}

async function suggestPort(sourcePort: number): Promise<number> {
  for (let p = Math.max(5433, sourcePort + 1); p < Math.max(5433, sourcePort + 1) + 100; p++) if (await portLooksFree(p)) return p;
  return 5433;
}

/** The pg_ctl of the wanted major version: the Settings folder first, then PATH and the usual folders. */
async function findPgCtl(major: string, toolPaths: ToolPaths | undefined): Promise<string | null> {
  for (const dir of candidateDirs('postgres', { binDir: toolPaths?.postgres ?? null })) {
    const file = join(dir, 'pg_ctl');
    if (!existsSync(file) || !existsSync(join(dir, 'postgres'))) continue;
    try {
      if ((await toolVersion(file)).major === major) return file;
    } catch {
      /* not runnable: try the next folder */
    }
  }
  return null;
}

/** pg_subscription (a shared, mapped catalog): its oid, and where global/pg_filenode.map's entries start. */
const PG_SUBSCRIPTION = 6100;
const RELMAPPER_MAGIC = 0x592717;

/**
 * Whether the data directory's pg_subscription has any page (read offline: its file in
 * global/, named by global/pg_filenode.map). A catalog that never held a row is empty;
 * one whose subscriptions were all dropped may keep its page until a VACUUM, so this errs
 * towards saying so.
 */
export function holdsSubscriptions(dataDir: string): boolean {
  let filenode = PG_SUBSCRIPTION;
  try {
    const map = readFileSync(join(dataDir, 'global', 'pg_filenode.map'));
    if (map.readInt32LE(0) === RELMAPPER_MAGIC) {
      const n = map.readInt32LE(4);
      for (let i = 0; i < n && 8 + 8 * i + 8 <= map.length; i++) {
        if (map.readUInt32LE(8 + 8 * i) === PG_SUBSCRIPTION) filenode = map.readUInt32LE(12 + 8 * i);
      }
    }
  } catch {
    /* no map: the catalog's own oid */
  }
  try {
    return statSync(join(dataDir, 'global', String(filenode))).size > 0;
  } catch {
    return false;
  }
}

export interface ClusterNotesInput {
  dataDir: string;
  owner: ClusterOwner;
  /** Configuration files Backstop wrote because the backup had none. */
  wroteConfig: string[];
  verified: boolean;
  toolPaths?: ToolPaths;
}

export async function restoredClusterNotes(input: ClusterNotesInput): Promise<string[]> {
  const { dataDir, owner } = input;
  const notes: string[] = [];
  let major = '?';
  try {
    major = readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim();
  } catch {
    /* said below */
  }
  notes.push(`Restored a PostgreSQL ${major} cluster (PG_VERSION ${major}) into ${dataDir}${input.verified ? '; pg_verifybackup checked every file' : ''}. It is a new, stopped cluster with the source's databases, roles and passwords.`);
  if (owner.user) notes.push(`The data directory belongs to the OS user "${owner.user.name}" and has mode 0700.`);
  else notes.push(`The data directory has mode 0700 and belongs to ${runningAsRoot() ? 'root' : currentOsUserName()}.`);
  if (owner.why) notes.push(owner.why.replace('<folder>', shellQuote(dataDir)));
  if (owner.user) {
    const blocked = unreachableParent(dataDir, owner.user);
    if (blocked) notes.push(`The OS user "${owner.user.name}" cannot enter ${blocked}, so the server cannot reach the data directory: move it, or allow that user into the folder (chmod o+x ${shellQuote(blocked)}).`);
  }
  if (input.wroteConfig.length > 0) {
    notes.push(
      `The backup held no ${input.wroteConfig.join(', ')} (the source kept its configuration outside its data directory, as Debian does in /etc/postgresql/${major}/main), so Backstop wrote minimal ones: local connections by peer, TCP from this machine by password. Copy the settings you need from the source's configuration.`,
    );
  }
  const settings = readSettings(dataDir);
  for (const name of ['data_directory', 'hba_file', 'ident_file', 'external_pid_file']) {
    const s = last(settings, name);
    if (s && s.value !== '') notes.push(`${s.file} came from the source and sets ${name} = '${s.value}', a path of the source server: comment it out in ${join(dataDir, s.file)} before starting, or the new server would use that file or folder.`);
  }
  for (const s of settings.filter((x) => x.name === 'include' || x.name === 'include_dir' || x.name === 'include_if_exists')) {
    notes.push(`${s.file} came from the source and includes '${s.value}' (${s.name}): make sure that exists here and does not point at the source's folders.`);
  }
  const archiveMode = last(settings, 'archive_mode');
  if (archiveMode && /^(on|always|true|yes|1)$/i.test(archiveMode.value)) {
    notes.push(`The source archives WAL (archive_mode = ${archiveMode.value} in ${archiveMode.file}): set archive_mode = off in the restored cluster before starting, or it would send its WAL to the source's archive.`);
  }
  if (holdsSubscriptions(dataDir)) {
    notes.push(
      `The cluster holds logical replication subscriptions (its pg_subscription catalog is not empty). Started as it is, each enabled one connects to its publisher with the source's replication slot and takes the changes meant for the source: unless this cluster replaces the source, add max_logical_replication_workers = 0 to its postgresql.conf before starting, then in each database with one run ALTER SUBSCRIPTION … DISABLE; ALTER SUBSCRIPTION … SET (slot_name = NONE); (DROP SUBSCRIPTION then leaves the publisher alone) and remove that setting.`,
    );
  }
  const conninfo = last(settings, 'primary_conninfo');
  if (conninfo && conninfo.value !== '') notes.push(`${conninfo.file} sets primary_conninfo (the source was a standby): the restored cluster starts as a primary unless you add standby.signal.`);
  const portSetting = last(settings, 'port');
  const sourcePort = portSetting && /^\d+$/.test(portSetting.value) ? Number(portSetting.value) : 5432;
  const port = await suggestPort(sourcePort);
  notes.push(
    `It must not share a port with a running server${portSetting ? ` (the source's ${portSetting.file} says port = ${portSetting.value})` : ''}: the command below uses port ${port}, which is free now, and puts its socket in ${SOCKET_DIR}.`,
  );
  const pgCtl = major === '?' ? null : await findPgCtl(major, input.toolPaths);
  if (!pgCtl) {
    notes.push(`No PostgreSQL ${major} server binaries (pg_ctl and postgres) were found here; install the PostgreSQL ${major} server (Debian: postgresql-${major}) or set its bin folder in Settings, then start it with pg_ctl ${major}.`);
  }
  const ctl = pgCtl ?? `/usr/lib/postgresql/${major}/bin/pg_ctl`;
  const asUser = owner.user && owner.user.uid !== 0 ? `runuser -u ${shellQuote(owner.user.name)} -- ` : '';
  const dir = shellQuote(dataDir);
  notes.push(`Start it: ${asUser}${shellQuote(ctl)} -D ${dir} -o "-p ${port} -k ${SOCKET_DIR}" -l ${shellQuote(join(dataDir, 'startup.log'))} start`);
  const psqlNext = pgCtl ? join(dirname(pgCtl), 'psql') : null;
  let psql = 'psql';
  try {
    psql = shellQuote(psqlNext && existsSync(psqlNext) ? psqlNext : findTool(['psql'], 'postgres', { binDir: input.toolPaths?.postgres ?? null }));
  } catch {
    /* "psql" it is: the note above already says what is missing */
  }
  notes.push(`Connect: ${asUser}${psql} -h ${SOCKET_DIR} -p ${port} -d postgres (as a role of the source server; its pg_hba.conf rules apply).`);
  notes.push(`Stop it: ${asUser}${shellQuote(ctl)} -D ${dir} stop`);
  return notes;
}
