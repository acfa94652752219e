/**
 * `backstop` — the command-line shell over the engine, for scripting (docs/CLI.md).
 *
 * Contract: the same engine, validation and error codes as the app; `--json` makes the
 * output machine-readable; the exit code is 0 on success, 1 on failure (including a
 * backup where any database failed), 2 on a usage error. Secrets are never accepted on
 * the command line: keys come from --key-file / BACKSTOP_KEY / the keychain, connection
 * secrets from environment variables named in the config.
 */
import { parseArgs } from 'node:util';
import type { Engine } from '../engine/index.ts';
import type { RunKind } from '../shared/domain.ts';
import { appInfo } from '../engine/app-info.ts';
import { APP_VERSION } from '../engine/app-version.ts';
import { defaultDataDir } from '../engine/runtime/default-data-dir.ts';
import { describeLocalMoment, readMoment } from '../shared/moment.ts';
import { BackstopError, toFailure } from '../shared/result.ts';
// The engine and the commands load on first use (lazy-commands.ts), so --help starts fast.
import { backupCommand, createEngine, demoCommand, demoDataDir } from './lazy-commands.ts';
import { restoreServerCommand, testRestoreCommand } from './lazy-commands.ts';
import { applyGlobalsCommand, extractCommand, pointsCommand, pruneCommand, restoreCommand, verifyCommand } from './lazy-commands.ts';
import { keysExport, keysGenerate, keysImport, keysList } from './lazy-commands.ts';
import { agentService } from './lazy-commands.ts';
import { historyTaskId, serversAdd, serversExport, serversRemove, serversUpdate, tasksAdd, tasksExport, tasksRemove, tasksUpdate } from './lazy-commands.ts';
import { serveCommand, serveTls, startAgentEndpoint } from './lazy-commands.ts';
import { formatBytes, guardStdout, printData, printFailure, processIo, type Io } from './output.ts';
import { canceledBeforeStart, interruptible, takeInterrupt } from './interrupt.ts';

const HELP = `backstop ${APP_VERSION} — server-wide database backups

Usage: backstop <command> [options]

Backups:
  backup --config task.json [--kind full|incremental] [--only DB,DB] [--key-file FILE]
                       one server-wide run now (every database on the server;
                       --only: just the named databases, no server-level streams)
  test-restore --config task.json
                       restore each database's latest point into a scratch database
                       (backstop_test_…) or folder, check it, remove it
  restore-server <root> --server server.json (--prefix P | --suffix S | --original-names)
          [--point latest | --as-of TIME] [--only a,b] [--with-server-level] [--jobs N]
                       restore every database of a task's destination root at once
  points <location>    the restore points of one database folder, oldest first
  verify <location> [--point ID]
                       read and check every chunk of one point (or all)
  restore <location> (--point ID|latest | --as-of TIME) --server server.json --database NEW
          [--jobs N] [--no-owner] [--no-privileges] [--map-role OLD=NEW]...
          [--create-roles] [--folder DIR]
                       restore into a NEW database on the server in server.json
  restore <root>/~server --point ID|latest --folder DIR [--os-user NAME]
                       a PostgreSQL cluster snapshot into a new data directory
  restore <root>/~server --as-of TIME (--folder DIR [--os-user NAME] | --source-database NAME
          --server server.json --database NEW [role choices as above])
                       a PostgreSQL cluster (or one database of it) as it was at TIME
  apply-globals <root>/~server --server server.json [--point ID|latest]
          [--alter-existing] [--dry-run]
                       create the stored PostgreSQL roles and tablespaces on a server
                       (existing ones are skipped unless --alter-existing), or the
                       MySQL/MariaDB users, roles and grants (existing ones are skipped)
  extract <location> --point ID|latest --out FILE|-
                       the plain dump or snapshot, usable without Backstop
  prune <location> --min-age 7d [--keep-last N] [--dry-run]
                       delete old restore points (never the newest)
  keys generate [--name N] [--out FILE] | keys list | keys export FINGERPRINT --out FILE|- |
  keys import FILE [--name N]
                       encryption keys in the OS keychain (printed only by export --out -)
  agent                run the scheduler without a window, for the data dir's tasks
                       (one scheduler per data dir: refused while the app or another
                       agent schedules them)
  agent install [--user|--system] [--dry-run] | agent uninstall [--user|--system] |
  agent status         the agent as an OS service (systemd, launchd, Task Scheduler)
  serve [--host H] [--port N] [--allow-folder DIR]... [--allowed-host NAME]... [--trust-proxy]
          [--tls-cert FILE --tls-key FILE | --insecure-http] [--session-minutes N]
                       the scheduler plus the window in a browser, behind a login
                       (prints the URL and a one-time sign-in token; docs/HEADLESS.md)
  demo                 sample databases → full + incremental backup → restore → verify

App data:
  info                 version, data folder and log folder
  servers | tasks      the configured servers / tasks
  servers|tasks add --config FILE | update ID --config FILE | remove ID |
  servers|tasks export ID --out FILE|-
                       configuration as code: stored servers and tasks from the
                       CLI's JSON files (secrets from environment variables or the
                       keychain, never in the files); remove keeps the backups
  history [--task ID|NAME] [--kind backup|test-restore|restore|retention] [--limit N]
                       recent runs, newest first, with each run's kind

Options:
  --data-dir DIR       app-data folder (default: ${defaultDataDir()})
  --endpoint URL       the server of an s3:// location (an S3-compatible store) or of an
                       azure:// one (Azurite, a sovereign cloud)
  --key-file FILE      encryption key (or set BACKSTOP_KEY to the key, base64 or hex)
  --identity FILE      sftp:// locations: private key file (passphrase in BACKSTOP_SFTP_PASSPHRASE;
                       without it the password comes from BACKSTOP_SFTP_PASSWORD)
  --host-key SHA256:…  sftp:// locations: the server's host key fingerprint (required)
  --json               machine-readable JSON output
  -h, --help / -v, --version

<location> is the folder of one database inside a task's destination: a local path or
a URL (s3://, azure://, sftp://, ftp:// or ftps://, e.g. s3://bucket/prefix/<folder>;
see "Locations" in docs/CLI.md).
Details: docs/CLI.md`;

/**
 * Every command `backstop` takes: the dispatch in runCommand() switches over exactly these
 * (the type checker holds them equal), and docs/CLI.md's command table and --help list each
 * (tests/unit/docs/docs-in-step.test.ts).
 */
export const CLI_COMMANDS = ['backup', 'test-restore', 'restore-server', 'points', 'verify', 'restore', 'apply-globals', 'extract', 'prune', 'keys', 'agent', 'serve', 'demo', 'info', 'servers', 'tasks', 'history'] as const;
type CliCommand = (typeof CLI_COMMANDS)[number];

function isCliCommand(word: string): word is CliCommand {
  return (CLI_COMMANDS as readonly string[]).includes(word);
}

/** The options the parser accepts (docs/CLI.md documents each; tests/unit/docs/docs-in-step.test.ts). */
export const OPTIONS = {
  json: { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  task: { type: 'string' },
  limit: { type: 'string' },
  config: { type: 'string' },
  kind: { type: 'string' },
  only: { type: 'string', multiple: true },
  'key-file': { type: 'string' },
  identity: { type: 'string' },
  'host-key': { type: 'string' },
  point: { type: 'string' },
  'as-of': { type: 'string' },
  server: { type: 'string' },
  database: { type: 'string' },
  jobs: { type: 'string' },
  folder: { type: 'string' },
  out: { type: 'string' },
  'min-age': { type: 'string' },
  'keep-last': { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  'no-owner': { type: 'boolean', default: false },
  'os-user': { type: 'string' },
  'source-database': { type: 'string' },
  'alter-existing': { type: 'boolean', default: false },
  name: { type: 'string' },
  'no-privileges': { type: 'boolean', default: false },
  'map-role': { type: 'string', multiple: true },
  'create-roles': { type: 'boolean', default: false },
  prefix: { type: 'string' },
  suffix: { type: 'string' },
  'original-names': { type: 'boolean', default: false },
  'with-server-level': { type: 'boolean', default: false },
  endpoint: { type: 'string' },
  user: { type: 'boolean', default: false },
  system: { type: 'boolean', default: false },
  host: { type: 'string' },
  port: { type: 'string' },
  'allow-folder': { type: 'string', multiple: true },
  'allowed-host': { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'insecure-http': { type: 'boolean', default: false },
  'trust-proxy': { type: 'boolean', default: false },
  'session-minutes': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', short: 'v', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function usage(message: string): never {
  throw new BackstopError('MALFORMED_REQUEST', `${message} Run "backstop --help".`);
}

/** A command's subcommand that is missing or unknown: names what was typed and the valid ones. */
function badSubcommand(command: string, sub: string | undefined, takes: string): never {
  usage(sub === undefined ? `${command} needs a subcommand: ${takes}.` : `Unknown subcommand "${command} ${sub}": ${command} takes ${takes}.`);
}

function need(v: Values, name: keyof Values, command: string): string {
  const value = v[name];
  if (typeof value !== 'string' || value === '') usage(`${command} needs --${String(name)}.`);
  return value;
}

function int(v: string | undefined, name: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) usage(`--${name} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, not "${v}".`);
  return Number(v);
}

/**
 * A value that starts with one dash reaches its option (parseArgs would call it an ambiguous
 * option): `--keep-last -1`, so int() can name the problem, and names such as
 * `--database -dash.db` (an SQLite file) or `--data-dir -backups`. Only `-h`/`-v` (and
 * clusters of them), the CLI's short options, stay options.
 */
function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    const prev = out.at(-1) ?? '';
    const option = prev.startsWith('--') && !prev.includes('=') ? OPTIONS[prev.slice(2) as keyof typeof OPTIONS] : undefined;
    if (/^-[^-]/.test(a) && !/^-[hv]+$/.test(a) && option?.type === 'string') out[out.length - 1] = `${prev}=${a}`;
    else out.push(a);
  }
  return out;
}

/** `--map-role OLD=NEW`, repeatable; each role named once. */
function parseRoleMap(pairs: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const from = pair.slice(0, at);
    const to = pair.slice(at + 1);
    if (at <= 0 || to === '') usage(`--map-role "${pair}" must look like OLD=NEW (a role named by the backup = a role on the target server).`);
    if (Buffer.byteLength(from) > 63 || Buffer.byteLength(to) > 63) usage(`--map-role "${pair}": role names are at most 63 bytes.`);
    if (from in map) usage(`--map-role names role "${from}" twice.`);
    map[from] = to;
  }
  return map;
}

/**
 * A one-shot command's engine: SIGINT/SIGTERM cancel its work (interrupt.ts), then it closes.
 * The handlers are in place before the engine opens (the app database may wait on another
 * process's lock): a signal then is CANCELED before any work, never a silent death.
 */
async function withEngine<T>(dataDir: string, fn: (engine: Engine) => Promise<T>): Promise<T> {
  let opened: Engine | null = null;
  return interruptible(
    () => opened?.cancelAll(),
    async (signal) => {
      const engine = await createEngine({ dataDir, origin: 'cli' });
      opened = engine;
      try {
        // A signal that came while the open blocked (a lock wait) is delivered in the loop's poll phase: let it in first.
        await new Promise((resolve) => setImmediate(resolve));
        if (signal.aborted) throw canceledBeforeStart();
        return await fn(engine);
      } catch (e) {
        logUnexpected(engine, e);
        throw e;
      } finally {
        tellAbandoned(engine);
        await engine.close();
      }
    },
  );
}

/**
 * A task file's run that a killed `backstop` left unfinished, closed by this command's start
 * when this command does not read that file (`history`, another file's `backup`): the file's
 * notifications cannot be sent from here and the run will not be announced again, so its
 * user hears of it on stderr (stdout keeps its one document).
 */
function tellAbandoned(engine: Engine): void {
  for (const a of engine.abandonedUntold()) {
    processIo.err(`backstop: ${a.message} It was recorded as failed (WORKER_CRASHED); this command does not read its task file, so that file's notifications were not sent.`);
  }
}

/** An error that is not a BackstopError prints as INTERNAL "Details are in the Backstop log": put them there. */
function logUnexpected(engine: Engine, e: unknown): void {
  if (!(e instanceof BackstopError)) engine.logger.error({ err: e }, 'the command failed unexpectedly');
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const settled = io === processIo ? guardStdout() : async (c: number) => c;
  const code = await runCommand(argv, io);
  // Interrupted: the result is printed; the exit code says the command was stopped.
  return settled(takeInterrupt()?.exitCode ?? code);
}

async function runCommand(argv: string[], io: Io): Promise<number> {
  const wantsJson = argv.includes('--json');
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: joinDashValues(argv), allowPositionals: true, strict: true, options: OPTIONS }));
  } catch (e) {
    return printFailure(io, wantsJson, { code: 'MALFORMED_REQUEST', message: `${(e as Error).message.replace(/\.$/, '')}. Run "backstop --help".` });
  }
  const json = values.json ?? false;
  if (values.version) return printData(io, json, { version: APP_VERSION }, () => APP_VERSION);
  const [command, ...rest] = positionals;
  // A script's `backstop $CMD --json` with CMD empty gets its one document, not the help text.
  if (!values.help && !command && json) return printFailure(io, json, { code: 'MALFORMED_REQUEST', message: 'No command given. Run "backstop --help".' });
  if (values.help || !command) {
    io.out(HELP);
    return values.help ? 0 : 2;
  }
  if (!isCliCommand(command)) return printFailure(io, json, { code: 'MALFORMED_REQUEST', message: `Unknown command "${command}". Run "backstop --help".` });
  const dataDir = values['data-dir'] ?? (command === 'demo' ? demoDataDir() : defaultDataDir());
  // A location with the settings its URL cannot carry (--endpoint, --identity, --host-key); location-url.ts reads both.
  const flags = {
    ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
    ...(values.identity ? { identity: values.identity } : {}),
    ...(values['host-key'] ? { hostKey: values['host-key'] } : {}),
  };
  const location = () => ({ text: rest[0] ?? usage(`${command} needs a <location> (the folder of one database's backups).`), flags });
  const keyFile = values['key-file'];
  // --as-of typed without an offset: how it was read (this computer's zone, the instant), in the notes and in OUT_OF_RANGE.
  let asOfRead: string | null = null;
  const asOf = (text: string): Date => {
    const r = readMoment(text);
    asOfRead = describeLocalMoment(text, r);
    return r.at;
  };
  try {
    switch (command) {
      case 'info': {
        const d = appInfo(dataDir); // what app.info answers, without opening the engine (fast start)
        return printData(io, json, d, () => `Backstop ${d.version}\ndata folder: ${d.dataDir}\nlogs:        ${d.logsDir}`);
      }
      case 'servers': {
        if (rest.length) return await configCommand('servers', dataDir, rest, values, io, json);
        const d = await withEngine(dataDir, (e) => e.command('servers.list'));
        return printData(io, json, d, () => (d.length ? d.map((s) => `${s.name}\t${s.kind}\t${s.id}`).join('\n') : 'No servers yet.'));
      }
      case 'tasks': {
        if (rest.length) return await configCommand('tasks', dataDir, rest, values, io, json);
        const d = await withEngine(dataDir, (e) => e.command('tasks.list'));
        return printData(io, json, d, () => (d.length ? d.map((t) => `${t.name}\t${t.type}\t${t.enabled ? 'enabled' : 'disabled'}\t${t.id}`).join('\n') : 'No tasks yet.'));
      }
      case 'history': {
        const limit = int(values.limit, 'limit', 1) ?? 20;
        const { RunKind } = await import('../shared/domain.ts');
        const runKind = values.kind;
        if (runKind !== undefined && !RunKind.safeParse(runKind).success) usage(`history --kind must be one of ${RunKind.options.join(', ')}.`);
        const task = values.task;
        const d = await withEngine(dataDir, async (e) => e.command('history.list', { limit, ...(task ? { taskId: await historyTaskId(e, task) } : {}), ...(runKind ? { runKind: runKind as RunKind } : {}) }));
        return printData(io, json, d, () => (d.length ? d.map((r) => `${r.startedAt}\t${r.runKind ?? 'backup'}\t${r.taskName}\t${r.status}`).join('\n') : 'No runs yet.'));
      }
      case 'backup': {
        const config = need(values, 'config', 'backup');
        const kind = values.kind;
        if (kind !== undefined && kind !== 'full' && kind !== 'incremental') usage('--kind must be full or incremental.');
        const only = values.only ? [...new Set(values.only.flatMap((v) => v.split(',')).map((d) => d.trim()))] : undefined;
        if (only && only.some((d) => d === '')) usage('--only needs database names separated by commas, like --only billing,crm.');
        const summary = await withEngine(dataDir, (e) => backupCommand(e, config, kind, keyFile, only));
        const databases = summary.databases.map((d) => ({
          database: d.database,
          destination: d.destination,
          location: d.location,
          status: d.status === 'success' ? 'ok' : 'failed',
          kind: d.kind,
          kindReason: d.kindReason,
          point: d.pointId,
          bytesRead: d.bytesRead,
          bytesStored: d.bytesStored,
          ...(d.error ? { error: d.error } : {}),
          ...(d.warnings ? { warnings: d.warnings } : {}),
        }));
        const skipped = summary.skipped.map((d) => ({ database: d.database, status: 'skipped', warning: d.reason }));
        // One document, always: a run-level error (server unreachable, …) sits beside runId.
        const hooks = summary.hooks?.map((h) => ({ phase: h.phase, database: h.database, argv: h.argv, status: h.status, exitCode: h.exitCode, action: h.action, output: h.output }));
        printData(io, json, { runId: summary.runId, status: summary.status, ...(summary.error ? { error: summary.error } : {}), warnings: summary.warnings, databases: [...databases, ...skipped], ...(hooks ? { hooks } : {}), notifications: summary.notifications, ...(summary.notificationsUnfinished ? { notificationsUnfinished: summary.notificationsUnfinished } : {}) }, () =>
          [
            `Run ${summary.status}: ${databases.filter((d) => d.status === 'ok').length} ok, ${databases.filter((d) => d.status !== 'ok').length} failed${skipped.length ? `, ${skipped.length} skipped` : ''}`,
            ...(summary.error ? [`${summary.error.code}: ${summary.error.message}`] : []),
            ...summary.warnings.map((w) => `warning: ${w}`),
            ...databases.flatMap((d) => [
              `${d.status === 'ok' ? 'ok    ' : 'FAILED'} ${d.database} → ${d.location}: ${d.kind}${d.kindReason ? ` (${d.kindReason})` : ''}, read ${formatBytes(d.bytesRead)}, stored ${formatBytes(d.bytesStored)}${d.error ? ` — ${d.error.code}: ${d.error.message}` : ''}`,
              ...(d.warnings ?? []).map((w) => `  warning: ${w}`),
            ]),
            ...skipped.map((d) => `skipped ${d.database}: ${d.warning}`),
            ...(hooks ?? []).map((h) => `hook ${h.phase} ${h.database ?? ''}: ${h.status}${h.exitCode !== null && h.status !== 'ok' ? ` (exit ${h.exitCode})` : ''}${h.action !== 'none' ? ` → ${h.action}` : ''}`),
            // Only what went wrong: an alert that did not get out is worth a line, one that did is not.
            ...summary.notifications.filter((n) => n.status === 'failed' || n.error).map((n) => `notification ${n.event} → ${n.channel} ${n.target}: ${n.status}${n.error ? ` (${n.error})` : ''}`),
            ...(summary.notificationsUnfinished ? [`notifications: ${summary.notificationsUnfinished} still being retried when the wait ended (not delivered yet: the next backstop backup of this file carries them on)`] : []),
          ].join('\n'),
        );
        // A run whose backups were stored but that History could not record is "success" with an
        // error beside it (DISK_FULL/STORAGE): a cron job must still learn it, so it exits 1.
        return summary.status === 'success' && !summary.error ? 0 : 1;
      }
      case 'test-restore': {
        const config = need(values, 'config', 'test-restore');
        const s = await withEngine(dataDir, (e) => testRestoreCommand(e, config, keyFile));
        const doc = {
          runId: s.runId,
          status: s.status,
          ...(s.error ? { error: s.error } : {}),
          ...(s.leftoversRemoved.length ? { leftoversRemoved: s.leftoversRemoved } : {}),
          // The time cap (testRestore.maxMinutes) was reached: these were not tried; the next run takes them first.
          ...(s.deferred.length ? { deferred: s.deferred } : {}),
          databases: s.databases.map((d) => ({ database: d.database, status: d.status, durationMs: d.durationMs, point: d.pointId, checks: d.checks })),
        };
        printData(io, json, doc, () =>
          [
            `Test restore ${s.status}: ${s.databases.filter((d) => d.status === 'ok').length} ok, ${s.databases.filter((d) => d.status !== 'ok').length} failed`,
            ...(s.error ? [`${s.error.code}: ${s.error.message}`] : []),
            ...s.leftoversRemoved.map((n) => `removed the leftover scratch target ${n}`),
            ...s.databases.flatMap((d) => [
              `${d.status === 'ok' ? 'ok    ' : 'FAILED'} ${d.database} (${(d.durationMs / 1000).toFixed(1)} s)`,
              ...d.checks.map((c) => `         ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
            ]),
            ...(s.deferred.length ? [`not tested this time (the task's maxMinutes was reached; they come first next time): ${s.deferred.join(', ')}`] : []),
          ].join('\n'),
        );
        return s.status === 'success' ? 0 : 1;
      }
      case 'restore-server': {
        const naming = [values.prefix !== undefined, values.suffix !== undefined, values['original-names'] === true].filter(Boolean).length;
        if (naming !== 1) usage('restore-server needs exactly one of --prefix P, --suffix S or --original-names.');
        if (values['as-of'] !== undefined && values.point !== undefined) usage('restore-server takes --point latest or --as-of, not both.');
        if (values.point !== undefined && values.point !== 'latest') usage('restore-server --point takes only "latest" (each database has its own point ids; use --as-of TIME for one moment).');
        const root = { text: rest[0] ?? usage('restore-server needs a <root> (the destination root of a task).'), flags };
        const only = values.only === undefined ? undefined : values.only.flatMap((v) => v.split(',')).map((n) => n.trim()).filter((n) => n.length > 0);
        if (only !== undefined && only.length === 0) usage('--only needs database names separated by commas.');
        const jobs = int(values.jobs, 'jobs', 1);
        const r = await withEngine(dataDir, (e) =>
          restoreServerCommand(e, root, {
            serverFile: need(values, 'server', 'restore-server'),
            naming: values.prefix !== undefined ? { prefix: values.prefix } : values.suffix !== undefined ? { suffix: values.suffix } : { original: true },
            ...(values['as-of'] !== undefined ? { asOf: asOf(values['as-of']) } : {}),
            ...(only ? { only } : {}),
            withServerLevel: values['with-server-level'] ?? false,
            ...(jobs !== undefined ? { jobs } : {}),
            ...(keyFile ? { keyFile } : {}),
          }),
        );
        if (asOfRead) r.notes.unshift(asOfRead);
        // History's failure is the document's `error` beside `status`, as in `backup`.
        const { historyError, ...result } = r;
        printData(io, json, { ...result, ...(historyError ? { error: historyError } : {}) }, () =>
          [
            ...r.notes.map((n) => `note: ${n}`),
            ...r.databases.map((d) => `${d.status === 'ok' ? 'ok     ' : d.status === 'skipped' ? 'skipped' : 'FAILED '} ${d.database} → ${d.restoredAs}${d.error ? ` — ${d.error.code}: ${d.error.message}` : ''}`),
            ...(r.serverLevel ? [`server level: ${r.serverLevel.status}${r.serverLevel.detail ? ` — ${r.serverLevel.detail}` : ''}`] : []),
            `${r.status}: ${(['ok', 'skipped', 'failed'] as const).map((st) => `${r.databases.filter((d) => d.status === st).length} ${st === 'ok' ? 'restored' : st}`).join(', ')}`,
          ].join('\n'),
        );
        // Restored, but History lacks it: said on stderr too, as `restore` (below) says it.
        if (historyError) io.err(`backstop: ${historyError.code}: ${historyError.message}`);
        return r.status === 'success' && !historyError ? 0 : 1;
      }
      case 'points': {
        const d = await withEngine(dataDir, (e) => pointsCommand(e, location(), keyFile));
        // parentId: the point each one continues (what was written after what, whatever the dates say).
        const out = d.map((p) => ({ id: p.id, kind: p.kind, type: p.backupType, createdAt: p.createdAt, bytes: p.length, parentId: p.parentId ?? null }));
        return printData(io, json, out, () => (out.length ? out.map((p) => `${p.id}\t${p.kind}\t${p.type}\t${p.createdAt}\t${formatBytes(p.bytes)}`).join('\n') : 'No restore points.'));
      }
      case 'verify': {
        const d = await withEngine(dataDir, (e) => verifyCommand(e, location(), values.point, keyFile));
        printData(io, json, d, () =>
          d.ok
            ? `OK: ${d.pointsChecked} restore point(s), ${formatBytes(d.bytesChecked)} checked.`
            : `DAMAGED:\n${d.problems.map((p) => `  ${p.code} point ${p.pointId ?? '-'} pack ${p.packId ?? '-'}: ${p.message}`).join('\n')}`,
        );
        return d.ok ? 0 : 1;
      }
      case 'restore': {
        if (values['as-of'] !== undefined && values.point !== undefined) usage('restore takes --point or --as-of, not both.');
        const opts = {
          ...(values['as-of'] !== undefined ? { asOf: asOf(values['as-of']) } : { point: need(values, 'point', 'restore') }),
          ...(values.server !== undefined ? { serverFile: values.server } : {}),
          ...(values.database !== undefined ? { database: values.database } : {}),
          ...(keyFile ? { keyFile } : {}),
          ...(values.jobs !== undefined ? { jobs: int(values.jobs, 'jobs', 1)! } : {}),
          ...(values.folder ? { folder: values.folder } : {}),
          ...(values['os-user'] !== undefined ? { osUser: values['os-user'] } : {}),
          ...(values['source-database'] !== undefined ? { sourceDatabase: values['source-database'] } : {}),
          noOwner: values['no-owner'] ?? false,
          noPrivileges: values['no-privileges'] ?? false,
          roleMap: parseRoleMap(values['map-role'] ?? []),
          createRoles: values['create-roles'] ?? false,
        };
        const d = await withEngine(dataDir, (e) => restoreCommand(e, location(), opts));
        // A cluster restore makes a data directory, not a database: "database" is null.
        const doc = { database: d.cluster ? null : d.database, path: d.path, notes: asOfRead ? [asOfRead, ...d.notes] : d.notes, ...(d.historyError ? { error: d.historyError } : {}) };
        printData(io, json, doc, () =>
          [d.cluster ? `Restored the cluster into ${d.path}.` : `Restored into ${d.database}${d.path ? ` (${d.path})` : ''}.`, ...doc.notes.map((n) => `note: ${n}`)].join('\n'),
        );
        // Restored, but History lacks it (as a backup History could not record): said on stderr
        // too, and exit 1 so a script does not take the restore for recorded.
        if (!d.historyError) return 0;
        io.err(`backstop: ${d.historyError.code}: ${d.historyError.message}`);
        return 1;
      }
      case 'apply-globals': {
        const opts = {
          point: values.point ?? 'latest',
          serverFile: need(values, 'server', 'apply-globals'),
          alterExisting: values['alter-existing'] ?? false,
          dryRun: values['dry-run'] ?? false,
          ...(keyFile ? { keyFile } : {}),
        };
        const d = await withEngine(dataDir, (e) => applyGlobalsCommand(e, location(), opts));
        printData(io, json, d.document, () => d.text);
        return d.document.failed.length > 0 ? 1 : 0;
      }
      case 'extract': {
        const out = need(values, 'out', 'extract');
        const d = await withEngine(dataDir, (e) => extractCommand(e, location(), values.point ?? 'latest', out, keyFile));
        if (out === '-') return 0;
        return printData(io, json, d, () => `Wrote ${formatBytes(d.bytes)} of point ${d.point} to ${d.out}.`);
      }
      case 'prune': {
        const keepLast = int(values['keep-last'], 'keep-last', 1);
        const d = await withEngine(dataDir, (e) =>
          pruneCommand(e, location(), { minAge: need(values, 'min-age', 'prune'), dryRun: values['dry-run'] ?? false, ...(keepLast !== undefined ? { keepLast } : {}), ...(keyFile ? { keyFile } : {}) }),
        );
        return printData(io, json, d, () =>
          [
            ...d.plan.map((p) => {
              const inUse = d.inUse?.includes(p.id) ?? false;
              return `${p.action === 'delete' ? (values['dry-run'] ? 'would delete' : inUse ? 'in use, kept' : 'deleted') : 'keep'}\t${p.id}\t${inUse ? 'a restore or backup is using it; the next prune deletes it' : p.reason}`;
            }),
            `${d.deleted.length} deleted, ${formatBytes(d.bytesFreed)} freed.`,
          ].join('\n'),
        );
      }
      case 'keys':
        return await keysCommand(dataDir, rest, values, io, json);
      case 'agent':
        if (rest.length) return await agentServiceCommand(dataDir, rest, values, io, json);
        return await agent(dataDir, io, json);
      case 'serve':
        return await serve(dataDir, values, io, json);
      case 'demo': {
        const steps = await withEngine(dataDir, (e) => demoCommand(e, (s) => (json ? undefined : io.out(`${s.step.padEnd(12)} ${s.detail}`))));
        if (json) io.out(JSON.stringify({ dataDir, steps }, null, 2));
        else io.out(`Demo finished: the backup and restore work. Data folder: ${dataDir}`);
        return 0;
      }
      default: {
        const unhandled: never = command; // a name in CLI_COMMANDS without its case: a type error
        throw new Error(`backstop: no handler for the command "${String(unhandled)}"`);
      }
    }
  } catch (e) {
    const failure = toFailure(e);
    if (asOfRead && failure.code === 'OUT_OF_RANGE') failure.message = `${failure.message} (${asOfRead})`;
    return printFailure(io, json, failure);
  }
}

async function keysCommand(dataDir: string, rest: string[], values: Values, io: Io, json: boolean): Promise<number> {
  const [sub, arg] = rest;
  const name = values.name;
  switch (sub) {
    case 'generate': {
      const k = await withEngine(dataDir, (e) => keysGenerate(e, { ...(name ? { name } : {}), ...(values.out ? { out: values.out } : {}) }));
      return printData(io, json, k, () => [`Generated key ${k.fingerprint}${k.name ? ` (${k.name})` : ''}${k.inKeychain ? ' in the keychain' : ''}.`, ...(k.file ? [`Key file: ${k.file}`] : []), ...(k.note ? [k.note] : [])].join('\n'));
    }
    case 'list': {
      const d = await withEngine(dataDir, async (e) => keysList(e));
      return printData(io, json, d, () => (d.length ? d.map((k) => `${k.fingerprint}\t${k.name ?? '-'}\t${k.createdAt}\t${k.origin}${k.exported ? '' : '\tNOT SAVED ELSEWHERE'}`).join('\n') : 'No keys yet.'));
    }
    case 'export': {
      if (!arg) usage('keys export needs the FINGERPRINT of a key ("backstop keys list" shows them).');
      const out = need(values, 'out', 'keys export');
      const d = await withEngine(dataDir, (e) => keysExport(e, arg, out));
      if (d.key !== null) return printData(io, json, d, () => d.key!);
      return printData(io, json, d, () => `Wrote key ${d.fingerprint} to ${d.file} (mode 0600).`);
    }
    case 'import': {
      if (!arg) usage('keys import needs the FILE holding the key.');
      const k = await withEngine(dataDir, (e) => keysImport(e, arg, name));
      return printData(io, json, k, () => `Imported key ${k.fingerprint}${k.name ? ` (${k.name})` : ''} into the keychain.`);
    }
    default:
      return badSubcommand('keys', sub, 'generate, list, export or import');
  }
}

/** `servers|tasks add|update|remove|export`: configuration as code (commands/config-files.ts). */
async function configCommand(what: 'servers' | 'tasks', dataDir: string, rest: string[], values: Values, io: Io, json: boolean): Promise<number> {
  const [sub, ref] = rest;
  const one = what === 'servers' ? 'server' : 'task';
  const id = () => ref ?? usage(`${what} ${sub} needs the id (or name) of a ${one}; "backstop ${what}" lists them.`);
  const ops = what === 'servers' ? { add: serversAdd, update: serversUpdate, remove: serversRemove, export: serversExport } : { add: tasksAdd, update: tasksUpdate, remove: tasksRemove, export: tasksExport };
  switch (sub) {
    case 'add': {
      const d = await withEngine(dataDir, (e) => ops.add(e, need(values, 'config', `${what} add`)));
      return printData(io, json, d, () => `Added ${one} "${d.name}" (id ${d.id}).`);
    }
    case 'update': {
      const target = id();
      const d = await withEngine(dataDir, (e) => ops.update(e, target, need(values, 'config', `${what} update`)));
      return printData(io, json, d, () => `Updated ${one} "${d.name}" (id ${d.id}).`);
    }
    case 'remove': {
      const target = id();
      const d = await withEngine(dataDir, (e) => ops.remove(e, target));
      const kept = 'keptBackups' in d ? (d.keptBackups as string[]) : [];
      return printData(io, json, d, () => [`Removed ${one} "${d.name}" (id ${d.id}).`, ...(kept.length ? [`Its backups are kept (restorable with "backstop restore"): ${kept.join(', ')}; its run history is kept too.`] : [])].join('\n'));
    }
    case 'export': {
      const target = id();
      const out = need(values, 'out', `${what} export`);
      const d = await withEngine(dataDir, (e) => ops.export(e, target, out));
      if (d.file === null) return printData(io, true, d.document, () => '');
      const doc = { id: d.id, name: d.name, file: d.file, notes: d.notes };
      return printData(io, json, doc, () => [`Wrote ${one} "${d.name}" to ${d.file}.`, ...d.notes.map((n) => `note: ${n}`)].join('\n'));
    }
    default:
      return badSubcommand(what, sub, `add, update, remove or export (or nothing, to list the ${what})`);
  }
}

/** `agent install|uninstall|status`: the agent as a service of the OS (commands/agent-service.ts). */
async function agentServiceCommand(dataDir: string, rest: string[], values: Values, io: Io, json: boolean): Promise<number> {
  const [sub] = rest;
  if (values.user && values.system) usage('agent install takes --user or --system, not both.');
  const scope = values.system ? 'system' : 'user';
  const svc = await agentService();
  const { logsDir } = appInfo(dataDir);
  switch (sub) {
    case 'install': {
      const r = svc.agentInstall(svc.localServiceSpec(scope, dataDir, logsDir), values['dry-run'] ?? false);
      const commands = r.commands.map((c) => (typeof c === 'string' ? c : `${c.ok ? 'ok    ' : 'FAILED'} ${c.command}${c.ok || !c.output ? '' : ` — ${c.output}`}`));
      printData(io, json, r, () =>
        r.dryRun
          ? [`Would write ${r.path}:`, '', r.definition, `Then run:`, ...commands.map((c) => `  ${c}`), ...r.notes.map((n) => `note: ${n}`)].join('\n')
          : [`Wrote ${r.path}.`, ...commands, r.started ? 'The agent service is enabled and started.' : 'The agent service is NOT started (see the note).', ...r.notes.map((n) => `note: ${n}`)].join('\n'),
      );
      return r.dryRun || r.started ? 0 : 1;
    }
    case 'uninstall': {
      const r = svc.agentUninstall(svc.localServiceSpec(scope, dataDir, logsDir));
      return printData(io, json, r, () => (r.removed ? [`Removed ${r.path}.`, ...r.commands.map((c) => `${c.ok ? 'ok    ' : 'FAILED'} ${c.command}${c.ok || !c.output ? '' : ` — ${c.output}`}`)].join('\n') : `No agent service is installed (${r.path} does not exist).`));
    }
    case 'status': {
      const s = await withEngine(dataDir, (e) => svc.agentStatus(e, logsDir));
      return printData(io, json, s, () =>
        [
          s.running ? `backstop agent runs (pid ${s.scheduler!.pid}, since ${s.scheduler!.startedAt}) and schedules ${s.dataDir}.` : s.scheduler ? `backstop agent does not run; the Backstop app (pid ${s.scheduler.pid}) schedules ${s.dataDir}.` : `Nothing schedules ${s.dataDir}: neither the agent nor the app runs.`,
          ...s.services.map((v) => `${v.scope} service: ${v.installed ? `installed (${v.path})` : 'not installed'}`),
          ...s.tasks.map((t) => `${t.name}\t${t.enabled ? (t.nextRun ? `next ${t.nextRun.kind} ${t.nextRun.at}` : 'no next run') : 'disabled'}`),
        ].join('\n'),
      );
    }
    default:
      return badSubcommand('agent', sub, 'install, uninstall or status (or nothing, to run the scheduler here)');
  }
}

/** Runs the scheduler until SIGINT/SIGTERM, then waits for running backups to stop. */
async function agent(dataDir: string, io: Io, json: boolean): Promise<number> {
  const engine = await createEngine({ dataDir, origin: 'agent' });
  tellAbandoned(engine); // to the service's log (journald), the only one to hear of them
  // Signal handlers first, so a stop request right after "started" is never missed.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const started = engine.start('agent');
  if (!started.scheduling) {
    await engine.close();
    const h = started.heldBy;
    throw new BackstopError(
      'CONFLICT',
      `${h.who === 'app' ? 'The Backstop app' : 'Another "backstop agent"'} (pid ${h.pid} on ${h.host}, since ${h.startedAt}) already schedules the tasks of ${dataDir}; only one process may. ${h.who === 'app' ? 'Quit the app (its tray menu → Quit)' : `Stop that agent (kill ${h.pid}, or "backstop agent uninstall" if it runs as a service)`}, then start this one again.`,
    );
  }
  // Without a desktop there is no resume event: a minutely catch-up notices a machine that
  // slept through a slot (it runs once), and keeps the process alive between runs.
  const tick = setInterval(() => engine.scheduler.catchUp(), 60_000);
  const endpoint = await openAgentEndpoint(engine, io);
  const tasks = await engine.call('tasks.list', undefined);
  const n = tasks.ok ? tasks.data.length : 0;
  if (json) io.out(JSON.stringify({ agent: 'started', dataDir, tasks: n }));
  else io.out(`backstop agent: scheduling ${n} task(s) from ${dataDir}. Stop with Ctrl+C.`);
  await stopped;
  clearInterval(tick);
  io.out(json ? JSON.stringify({ agent: 'stopping' }) : 'backstop agent: stopping (waiting for running backups to reach a safe point)…');
  await engine.close();
  // After the engine (which released the lock): a connected window takes over as soon as this closes.
  await endpoint?.close();
  return 0;
}

/**
 * The control endpoint the window connects to while this process schedules (agent/endpoint.ts).
 * Without it the agent still schedules; the message says why the window cannot connect.
 */
async function openAgentEndpoint(engine: Engine, io: Io): Promise<{ close(): Promise<void> } | null> {
  try {
    return await startAgentEndpoint(engine, { onInternalError: (err, command) => engine.logger.error({ err, command }, 'agent endpoint command failed unexpectedly') });
  } catch (e) {
    const f = toFailure(e);
    engine.logger.warn({ code: f.code }, f.message);
    io.err(`warning: the window cannot connect to this agent: ${f.message}`);
    return null;
  }
}

/** `backstop serve`: the scheduler as `agent` runs it, plus the window over HTTP(S) until SIGINT/SIGTERM. */
async function serve(dataDir: string, values: Values, io: Io, json: boolean): Promise<number> {
  const port = int(values.port, 'port') ?? 8765;
  if (port > 65535) usage(`--port must be at most 65535, not ${port}.`);
  const minutes = values['session-minutes'] === undefined ? 720 : Number(values['session-minutes']);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 60 * 24 * 30) usage(`--session-minutes must be a number of minutes above 0 and at most 43200, not "${values['session-minutes']}".`);
  const flags = {
    host: values.host ?? '127.0.0.1',
    port,
    allowFolders: values['allow-folder'] ?? [],
    allowedHosts: values['allowed-host'] ?? [],
    ...(values['tls-cert'] !== undefined ? { tlsCert: values['tls-cert'] } : {}),
    ...(values['tls-key'] !== undefined ? { tlsKey: values['tls-key'] } : {}),
    insecureHttp: values['insecure-http'] ?? false,
    trustProxy: values['trust-proxy'] ?? false,
    sessionMinutes: minutes,
  };
  const { cert: tls, warning } = await serveTls(flags, dataDir);
  const engine = await createEngine({ dataDir, origin: 'agent' });
  tellAbandoned(engine);
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  let served;
  try {
    served = await serveCommand(engine, flags, tls);
  } catch (e) {
    logUnexpected(engine, e);
    await engine.close();
    throw e;
  }
  // One scheduler per data dir: while the app or an agent schedules it, serve shows the window only.
  const started = engine.start('agent');
  const scheduling = started.scheduling
    ? 'It also runs the schedules of this data dir.'
    : `It does NOT run the schedules: ${started.heldBy.who === 'app' ? 'the Backstop app' : '"backstop agent"'} (pid ${started.heldBy.pid}, since ${started.heldBy.startedAt}) does.`;
  const tick = started.scheduling ? setInterval(() => engine.scheduler.catchUp(), 60_000) : undefined;
  const endpoint = started.scheduling ? await openAgentEndpoint(engine, io) : null;
  const { handle, allowFolders, passwordWarning } = served;
  if (json) {
    io.out(JSON.stringify({ url: handle.url, token: handle.token }));
    if (warning) io.err(warning);
    if (passwordWarning) io.err(passwordWarning);
    if (!started.scheduling) io.err(scheduling);
  } else
    io.out(
      [
        `backstop serve: the Backstop window is at ${handle.url}`,
        `Sign-in token (valid until this process stops; shown only now): ${handle.token}`,
        ...(tls ? [`TLS certificate SHA-256: ${tls.fingerprint256}`] : []),
        ...(warning ? [warning] : []),
        ...(passwordWarning ? [passwordWarning] : []),
        `The folder browser shows: ${allowFolders.join(', ')}`,
        `${scheduling} Stop with Ctrl+C.`,
      ].join('\n'),
    );
  await stopped;
  clearInterval(tick);
  if (!json) io.out('backstop serve: stopping (waiting for running backups to reach a safe point)…');
  await handle.close();
  await engine.close();
  await endpoint?.close();
  return 0;
}
