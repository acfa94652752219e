/**
 * The service definitions of `backstop agent install` (commands/agent-service.ts), all
 * three from one description: the systemd unit checked by the real `systemd-analyze
 * verify` (which fails on a unit whose command does not exist, so the check can fail),
 * the launchd plist and the Task Scheduler task with their paths escaped; install and
 * uninstall against a temporary home with a recorded command runner.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentInstall, agentUninstall, MARKER, serviceDefinition, type ServiceSpec } from '../../../electron/cli/commands/agent-service.ts';
import { BackstopError } from '../../../electron/shared/result.ts';
import { CLI_BIN } from '../../fixtures/cli.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

function spec(over: Partial<ServiceSpec> = {}): ServiceSpec {
  const home = tempDir();
  return { platform: 'linux', scope: 'user', node: process.execPath, cli: CLI_BIN, dataDir: join(home, 'Backstop data 100%'), logsDir: join(home, 'logs'), home, user: 'dba', ...over };
}

function verify(content: string): { code: number | null; err: string } {
  const dir = tempDir();
  const unit = join(dir, 'backstop-agent.service');
  writeFileSync(unit, content);
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  return { code: r.status, err: `${r.stdout}${r.stderr}`.trim() };
}

describe('backstop agent service definitions', () => {
  it('systemd: a unit systemd-analyze verify accepts (user and system), with the data dir quoted and % escaped', () => {
    const s = spec();
    const user = serviceDefinition(s);
    expect(user.path).toBe(join(s.home, '.config/systemd/user/backstop-agent.service'));
    expect(user.content).toContain(`ExecStart=${process.execPath} ${CLI_BIN} agent --data-dir "${s.dataDir.replace('%', '%%')}"`);
    expect(user.content).toContain('Restart=on-failure');
    expect(user.content).toContain('WantedBy=default.target');
    expect(user.content).not.toContain('User=');
    expect(user.install).toEqual([
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', '--now', 'backstop-agent.service'],
    ]);
    expect(verify(user.content)).toEqual({ code: 0, err: '' });

    const system = serviceDefinition({ ...s, scope: 'system' });
    expect(system.path).toBe('/etc/systemd/system/backstop-agent.service');
    expect(system.content).toContain('User=dba');
    expect(system.content).toContain('WantedBy=multi-user.target');
    expect(verify(system.content)).toEqual({ code: 0, err: '' });

    // The checker really checks: a unit whose program does not exist is refused.
    const broken = verify(serviceDefinition({ ...s, node: '/nonexistent/node' }).content);
    expect(broken.code).toBe(1);
    expect(broken.err).toContain('Command /nonexistent/node is not executable');
  });

  it('launchd: a LaunchAgent or LaunchDaemon plist with the arguments as XML strings', () => {
    const s = spec({ platform: 'darwin', dataDir: '/Users/dba/Backstop <&> data' });
    const agent = serviceDefinition(s);
    expect(agent.path).toBe(join(s.home, 'Library/LaunchAgents/com.backstop.agent.plist'));
    expect(agent.content).toContain('<string>/Users/dba/Backstop &lt;&amp;&gt; data</string>');
    expect(agent.content).toContain('<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>');
    expect(agent.content).not.toContain('UserName');
    expect(agent.install[0]!.slice(0, 2)).toEqual(['launchctl', 'bootstrap']);
    const daemon = serviceDefinition({ ...s, scope: 'system' });
    expect(daemon.path).toBe('/Library/LaunchDaemons/com.backstop.agent.plist');
    expect(daemon.content).toContain('<key>UserName</key><string>dba</string>');
    expect(daemon.uninstall).toEqual([['launchctl', 'bootout', 'system/com.backstop.agent']]);
  });

  it('Windows: a Task Scheduler task (logon or boot) that restarts the agent, registered with schtasks', () => {
    const s = spec({ platform: 'win32', node: 'C:\\Program Files\\nodejs\\node.exe', cli: 'C:\\backstop\\bin\\backstop.mjs', dataDir: 'C:\\Backstop data' });
    const t = serviceDefinition(s);
    expect(t.content).toContain('<Command>C:\\Program Files\\nodejs\\node.exe</Command><Arguments>C:\\backstop\\bin\\backstop.mjs agent --data-dir &quot;C:\\Backstop data&quot;</Arguments>');
    expect(t.content).toContain('<LogonTrigger><UserId>dba</UserId></LogonTrigger>');
    expect(t.content).toContain('<RestartOnFailure>');
    expect(t.install[0]).toEqual(['schtasks.exe', '/Create', '/TN', 'Backstop agent', '/XML', t.path, '/F']);
    const boot = serviceDefinition({ ...s, scope: 'system' });
    expect(boot.content).toContain('<BootTrigger/>');
    expect(boot.install[0]).toEqual(['schtasks.exe', '/Create', '/TN', 'Backstop agent', '/XML', boot.path, '/F', '/RU', 'dba', '/RP', '*']);

    // Written as UTF-16 with its byte-order mark (what the XML declares and schtasks reads), and still recognised as Backstop's by uninstall.
    const here = spec({ platform: 'win32' }); // a data dir that exists on this (Linux) test machine
    const w = serviceDefinition(here);
    mkdirSync(here.dataDir, { recursive: true });
    const ran: string[] = [];
    const run = (argv: string[]) => (ran.push(argv.join(' ')), { command: argv.join(' '), ok: true, output: '' });
    expect(agentInstall(here, false, run).started).toBe(true);
    const bytes = readFileSync(w.path);
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xfe]);
    expect(bytes.subarray(2).toString('utf16le')).toBe(w.content);
    expect(agentUninstall(here, run).removed).toBe(true);
    expect(existsSync(w.path)).toBe(false);
    expect(ran).toEqual([...w.install, ...w.uninstall].map((c) => c.join(' ')));
  });

  it('install writes the definition and runs the commands; dry-run writes nothing; uninstall removes only its own file', () => {
    const s = spec();
    const dry = agentInstall(s, true, () => {
      throw new Error('a dry run runs nothing');
    });
    expect(dry).toMatchObject({ dryRun: true, started: false, commands: ['systemctl --user daemon-reload', 'systemctl --user enable --now backstop-agent.service'] });
    expect(existsSync(dry.path)).toBe(false);

    const ran: string[][] = [];
    const ok = agentInstall(s, false, (argv) => (ran.push(argv), { command: argv.join(' '), ok: true, output: '' }));
    expect(ok.started).toBe(true);
    expect(readFileSync(ok.path, 'utf8')).toBe(ok.definition);
    expect(ran).toEqual(serviceDefinition(s).install);

    // A failing command: the file stays, the note says what failed and what to run.
    const failed = agentInstall(s, false, (argv) => ({ command: argv.join(' '), ok: false, output: 'Failed to connect to bus: No medium found' }));
    expect(failed.started).toBe(false);
    expect(failed.notes.at(-1)).toBe('The definition is written, but "systemctl --user daemon-reload" failed: Failed to connect to bus: No medium found. Start it by hand: systemctl --user daemon-reload && systemctl --user enable --now backstop-agent.service.');

    const un = agentUninstall(s, (argv) => ({ command: argv.join(' '), ok: true, output: '' }));
    expect(un.removed).toBe(true);
    expect(un.commands.map((c) => c.command)).toEqual(['systemctl --user disable --now backstop-agent.service', 'systemctl --user daemon-reload']);
    expect(existsSync(ok.path)).toBe(false);

    // Someone else's unit under that name: neither overwritten nor removed.
    mkdirSync(join(s.home, '.config/systemd/user'), { recursive: true });
    writeFileSync(ok.path, '[Service]\nExecStart=/usr/bin/true\n');
    expect(() => agentInstall(s, false, () => ({ command: '', ok: true, output: '' }))).toThrow(new BackstopError('CONFLICT', `${ok.path} exists and was not written by Backstop; move it away (or remove it), then run "backstop agent install" again.`));
    expect(() => agentUninstall(s)).toThrow(new BackstopError('CONFLICT', `${ok.path} was not written by "backstop agent install"; Backstop leaves it alone.`));
    expect(readFileSync(ok.path, 'utf8')).not.toContain(MARKER);
  });
});
