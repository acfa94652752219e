/**
 * The documentation scripts depend on stays in step with the code: docs/CLI.md's command
 * table names exactly the commands `backstop` dispatches (CLI_COMMANDS) and the subcommands
 * each one takes (as its own "Unknown subcommand" message lists them), every option the
 * parser accepts is documented in CLI.md and `--help` and every option they name is
 * accepted, the task file's defaults are the ones its table gives, and docs/NOTIFICATIONS.md's event table lists every notification event with its
 * category (what a task file's `on` filters by).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_COMMANDS, main, OPTIONS } from '../../../electron/cli/index.ts';
import { TaskFile } from '../../../electron/cli/task-file.ts';
import { RunKind } from '../../../electron/shared/domain.ts';
import { categoryOf, notificationEvents } from '../../../electron/engine/notifications/events.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../../..');
const doc = (name: string) => readFileSync(join(ROOT, 'docs', name), 'utf8');

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The rows of the markdown table that follows `heading`, each split into its cells (`\|` stays inside a cell). */
function tableAfter(markdown: string, heading: string): string[][] {
  const from = markdown.indexOf(`\n${heading}\n`);
  expect(from, `${heading} is in the document`).toBeGreaterThan(-1);
  const lines = markdown.slice(from).split('\n').slice(1);
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('|')) break;
    if (/^\|[-| ]+\|$/.test(line)) continue;
    rows.push(line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
  }
  return rows.slice(1); // without the header row
}

/** Each `…` command form of CLI.md's command table, as written in its first column. */
function documentedForms(): string[] {
  return tableAfter(doc('CLI.md'), '## Commands').flatMap(([first]) => [...first!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replaceAll('\\|', '|')));
}

/** The command words `--help` lists: each line "  word …", "  a | b …" or "  a|b sub …". */
function helpCommands(help: string): Set<string> {
  const words = help
    .split('\n')
    .filter((l) => /^ {2}[a-z]/.test(l))
    .flatMap((l) => l.trim().match(/^[a-z-]+(?:\s*\|\s*[a-z-]+)*/)![0].split(/\s*\|\s*/));
  return new Set(words);
}

describe('docs/CLI.md and the backstop command', () => {
  it('the command table and --help name exactly the commands the CLI dispatches', async () => {
    const documented = new Set(documentedForms().map((f) => f.split(' ')[0]!));
    expect([...documented].sort()).toEqual([...CLI_COMMANDS].sort());
    const help = await cli('--help');
    expect([...helpCommands(help.out)].sort()).toEqual([...CLI_COMMANDS].sort());
  });

  it('the table lists each command\'s subcommands exactly as the CLI takes them', async () => {
    const dataDir = tempDir();
    for (const command of ['keys', 'agent', 'servers', 'tasks'] as const) {
      const r = await cli(command, 'frob', '--data-dir', dataDir, '--json');
      expect(r.code).toBe(2);
      const message = (JSON.parse(r.out) as { error: { message: string } }).error.message;
      const takes = message.match(/takes ([a-z, ]+?)(?: \(|\.)/)![1]!.split(/, | or /);
      const documented = documentedForms()
        .map((f) => f.split(' '))
        .filter(([c, sub]) => c === command && sub !== undefined && /^[a-z]/.test(sub))
        .map(([, sub]) => sub!);
      expect([...new Set(documented)].sort(), `${command}'s subcommands`).toEqual(takes.sort());
    }
  });

  it('every option the parser accepts is in CLI.md and --help, and every option they name is accepted', async () => {
    const accepted = Object.keys(OPTIONS);
    const cliMd = doc('CLI.md');
    const help = (await cli('--help')).out;
    expect(accepted.filter((o) => !cliMd.includes(`--${o}`)), 'accepted, not in docs/CLI.md').toEqual([]);
    expect(accepted.filter((o) => !help.includes(`--${o}`)), 'accepted, not in --help').toEqual([]);
    const named = new Set([...documentedForms().join(' ').matchAll(/--([a-z][a-z-]*)/g), ...help.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!));
    expect([...named].filter((o) => !accepted.includes(o)), 'named, not accepted').toEqual([]);
  });

  it('history --kind takes the run kinds CLI.md and --help name', async () => {
    const documented = documentedForms().find((f) => f.startsWith('history '))!.match(/--kind ([a-z|-]+)/)![1]!.split('|');
    expect(documented.sort()).toEqual([...RunKind.options].sort());
    expect((await cli('--help')).out).toContain(`history [--task ID|NAME] [--kind ${RunKind.options.join('|')}]`);
  });
});

describe('docs/CLI.md, the task file', () => {
  it('a task file of only the required keys gets the defaults the table documents', () => {
    const required = { name: 'n', type: 'logical', schedule: { full: '0 2 * * *' }, destinations: [{ kind: 'local', path: '/b' }] };
    const pg = TaskFile.parse({ ...required, server: { kind: 'postgres' } });
    expect(pg.server).toEqual({ kind: 'postgres', host: '127.0.0.1', port: 5432, user: 'postgres', tls: 'prefer' });
    expect(pg).toMatchObject({ excludeDatabases: [], notifications: [] });
    for (const key of ['retention', 'encryption', 'tools', 'hooks', 'limits', 'testRestore', 'testServer'] as const) expect(pg[key], key).toBeUndefined();
    expect(TaskFile.parse({ ...required, server: { kind: 'mysql' } }).server).toEqual({ kind: 'mysql', host: '127.0.0.1', port: 3306, user: 'root', tls: 'prefer' });
    const cliMd = doc('CLI.md');
    expect(cliMd).toContain('`{"kind":"postgres", host ("127.0.0.1"), port (5432), user ("postgres"), passwordEnv?, tls ("prefer"), tlsCaFile?}`');
    expect(cliMd).toContain('`{"kind":"mysql", host ("127.0.0.1"), port (3306), user ("root"), passwordEnv?, tls ("prefer"), tlsCaFile?}`');
    // Each required key, missing, is refused naming it.
    for (const key of ['name', 'server', 'type', 'schedule', 'destinations'] as const) {
      const { [key]: _, ...without } = { ...required, server: { kind: 'sqlite', folder: '/f' } };
      const r = TaskFile.safeParse(without);
      expect(r.success, key).toBe(false);
      expect(r.error!.issues.map((i) => i.path.join('.')), key).toContain(key);
    }
  });
});

describe('docs/NOTIFICATIONS.md', () => {
  it('its event table lists every notification event with the category the engine gives it', () => {
    const rows = tableAfter(doc('NOTIFICATIONS.md'), '## Events').map(([event, category]) => [event!.replaceAll('`', ''), category]);
    expect(rows.map(([e]) => e).sort()).toEqual(notificationEvents().sort());
    for (const [event, category] of rows) expect(category, event).toBe(categoryOf(event!));
  });
});
