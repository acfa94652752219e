/**
 * `backstop agent install|uninstall|status` (issue #25): `backstop agent` registered as a
 * service of the operating system, so schedules run when nobody is logged in.
 *
 * Contract:
 * - `serviceDefinition` builds, from one description (node, the CLI, the data dir, the
 *   logs folder, user or system scope), the definition for each platform: a systemd unit
 *   (Linux), a launchd plist (macOS), a Task Scheduler task (Windows; node.exe cannot answer
 *   the Service Control Manager, so `sc.exe create` would make a service that fails to
 *   start with error 1053 — a boot/logon task with restart-on-failure is the dependable
 *   equivalent). Each definition restarts the agent when it fails, and stops it with a
 *   signal it handles (it waits for running backups).
 * - `install --dry-run` prints the definition and the commands it would run, and changes
 *   nothing. `install` writes the definition (never over a file Backstop did not write)
 *   and runs the platform's commands to enable and start it; a command that fails is
 *   reported with its output and the command to run by hand, the file stays.
 * - `uninstall` stops and disables the service and removes the file install wrote; a file
 *   that is not Backstop's is refused (CONFLICT).
 * - `status` says whether an agent holds the data dir's scheduler lock (since when, its
 *   pid), which service files are installed, and the tasks with their next runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { BackstopError } from '../../shared/result.ts';
import type { Engine } from '../../engine/index.ts';
import { schedulerOwner, type SchedulerOwner } from '../../engine/scheduler/scheduler-lock.ts';

export type ServicePlatform = 'linux' | 'darwin' | 'win32';
export type ServiceScope = 'user' | 'system';

export interface ServiceSpec {
  platform: ServicePlatform;
  scope: ServiceScope;
  /** The node binary and the `backstop` entry (bin/backstop.mjs) it runs. */
  node: string;
  cli: string;
  dataDir: string;
  logsDir: string;
  home: string;
  /** The account a system-wide service runs as (never root by default: the database client tools refuse root). */
  user: string;
  /** Windows: the account's home profile folder etc. are not needed; Linux/macOS: XDG_CONFIG_HOME when set. */
  xdgConfigHome?: string | undefined;
}

export interface ServiceDefinition {
  platform: ServicePlatform;
  scope: ServiceScope;
  /** Where the definition is written. */
  path: string;
  content: string;
  /** Run after writing it (enable + start), and before removing it (stop + disable). */
  install: string[][];
  uninstall: string[][];
  notes: string[];
}

/** The line every definition carries, so uninstall never removes a file Backstop did not write. */
export const MARKER = 'Written by "backstop agent install"';
export const SYSTEMD_UNIT = 'backstop-agent.service';
export const LAUNCHD_LABEL = 'com.backstop.agent';
export const WINDOWS_TASK = 'Backstop agent';

/** A systemd command-line word: quoted when needed, `%` doubled (systemd specifiers). */
function systemdWord(w: string): string {
  const s = w.replace(/%/g, '%%');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A Windows command-line word (CommandLineToArgvW rules for the cases that occur in paths). */
function winWord(w: string): string {
  return /[\s"]/.test(w) ? `"${w.replace(/"/g, '\\"')}"` : w;
}

export function serviceDefinition(spec: ServiceSpec): ServiceDefinition {
  const argv = [spec.node, spec.cli, 'agent', '--data-dir', spec.dataDir];
  if (spec.platform === 'linux') {
    const user = spec.scope === 'user';
    const path = user ? join(spec.xdgConfigHome ?? join(spec.home, '.config'), 'systemd', 'user', SYSTEMD_UNIT) : join('/etc/systemd/system', SYSTEMD_UNIT);
    const ctl = user ? ['systemctl', '--user'] : ['systemctl'];
    const content = [
      `# ${MARKER}; "backstop agent uninstall${user ? '' : ' --system'}" removes it.`,
      '[Unit]',
      `Description=Backstop scheduler (backstop agent) for ${spec.dataDir.replace(/%/g, '%%')}`,
      'After=network-online.target',
      'Wants=network-online.target',
      '',
      '[Service]',
      'Type=simple',
      `ExecStart=${argv.map(systemdWord).join(' ')}`,
      ...(user ? [] : [`User=${spec.user}`]),
      'Restart=on-failure',
      'RestartSec=30',
      // SIGTERM: the agent stops scheduling and waits for running backups to reach a safe point.
      'KillSignal=SIGTERM',
      'TimeoutStopSec=30min',
      '',
      '[Install]',
      `WantedBy=${user ? 'default.target' : 'multi-user.target'}`,
      '',
    ].join('\n');
    return {
      platform: 'linux',
      scope: spec.scope,
      path,
      content,
      install: [
        [...ctl, 'daemon-reload'],
        [...ctl, 'enable', '--now', SYSTEMD_UNIT],
      ],
      uninstall: [
        [...ctl, 'disable', '--now', SYSTEMD_UNIT],
        [...ctl, 'daemon-reload'],
      ],
      notes: user
        ? [`A user service runs while ${spec.user} has a session; to run it after boot without anyone logged in, run "loginctl enable-linger ${spec.user}" once.`, 'Logs: journalctl --user -u backstop-agent, and the app log folder.']
        : ['Logs: journalctl -u backstop-agent, and the app log folder.', `It runs as ${spec.user}; that account needs its keychain (Secret Service) for stored passwords and keys, see docs/HEADLESS.md.`],
    };
  }
  if (spec.platform === 'darwin') {
    const user = spec.scope === 'user';
    const path = user ? join(spec.home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`) : join('/Library/LaunchDaemons', `${LAUNCHD_LABEL}.plist`);
    const log = join(spec.logsDir, 'agent-service.log');
    const content = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
      `<!-- ${MARKER}; "backstop agent uninstall${user ? '' : ' --system'}" removes it. -->`,
      '<plist version="1.0">',
      '<dict>',
      `  <key>Label</key><string>${LAUNCHD_LABEL}</string>`,
      '  <key>ProgramArguments</key>',
      '  <array>',
      ...argv.map((a) => `    <string>${xml(a)}</string>`),
      '  </array>',
      ...(user ? [] : [`  <key>UserName</key><string>${xml(spec.user)}</string>`]),
      '  <key>RunAtLoad</key><true/>',
      '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
      '  <key>ThrottleInterval</key><integer>30</integer>',
      '  <key>ExitTimeOut</key><integer>1800</integer>',
      `  <key>StandardOutPath</key><string>${xml(log)}</string>`,
      `  <key>StandardErrorPath</key><string>${xml(log)}</string>`,
      '</dict>',
      '</plist>',
      '',
    ].join('\n');
    const domain = user ? `gui/${userInfo().uid}` : 'system';
    return {
      platform: 'darwin',
      scope: spec.scope,
      path,
      content,
      install: [['launchctl', 'bootstrap', domain, path]],
      uninstall: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`]],
      notes: [`Logs: ${log}, and the app log folder.`, ...(user ? ['A LaunchAgent runs while the user is logged in; use --system (a LaunchDaemon) to run without a login.'] : [])],
    };
  }
  const user = spec.scope === 'user';
  const path = join(spec.dataDir, 'backstop-agent-task.xml');
  const content = [
    '<?xml version="1.0" encoding="UTF-16"?>',
    `<!-- ${MARKER}; "backstop agent uninstall${user ? '' : ' --system'}" removes it. -->`,
    '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">',
    `  <RegistrationInfo><Description>Backstop scheduler (backstop agent) for ${xml(spec.dataDir)}</Description></RegistrationInfo>`,
    `  <Triggers>${user ? `<LogonTrigger><UserId>${xml(spec.user)}</UserId></LogonTrigger>` : '<BootTrigger/>'}</Triggers>`,
    `  <Principals><Principal id="Author">${user ? `<UserId>${xml(spec.user)}</UserId><LogonType>InteractiveToken</LogonType>` : `<UserId>${xml(spec.user)}</UserId><LogonType>Password</LogonType>`}</Principal></Principals>`,
    '  <Settings>',
    '    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>',
    '    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>',
    '    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>',
    '    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>',
    '    <RestartOnFailure><Interval>PT1M</Interval><Count>999</Count></RestartOnFailure>',
    '  </Settings>',
    `  <Actions Context="Author"><Exec><Command>${xml(spec.node)}</Command><Arguments>${xml(argv.slice(1).map(winWord).join(' '))}</Arguments></Exec></Actions>`,
    '</Task>',
    '',
  ].join('\r\n');
  return {
    platform: 'win32',
    scope: spec.scope,
    path,
    content,
    install: [['schtasks.exe', '/Create', '/TN', WINDOWS_TASK, '/XML', path, '/F', ...(user ? [] : ['/RU', spec.user, '/RP', '*'])], ['schtasks.exe', '/Run', '/TN', WINDOWS_TASK]],
    uninstall: [['schtasks.exe', '/End', '/TN', WINDOWS_TASK], ['schtasks.exe', '/Delete', '/TN', WINDOWS_TASK, '/F']],
    notes: [
      'Windows runs the agent as a Task Scheduler task (at logon, or at boot with --system) that restarts it when it fails: node.exe cannot answer the Service Control Manager, so an sc.exe service would not start.',
      ...(user ? [] : [`schtasks asks for the password of ${spec.user} (a task that runs without a logon needs it).`]),
    ],
  };
}

/** The definition for this machine and process. `cli`: the `backstop` entry this process was started as. */
export function localServiceSpec(scope: ServiceScope, dataDir: string, logsDir: string): ServiceSpec {
  const platform = (['linux', 'darwin', 'win32'] as const).find((p) => p === process.platform);
  if (!platform) throw new BackstopError('VALIDATION', `"backstop agent install" knows Linux (systemd), macOS (launchd) and Windows; this is ${process.platform}. Run "backstop agent --data-dir ${dataDir}" under your own service manager.`);
  const entry = process.argv[1] ? realpathSync(process.argv[1]) : '';
  const user = scope === 'system' ? (process.env.SUDO_USER ?? userInfo().username) : userInfo().username;
  return { platform, scope, node: process.execPath, cli: entry, dataDir, logsDir, home: homedir(), user, xdgConfigHome: process.env.XDG_CONFIG_HOME || undefined };
}

export interface CommandOutcome {
  command: string;
  ok: boolean;
  output: string;
}

function run(argv: string[]): CommandOutcome {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim();
  return { command: argv.join(' '), ok: r.status === 0, output };
}

/** Whether the file at `path` is a definition `install` wrote (UTF-8, or UTF-16 with its byte-order mark as on Windows). */
function isOurs(path: string): boolean {
  const bytes = readFileSync(path);
  const text = bytes[0] === 0xff && bytes[1] === 0xfe ? bytes.subarray(2).toString('utf16le') : bytes.toString('utf8');
  return text.includes(MARKER);
}

function writeDefinition(d: ServiceDefinition): void {
  if (existsSync(d.path) && !isOurs(d.path)) {
    throw new BackstopError('CONFLICT', `${d.path} exists and was not written by Backstop; move it away (or remove it), then run "backstop agent install" again.`);
  }
  try {
    mkdirSync(dirname(d.path), { recursive: true });
    // schtasks reads task XML as UTF-16 (the encoding the XML declares); the others are UTF-8.
    writeFileSync(d.path, d.platform === 'win32' ? Buffer.from(`\ufeff${d.content}`, 'utf16le') : d.content, { mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BackstopError(code === 'EACCES' || code === 'EPERM' ? 'PERMISSION_DENIED' : 'STORAGE', `Cannot write ${d.path} (${code ?? 'error'})${d.scope === 'system' ? ': a system-wide service needs an administrator (run it with sudo, or as Administrator)' : ''}.`);
  }
}

export interface InstallResult {
  dryRun: boolean;
  platform: ServicePlatform;
  scope: ServiceScope;
  path: string;
  definition: string;
  commands: CommandOutcome[] | string[];
  started: boolean;
  notes: string[];
}

export function agentInstall(spec: ServiceSpec, dryRun: boolean, runCommand: (argv: string[]) => CommandOutcome = run): InstallResult {
  const d = serviceDefinition(spec);
  const base = { platform: d.platform, scope: d.scope, path: d.path, definition: d.content, notes: d.notes };
  if (dryRun) return { ...base, dryRun: true, commands: d.install.map((c) => c.join(' ')), started: false };
  writeDefinition(d);
  const done: CommandOutcome[] = [];
  for (const c of d.install) {
    const r = runCommand(c);
    done.push(r);
    if (!r.ok) {
      const rest = d.install.slice(d.install.indexOf(c)).map((x) => x.join(' '));
      return { ...base, dryRun: false, commands: done, started: false, notes: [...d.notes, `The definition is written, but "${r.command}" failed: ${r.output || 'no output'}. Start it by hand: ${rest.join(' && ')}.`] };
    }
  }
  return { ...base, dryRun: false, commands: done, started: true };
}

export function agentUninstall(spec: ServiceSpec, runCommand: (argv: string[]) => CommandOutcome = run): { path: string; removed: boolean; commands: CommandOutcome[] } {
  const d = serviceDefinition(spec);
  if (!existsSync(d.path)) return { path: d.path, removed: false, commands: [] };
  if (!isOurs(d.path)) {
    throw new BackstopError('CONFLICT', `${d.path} was not written by "backstop agent install"; Backstop leaves it alone.`);
  }
  // Stop and disable first (a failure here, e.g. no service manager reachable, does not keep the file).
  // systemd's daemon-reload (the last command) runs once the file is gone.
  const before = d.platform === 'linux' ? d.uninstall.slice(0, -1) : d.uninstall;
  const commands = before.map((c) => runCommand(c));
  rmSync(d.path, { force: true });
  if (d.platform === 'linux') commands.push(runCommand(d.uninstall.at(-1)!));
  return { path: d.path, removed: true, commands };
}

export interface AgentStatus {
  running: boolean;
  /** Who holds the data dir's scheduler lock (the agent, the app, or nobody). */
  scheduler: SchedulerOwner | null;
  dataDir: string;
  services: { scope: ServiceScope; path: string; installed: boolean }[];
  tasks: { id: string; name: string; enabled: boolean; nextRun: { at: string; kind: 'full' | 'incremental' } | null }[];
}

export async function agentStatus(engine: Engine, logsDir: string): Promise<AgentStatus> {
  const owner = schedulerOwner(engine.dataDir);
  const services = (['user', 'system'] as const).flatMap((scope) => {
    try {
      const d = serviceDefinition(localServiceSpec(scope, engine.dataDir, logsDir));
      return [{ scope, path: d.path, installed: existsSync(d.path) && isOurs(d.path) }];
    } catch {
      return [];
    }
  });
  const tasks = await Promise.all(
    (await engine.command('tasks.list')).map(async (t) => {
      const next = t.enabled ? await engine.command('schedule.preview', { schedule: t.schedule, count: 1 }) : [];
      return { id: t.id, name: t.name, enabled: t.enabled, nextRun: next[0] ?? null };
    }),
  );
  return { running: owner?.who === 'agent', scheduler: owner, dataDir: engine.dataDir, services, tasks };
}
