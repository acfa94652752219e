/**
 * `backstop` — the command-line shell over the engine, for scripting.
 *
 * Contract: every command goes through the same contract dispatch as the app (so the
 * same validation and error codes apply); `--json` makes the output machine-readable;
 * the exit code is 0 on success, 1 on failure, 2 on a usage error. Secrets are never
 * accepted on the command line.
 */
import { parseArgs } from 'node:util';
import { APP_VERSION, createEngine, type Engine } from '../engine/index.ts';
import { defaultDataDir } from '../engine/runtime/default-data-dir.ts';
import type { CommandName } from '../shared/ipc/index.ts';
import { toFailure } from '../shared/result.ts';
import { printData, printFailure, processIo, type Io } from './output.ts';

const HELP = `backstop ${APP_VERSION} — server-wide database backups

Usage: backstop <command> [options]

Commands:
  info                 show version, data folder and log folder
  servers              list the configured servers
  tasks                list the configured backup tasks
  history [--task ID] [--limit N]
                       list recent runs, newest first

Options:
  --data-dir DIR       app-data folder (default: ${defaultDataDir()})
  --json               print machine-readable JSON
  -h, --help           show this help
  -v, --version        show the version

More commands (backup, points, verify, restore, extract, prune, agent, demo) arrive
with the backup engine; see docs/CLI.md.`;

interface Parsed {
  command: string | undefined;
  rest: string[];
  json: boolean;
  dataDir: string;
  task?: string;
  limit?: string;
  help: boolean;
  version: boolean;
}

function parse(argv: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      task: { type: 'string' },
      limit: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
      version: { type: 'boolean', short: 'v', default: false },
    },
  });
  return {
    command: positionals[0],
    rest: positionals.slice(1),
    json: values.json ?? false,
    dataDir: values['data-dir'] ?? defaultDataDir(),
    task: values.task,
    limit: values.limit,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

async function withEngine(dataDir: string, fn: (engine: Engine) => Promise<number>): Promise<number> {
  const engine = await createEngine({ dataDir });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

async function run(engine: Engine, io: Io, json: boolean, name: CommandName, payload: unknown, human: (data: never) => string) {
  const res = await engine.call(name, payload);
  if (!res.ok) return printFailure(io, json, res);
  return printData(io, json, res.data, () => human(res.data as never));
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const wantsJson = argv.includes('--json');
  let args: Parsed;
  try {
    args = parse(argv);
  } catch (e) {
    return printFailure(io, wantsJson, { code: 'MALFORMED_REQUEST', message: `${(e as Error).message}. Run "backstop --help".` });
  }
  if (args.version) return printData(io, args.json, { version: APP_VERSION }, () => APP_VERSION);
  if (args.help || !args.command) {
    io.out(HELP);
    return args.help ? 0 : 2;
  }
  const { json } = args;
  try {
    switch (args.command) {
      case 'info':
        return await withEngine(args.dataDir, (e) =>
          run(e, io, json, 'app.info', undefined, (d: { version: string; dataDir: string; logsDir: string }) =>
            `Backstop ${d.version}\ndata folder: ${d.dataDir}\nlogs:        ${d.logsDir}`,
          ),
        );
      case 'servers':
        return await withEngine(args.dataDir, (e) =>
          run(e, io, json, 'servers.list', undefined, (d: { name: string; kind: string; id: string }[]) =>
            d.length ? d.map((s) => `${s.name}\t${s.kind}\t${s.id}`).join('\n') : 'No servers yet.',
          ),
        );
      case 'tasks':
        return await withEngine(args.dataDir, (e) =>
          run(e, io, json, 'tasks.list', undefined, (d: { name: string; type: string; id: string; enabled: boolean }[]) =>
            d.length ? d.map((t) => `${t.name}\t${t.type}\t${t.enabled ? 'enabled' : 'disabled'}\t${t.id}`).join('\n') : 'No tasks yet.',
          ),
        );
      case 'history': {
        const limit = args.limit === undefined ? 20 : Number(args.limit);
        return await withEngine(args.dataDir, (e) =>
          run(e, io, json, 'history.list', { limit, ...(args.task ? { taskId: args.task } : {}) }, (d: { startedAt: string; taskName: string; status: string }[]) =>
            d.length ? d.map((r) => `${r.startedAt}\t${r.taskName}\t${r.status}`).join('\n') : 'No runs yet.',
          ),
        );
      }
      default:
        return printFailure(io, json, { code: 'MALFORMED_REQUEST', message: `Unknown command "${args.command}". Run "backstop --help".` });
    }
  } catch (e) {
    return printFailure(io, json, toFailure(e));
  }
}
