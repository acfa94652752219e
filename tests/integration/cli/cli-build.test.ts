/**
 * How `backstop` gets its plain-JavaScript build (bin/backstop.mjs, scripts/build-cli.mjs):
 * built on first use in a checkout, rebuilt when a source changed, a clear error where it
 * cannot be built — and the built entry loads no npm package before a command needs the
 * engine, which is what keeps `backstop --help` and `backstop info` fast. Started by a Node
 * older than 22 (a cron table's PATH finding the distribution's node), it says so instead of
 * crashing in a native module.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_OUT_DIR } from '../../../scripts/build-cli.mjs';
import pkg from '../../../package.json' with { type: 'json' };
import { tempDir } from '../../fixtures/temp-dir.ts';

const ROOT = join(import.meta.dirname, '../../..');

function run(bin: string, ...argv: string[]) {
  return runWith(process.execPath, bin, ...argv);
}

function runWith(node: string, bin: string, ...argv: string[]) {
  const r = spawnSync(node, [bin, ...argv], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A Node older than 22 installed on this machine (the distribution's, beside the Node 22 the tests run on), or null. */
function olderNode(): { path: string; version: string } | null {
  for (const path of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
    const r = spawnSync(path, ['-p', 'process.versions.node + " " + process.execPath'], { encoding: 'utf8' });
    const [version, execPath] = r.status === 0 ? r.stdout.trim().split(' ') : [];
    if (version && execPath && Number(version.split('.')[0]) < 22) return { path: execPath, version };
  }
  return null;
}

/** A copy of the checkout's sources (electron/ whole, so a new folder the CLI imports is never missing; no out/), sharing the repo's node_modules. */
function checkoutCopy(): string {
  const dir = tempDir();
  for (const p of ['bin', 'scripts/build-cli.mjs', 'electron', 'package.json']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** The files and npm packages a built file loads before any dynamic import(). */
function staticClosure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["']/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(join(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return { files: [...files], packages: [...packages] };
}

describe('the built backstop command', () => {
  it('loads no npm package at start: the engine and its packages load when a command needs them', () => {
    const entry = staticClosure(join(CLI_OUT_DIR, 'index.js'));
    expect(entry.files.length).toBeGreaterThan(0);
    expect(entry.packages).toEqual([]);
    // The engine's chunk really does import the heavy packages (so the check above can fail).
    const chunks = readFileSync(join(CLI_OUT_DIR, 'index.js'), 'utf8').match(/import\("\.\/chunk-[A-Z0-9]+\.js"\)/g) ?? [];
    const lazy = new Set(chunks.flatMap((c) => staticClosure(join(CLI_OUT_DIR, c.slice(10, -2))).packages));
    expect([...lazy]).toEqual(expect.arrayContaining(['zod', 'libsql', 'pino']));
    // Loaded only on use: each destination kind's SDK (S3, Azure, SFTP, FTP: a destination of
    // that kind), the keychain (a secret), the scheduler's packages (a schedule).
    const onUse = ['@aws-sdk/client-s3', '@azure/storage-blob', 'ssh2', 'basic-ftp', '@napi-rs/keyring', 'node-schedule', 'cron-parser'];
    for (const p of onUse) expect([...lazy]).not.toContain(p);
    // Nor does a backup job's worker thread load them at its start (a run starts one or two before it knows the destinations' jobs).
    const worker = staticClosure(join(CLI_OUT_DIR, 'workers', 'backup-job.js')).packages;
    expect(worker).toEqual(expect.arrayContaining(['zod', 'zstd-napi']));
    for (const p of onUse) expect(worker).not.toContain(p);
  });

  it('answers info without opening the engine: no npm package loads and the data folder is left alone', () => {
    // Every npm module the process loads, recorded by an ESM loader hook (CommonJS packages
    // imported from the build pass through it too).
    const loaded = (...argv: string[]): string[] => {
      const log = join(tempDir(), 'loaded.txt');
      writeFileSync(log, '');
      const hooks = `import { appendFileSync } from 'node:fs'; export async function load(url, context, next) { if (url.includes('/node_modules/')) appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }`;
      const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
      const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, join(ROOT, 'bin/backstop.mjs'), ...argv], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return [...new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean).map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)![1]!))];
    };
    const dataDir = join(tempDir(), 'not-created');
    expect(loaded('info', '--data-dir', dataDir, '--json')).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
    // The same probe sees the engine's packages when a command needs the engine (so the check above can fail).
    expect(loaded('servers', '--data-dir', dataDir, '--json')).toEqual(expect.arrayContaining(['zod', 'libsql', 'pino']));
    expect(existsSync(join(dataDir, 'backstop.db'))).toBe(true);
  });

  it("keeps V8's compiled code in the user's own cache folder between runs; turned off, or where that folder cannot be written, the command answers the same", () => {
    const points = (env: Record<string, string>) => {
      const { NODE_COMPILE_CACHE: _dir, NODE_DISABLE_COMPILE_CACHE: _off, ...inherited } = process.env;
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/backstop.mjs'), 'points', join(tempDir(), 'nope'), '--json'], { encoding: 'utf8', timeout: 60_000, env: { ...inherited, ...env } });
      return { code: r.status, out: r.stdout.replace(/\/tmp\/[^"]*nope/, 'NOPE') };
    };
    const cached = (home: string) => {
      const dir = join(home, 'backstop', 'node-compile-cache');
      return existsSync(dir) ? readdirSync(dir).flatMap((v) => readdirSync(join(dir, v))).length : 0;
    };
    const home = tempDir();
    const first = points({ XDG_CACHE_HOME: home });
    expect(first.code).toBe(1);
    expect(JSON.parse(first.out)).toMatchObject({ error: { code: 'NOT_A_BACKUP' } });
    // The build's files and the engine's npm packages, one entry each.
    const entries = cached(home);
    expect(entries).toBeGreaterThan(20);
    expect(points({ XDG_CACHE_HOME: home })).toEqual(first);
    expect(cached(home)).toBe(entries);

    const off = tempDir();
    expect(points({ XDG_CACHE_HOME: off, NODE_DISABLE_COMPILE_CACHE: '1' })).toEqual(first);
    expect(cached(off)).toBe(0);
    // A cache home that is a file: nothing can be kept, the command is unchanged.
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    expect(points({ XDG_CACHE_HOME: file })).toEqual(first);
  });

  it('builds itself on first use in a checkout and again when a source changes', () => {
    const dir = checkoutCopy();
    const bin = join(dir, 'bin/backstop.mjs');
    const first = run(bin, '--version', '--json');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toEqual({ version: pkg.version });
    expect(first.err).toContain('building the command line into out/cli (first use in this checkout)');
    for (const f of ['index.js', 'build.json', 'workers/backup-job.js', 'workers/chunk-encoder.js', 'workers/repository-job.js']) expect(existsSync(join(dir, 'out/cli', f)), f).toBe(true);

    const again = run(bin, '--version');
    expect(again).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });

    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, 'electron/cli/output.ts'), later, later);
    const rebuilt = run(bin, '--version');
    expect(rebuilt.code).toBe(0);
    expect(rebuilt.err).toContain('building the command line into out/cli (electron/cli/output.ts changed)');
  });

  it('says what to run where it cannot build itself, with one JSON document under --json', () => {
    const dir = tempDir();
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    const bin = join(dir, 'bin/backstop.mjs');
    const r = run(bin, 'info', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({
      error: {
        code: 'TOOL_MISSING',
        message: `The backstop command line is not built (out/cli is missing or out of date) and cannot be built here: esbuild, a development dependency, is not installed. Run "npm ci && npm run build" in ${dir}, then try again.`,
      },
    });
    const text = run(bin, 'info');
    expect(text.code).toBe(1);
    expect(text.out).toBe('');
    expect(text.err).toContain('backstop: TOOL_MISSING: The backstop command line is not built');
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('started by a Node older than 22: TOOL_TOO_OLD naming that Node and the fix, before loading anything (not a segfault in a native module)', (ctx) => {
    const old = olderNode();
    if (!old) ctx.skip('no Node older than 22 on this machine (the test needs a real one)');
    const bin = join(ROOT, 'bin/backstop.mjs');
    const dataDir = join(tempDir(), 'data');
    const r = runWith(old!.path, bin, 'servers', '--data-dir', dataDir, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toEqual({
      error: {
        code: 'TOOL_TOO_OLD',
        message: `backstop needs Node.js 22 or later, but ${old!.path} is Node ${old!.version}. Start it with Node 22: put that Node's bin folder first on PATH (a cron table or a service has a PATH of its own), or run it by its full path (/path/to/node22/bin/node ${bin} …).`,
      },
    });
    const text = runWith(old!.path, bin, 'backup', '--config', '/nonexistent.json');
    expect(text.code).toBe(1);
    expect(text.out).toBe('');
    expect(text.err).toContain(`backstop: TOOL_TOO_OLD: backstop needs Node.js 22 or later, but ${old!.path} is Node ${old!.version}.`);
    expect(existsSync(dataDir)).toBe(false);
  });
});
