/**
 * `backstop backup --config task.json [--kind full|incremental] [--only a,b]`: one
 * server-wide run now (or of just the named databases), recorded in the data dir's history,
 * through the same runner the app uses. Unknown `--only` names are VALIDATION before a run
 * is recorded.
 */
import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Destination, Server, Task, TaskHooks } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import { credentialsOfSecret, type Credentials } from '../../engine/destinations/index.ts';
import type { Engine } from '../../engine/index.ts';
import { keyFingerprint } from '../../engine/crypto/index.ts';
import { checkTaskInput } from '../../engine/tasks/check-task-input.ts';
import { checkTestServer } from '../../engine/test-restore/test-server.ts';
import { checkSocketHost, checkTlsCaFile } from '../../engine/servers/index.ts';
import { defaultKind, type ResolvedTask, type RunSummary } from '../../engine/tasks/task-runner.ts';
import type { NotificationChannel } from '../../engine/notifications/channels.ts';
import { smtpSettings, type SmtpSettings } from '../../engine/notifications/smtp-settings.ts';
import { keyFromFile, keyFromEnv, keyFromOptions, secretFromEnv } from '../cli-secrets.ts';
import { isHttpUrl } from '../http-url.ts';
import { warnPlainFtp } from '../location-url.ts';
import { fileDestination, fileDestinationLabel, fileSecret } from '../file-destination.ts';
import { errorInFileTerms, inFileTerms, readJsonFile, retentionFrom, type NotificationFile, type ServerFile, TaskFile } from '../task-file.ts';
import { localTimeZone } from '../../engine/scheduler/local-time-zone.ts';

/** How long `backup` waits, after the run, for notifications still being delivered (retries included). */
const NOTIFY_FLUSH_MS = 60_000;

/** `base`: the folder of the file the server object came from; a relative SQLite folder resolves against it. */
export function serverFromFile(f: ServerFile, id: string, base: string): { server: Server; password: string | null } {
  const stamp = new Date(0).toISOString();
  if (f.kind === 'sqlite') return { server: { id, name: id, kind: 'sqlite', folder: resolve(base, f.folder), createdAt: stamp, updatedAt: stamp }, password: null };
  checkSocketHost(f.kind, f.host, 'host');
  const password = secretFromEnv(f.passwordEnv, `server ${f.host}:${f.port}`);
  return { server: { id, name: id, kind: f.kind, host: f.host, port: f.port, user: f.user, tls: f.tls, ...tlsCaFileOf(f, base), passwordRef: null, createdAt: stamp, updatedAt: stamp }, password };
}

/** A server file's `tlsCaFile`, resolved against the file's folder and checked (VALIDATION naming the key); {} when it has none. */
export function tlsCaFileOf(f: Extract<ServerFile, { tls: unknown }>, base: string): { tlsCaFile?: string } {
  if (f.tlsCaFile === undefined) return {};
  const tlsCaFile = resolve(base, f.tlsCaFile);
  checkTlsCaFile(tlsCaFile, 'tlsCaFile');
  return { tlsCaFile };
}

/** A hook command given with a relative path (`./stop-app.sh`) resolves against the task file's folder; a bare name is looked up on PATH. */
export function hooksFrom(h: TaskHooks, base: string): TaskHooks {
  const at = (argv: string[] | null) => (argv && argv[0]!.includes('/') && !isAbsolute(argv[0]!) ? [resolve(base, argv[0]!), ...argv.slice(1)] : argv);
  return { ...h, pre: at(h.pre), post: at(h.post) };
}

/** The task id a task file's runs are recorded under in history (`file-<name>`, as an id may be spelled). */
export function taskFileId(name: string): string {
  return `file-${name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 50)}`;
}

/**
 * A task file as a task of the engine. Relative paths in it (destination paths, keyFile,
 * tools.binDir, a SQLite folder) resolve against the task file's folder, never the
 * current directory; a tools.binDir that does not exist is a VALIDATION error.
 */
export function loadTaskFile(path: string, keyFile: string | undefined) {
  const f = readJsonFile(path, TaskFile, 'The task file');
  const base = dirname(resolve(path));
  const id = taskFileId(f.name);
  const { server, password } = serverFromFile(f.server, `${id}-server`, base);
  const binDir = f.tools?.binDir ? resolve(base, f.tools.binDir) : null;
  if (binDir && !statSync(binDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new BackstopError('VALIDATION', `The client-tools folder ${binDir} (\`tools.binDir\` in ${path}) does not exist. Fix the path, or remove \`tools\` to use the tools on PATH.`);
  }
  let key: Buffer | null = null;
  if (f.encryption?.mode === 'key') {
    key = keyFromOptions(keyFile) ?? (f.encryption.keyFile ? keyFromFile(resolve(base, f.encryption.keyFile)) : null) ?? (f.encryption.keyEnv ? keyFromEnv(f.encryption.keyEnv) : null);
    if (!key) throw new BackstopError('KEY_REQUIRED', `This task encrypts: give its key with --key-file FILE, BACKSTOP_KEY, or keyFile/keyEnv in the task file. No key yet? "backstop keys generate --out FILE" makes one.`);
  }
  const credentials: (Credentials | null)[] = [];
  const destinations: Destination[] = f.destinations.map((d) => {
    if (d.kind === 'local') {
      credentials.push(null);
      return fileDestination(d, base, null);
    }
    if (d.kind === 'ftp' && d.tls === 'none') warnPlainFtp(d.host);
    const secret = fileSecret(d, fileDestinationLabel(d));
    credentials.push(secret ? credentialsOfSecret(secret) : null);
    return fileDestination(d, base, null);
  });
  const stamp = new Date().toISOString();
  const task: Task = {
    id,
    name: f.name,
    serverId: server.id,
    type: f.type,
    schedule: { full: f.schedule.full ?? null, incremental: f.schedule.incremental ?? null, timezone: f.schedule.timezone ?? localTimeZone() },
    retention: f.retention ? retentionFrom(f.retention.minAge, f.retention.keepLast) : { minAgeDays: 0, keepLast: null },
    encryption: key ? { mode: 'key', keyRef: `key.${keyFingerprint(key)}`, fingerprint: keyFingerprint(key) } : { mode: 'none' },
    destinations,
    excludeDatabases: f.excludeDatabases,
    ...(f.testRestore ? { testRestore: f.testRestore } : {}),
    enabled: true,
    ...(f.hooks ? { hooks: hooksFrom(f.hooks, base) } : {}),
    ...(f.limits ? { limits: f.limits } : {}),
    createdAt: stamp,
    updatedAt: stamp,
  };
  checkTaskInput(task);
  if (f.testRestore?.serverId) {
    throw new BackstopError('VALIDATION', `testRestore.serverId in ${path}: a task file names its test server with "testServer" (a server object shaped like "server"), not a stored server's id.`);
  }
  const testServer = f.testServer ? serverFromFile(f.testServer, `${id}-test-server`, base) : null;
  if (testServer) checkTestServer(server, testServer.server, `testServer in ${path}`);
  return { task, server, password, key, credentials, toolPaths: binDir ? { postgres: binDir, mysql: binDir } : null, notifications: f.notifications, testServer };
}

/**
 * A task file's `notifications` as channels: URLs from the environment variables named by
 * `urlEnv` (AUTH_FAILED when one is not set, VALIDATION when it is not an http(s) URL), and
 * e-mail through the SMTP settings of the environment or the data dir (VALIDATION when
 * there are none). The URLs are registered with the log redactor.
 */
export function channelsFromFile(list: NotificationFile[], path: string, dataDir: string, register: (secret: string) => void): NotificationChannel[] {
  const url = (name: string, i: number): string => {
    const v = secretFromEnv(name, `notifications[${i}] in ${path}`)!;
    if (!isHttpUrl(v)) {
      throw new BackstopError('VALIDATION', `notifications[${i}] in ${path}: the environment variable ${name} must hold an http:// or https:// URL.`);
    }
    register(v);
    return v;
  };
  let smtp: SmtpSettings | null | undefined;
  return list.map((n, i): NotificationChannel => {
    if (n.kind === 'webhook') return { kind: 'webhook', url: url(n.urlEnv, i), preset: n.preset, ...(n.on ? { on: n.on } : {}) };
    if (n.kind === 'heartbeat') return { kind: 'heartbeat', url: url(n.urlEnv, i), method: n.method };
    smtp ??= smtpSettings(dataDir);
    if (!smtp) {
      throw new BackstopError('VALIDATION', `notifications[${i}] in ${path} sends e-mail, but no SMTP server is set up: set BACKSTOP_SMTP_HOST (and BACKSTOP_SMTP_USER, BACKSTOP_SMTP_PASSWORD, BACKSTOP_SMTP_FROM as needed), or write ${dataDir}/smtp.json. See docs/NOTIFICATIONS.md.`);
    }
    if (smtp.password) register(smtp.password);
    return { kind: 'email', to: n.to, smtp, ...(n.on ? { on: n.on } : {}) };
  });
}

/** What became of one notification of the run (secret-free: a URL's scheme and host, or the recipients). */
export interface CliDelivery {
  event: string;
  channel: 'webhook' | 'heartbeat' | 'email';
  target: string;
  status: 'delivered' | 'failed';
  attempts: number;
  error: string | null;
}

export async function backupCommand(
  engine: Engine,
  configPath: string,
  kind: 'full' | 'incremental' | undefined,
  keyFile: string | undefined,
  only?: string[],
): Promise<RunSummary & { notifications: CliDelivery[]; notificationsUnfinished: number }> {
  // The run's first job thread loads the engine while this thread reads and checks the task file (the run adds what its server needs).
  engine.runner.warm(1);
  const { task, server, password, key, credentials, toolPaths, notifications: files } = loadTaskFile(configPath, keyFile);
  const notifications = channelsFromFile(files, configPath, engine.dataDir, (v) => engine.redactor.register(v));
  // The secrets the environment and key files gave are cut from the log and from hooks' output, as the keychain's are.
  if (password) engine.redactor.register(password);
  if (key) engine.redactor.register(key.toString('base64'));
  for (const c of credentials) if (c) engine.redactor.register(JSON.stringify(c)); // each secret field (redactor.ts)
  // A run of this file that a killed `backstop backup` left unfinished (closed as this engine started): told to the file's channels, once.
  // Alerts to the file's channels a stopped `backstop backup` of this file still owed go first (its URLs are only here).
  engine.resumeOwedOf(task.id, notifications);
  engine.announceAbandoned(task.id, task.name, notifications);
  const resolved: ResolvedTask = { task, server, password, key, credentials, persisted: false, ...(toolPaths ? { toolPaths } : {}), ...(only ? { only } : {}), notifications };
  if (only) {
    try {
      await engine.runner.checkOnly(resolved, only);
    } catch (e) {
      throw errorInFileTerms(e, configPath, 'server.');
    }
  }
  const { done } = engine.runner.start(resolved, kind ?? defaultKind(task), 'cli');
  const summary = await done;
  // The run is over and recorded; give deliveries (with their retries) a bounded time before the process exits.
  await engine.notifier.flush(NOTIFY_FLUSH_MS);
  // What became of each: a cron job that reads the JSON learns that its alert did not get out.
  const delivered = engine.deliveries.forRun(summary.runId).map((d) => ({ event: d.event, channel: d.channel, target: d.target, status: d.status, attempts: d.attempts, error: d.error }));
  return {
    ...summary,
    notifications: delivered,
    notificationsUnfinished: engine.notifier.inFlight,
    error: summary.error ? inFileTerms(summary.error, configPath, 'server.') : null,
    databases: summary.databases.map((d) => (d.error ? { ...d, error: inFileTerms(d.error, configPath, 'server.') } : d)),
  };
}
