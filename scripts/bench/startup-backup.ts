/**
 * Bench step (section `startup`): how long `backstop backup` takes from the process's start
 * to its first connection to the server — Node's start, loading the CLI and the engine,
 * opening the data dir, reading the task file — and to the run's end, on a throwaway
 * MariaDB with one small database and the binary log on (an incremental then reads the log).
 *
 * The first connection is seen by wrappers in the task's `tools.binDir` that append the time
 * (ms, the machine's clock) and their arguments to a file and exec the real client tool:
 * the first call that names `--host` is the connection test. Runs interleave with
 * `node -e 0` (the machine is shared: best and median of `repeat` runs each).
 * BENCH_CLI_BEFORE=<path to another checkout's bin/backstop.mjs> adds that build's runs,
 * interleaved, for a before/after on the same machine state.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeBenchTaskFile } from './task-file.ts';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startMariadb } from '../../tests/fixtures/servers/mariadb.ts';

export interface StartupBackupDeps {
  root: string;
  repeat: number;
  addRow: (section: string, metric: string, ours: string, peer: string, ratio: number | null, target: string, met: boolean | null) => void;
  notes: string[];
}

const TOOLS = ['mariadb', 'mariadb-dump', 'mariadb-binlog'];

export async function benchStartupBackup(work: string, deps: StartupBackupDeps): Promise<void> {
  console.log('\n`backstop backup` start to first server connection (built out/cli, MariaDB, one small database)');
  const db = await startMariadb({ binlog: true });
  try {
    db.sql('CREATE DATABASE shop');
    db.sql('CREATE TABLE orders (id BIGINT PRIMARY KEY, note TEXT); INSERT INTO orders SELECT seq, MD5(seq) FROM seq_1_to_2000;', 'shop');
    const dir = join(work, 'startup-backup');
    const bin = join(dir, 'tools');
    const calls = join(dir, 'calls.log');
    mkdirSync(bin, { recursive: true });
    for (const t of TOOLS) {
      const real = execFileSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).trim();
      writeFileSync(join(bin, t), `#!/bin/sh\necho "$(date +%s%3N) ${t} $*" >> '${calls}'\nexec '${real}' "$@"\n`);
      chmodSync(join(bin, t), 0o755);
    }
    const task = writeBenchTaskFile(join(dir, 'task.json'), 'startup', { kind: 'mysql', host: db.host, port: db.port, user: db.user, passwordEnv: 'BENCH_STARTUP_PASSWORD' }, join(dir, 'backups'), { tools: { binDir: bin } });
    const env = { ...process.env, BENCH_STARTUP_PASSWORD: db.password };
    const builds: [string, string][] = [['this build', join(deps.root, 'bin', 'backstop.mjs')]];
    if (process.env.BENCH_CLI_BEFORE) builds.push(['before', process.env.BENCH_CLI_BEFORE]);
    const backup = (cli: string, label: string) => {
      writeFileSync(calls, '');
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [cli, 'backup', '--config', task, '--data-dir', join(dir, `data-${label}`), '--kind', 'incremental', '--json'], { env, encoding: 'utf8' });
      const total = Date.now() - t0;
      if (r.status !== 0) throw new Error(`backstop backup (${label}) failed: ${r.stdout}${r.stderr}`);
      const lines = readFileSync(calls, 'utf8').split('\n').filter(Boolean);
      const first = lines.find((l) => l.includes('--host='));
      if (!first) throw new Error(`no connection seen in ${calls}`);
      return { connect: Number(first.split(' ')[0]) - t0, total, processes: lines.length };
    };
    // The first run of each build makes its full and warms the page cache; not timed.
    for (const [label, cli] of builds) backup(cli, label);
    const times = new Map<string, { connect: number[]; total: number[]; processes: number }>(builds.map(([l]) => [l, { connect: [], total: [], processes: 0 }]));
    const node: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < deps.repeat; i++) {
      const t0 = performance.now();
      execFileSync(process.execPath, ['-e', '0']);
      node.push(performance.now() - t0);
      for (const [label, cli] of builds) {
        const r = backup(cli, label);
        const t = times.get(label)!;
        t.connect.push(r.connect);
        t.total.push(r.total);
        t.processes = r.processes;
      }
      loads.push(loadavg()[0]!);
    }
    const best = (xs: number[]) => Math.min(...xs);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ms = (n: number) => `${n.toFixed(0)} ms`;
    const loadText = `load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
    for (const [label] of builds) {
      const t = times.get(label)!;
      deps.addRow(
        'CLI start-up',
        `backstop backup (${label}, incremental, binlog on): start → first server connection (best of ${deps.repeat}; median ${ms(median(t.connect))}; ${loadText})`,
        ms(best(t.connect)),
        `node -e 0 ${ms(best(node))}`,
        best(t.connect) / best(node),
        '',
        null,
      );
      deps.addRow('CLI start-up', `  … whole run (${label}; median ${ms(median(t.total))}; ${t.processes} client-tool processes)`, ms(best(t.total)), '', null, '', null);
    }
  } finally {
    await db.stop();
  }
}
