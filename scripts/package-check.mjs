#!/usr/bin/env node
/**
 * Packaging check for CI (offline, no Electron download, well under two minutes):
 *
 *  1. Validates electron-builder.yml with electron-builder's own loader and schema
 *     validator (app-builder-lib's getConfig + validateConfiguration against its
 *     scheme.json), and proves the validator is live by feeding it a broken copy.
 *  2. Builds the app with electron-vite when out/ is incomplete (or with --build), and
 *     parses every built main-process file (node --check).
 *  3. Runs `electron-builder --dir --linux` against a stand-in Electron dist (a tiny shell
 *     script carrying an Electron fuse wire, so the configured fuses are really flipped)
 *     into a temporary folder, then checks what was produced: the asar holds the built
 *     main, preload and renderer, the icons and package.json and none of the sources;
 *     the N-API modules (libsql, zstd-napi, sqlite3, @napi-rs/keyring) are unpacked with their
 *     .node binaries; the executable is named as configured; the fuses are as configured.
 *
 * Usage: node scripts/package-check.mjs [--build] [--keep]
 *   --build  rebuild out/ even when it exists     --keep  keep the temporary folder
 * Exit status 0 when every check passes, 1 otherwise (each failure is listed).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const args = new Set(process.argv.slice(2));
const started = Date.now();
const failures = [];

const BUILT = ['out/main/index.js', 'out/preload/index.cjs', 'out/renderer/index.html'];
const TRAY_STATES = ['idle', 'running', 'warning', 'error'];
const NATIVE = ['libsql', 'zstd-napi', 'sqlite3', '@napi-rs/keyring'];
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Fuse wire v1 order (@electron/fuses FuseV1Options) and the stand-in's initial states,
// which are Electron's defaults: RunAsNode, CookieEncryption, NodeOptions, CliInspect,
// AsarIntegrity, OnlyLoadAppFromAsar, BrowserV8Snapshot, FileProtocolPrivileges.
const FUSE_NAMES = ['runAsNode', 'enableCookieEncryption', 'enableNodeOptionsEnvironmentVariable', 'enableNodeCliInspectArguments', 'enableEmbeddedAsarIntegrityValidation', 'onlyLoadAppFromAsar', 'loadBrowserProcessSpecificV8Snapshot', 'grantFileProtocolExtraPrivileges'];
const FUSE_DEFAULTS = '10110001';

function step(msg) {
  console.log(`\n▶ ${msg}`);
}
function check(ok, msg) {
  if (ok) console.log(`  ✓ ${msg}`);
  else {
    console.log(`  ✗ ${msg}`);
    failures.push(msg);
  }
  return ok;
}
function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, encoding: 'utf8', timeout: 150_000, ...opts });
  if (r.error) throw r.error;
  return r;
}

// ───────────── 1. schema ─────────────
step('electron-builder.yml against electron-builder’s schema');
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js');
const { DebugLogger } = require('builder-util');
const config = await getConfig(root, join(root, 'electron-builder.yml'), null);
try {
  await validateConfiguration(structuredClone(config), new DebugLogger(false));
  check(true, `valid (${Object.keys(config).length} top-level keys)`);
} catch (e) {
  check(false, `invalid configuration:\n${e.message}`);
}
try {
  await validateConfiguration({ ...structuredClone(config), asarUnpack: 42, bogusOption: true }, new DebugLogger(false));
  check(false, 'the validator accepted a deliberately broken copy (it is not validating)');
} catch {
  check(true, 'a deliberately broken copy is rejected (the validator is live)');
}
const executableName = config.linux?.executableName ?? config.productName;
check(typeof executableName === 'string' && executableName.length > 0, `linux executable name: ${executableName}`);

// ───────────── 2. build ─────────────
step('built app (out/)');
if (args.has('--build') || !BUILT.every((f) => existsSync(join(root, f)))) {
  console.log('  building with electron-vite …');
  const r = run(join(root, 'node_modules/.bin/electron-vite'), ['build'], { stdio: 'inherit' });
  if (!check(r.status === 0, 'electron-vite build')) finish();
}
for (const f of BUILT) check(existsSync(join(root, f)), f);
// Nothing else loads the built main bundle here (Electron cannot run), so at least parse it:
// a bundler-injected shim clashing with a module's own binding is a SyntaxError at launch.
const mainJs = readdirSync(join(root, 'out/main'), { recursive: true }).map(String).filter((f) => f.endsWith('.js'));
const unparsable = mainJs.filter((f) => run(process.execPath, ['--check', join(root, 'out/main', f)]).status !== 0);
check(mainJs.length > 0 && unparsable.length === 0, `out/main: ${mainJs.length} files parse (node --check)${unparsable.length ? `; not: ${unparsable.join(', ')}` : ''}`);

// ───────────── 3. package ─────────────
step('electron-builder --dir --linux with a stand-in Electron');
const tmp = mkdtempSync(join(tmpdir(), 'backstop-package-'));
const dist = join(tmp, 'electron-dist');
const output = join(tmp, 'release');
mkdirSync(join(dist, 'resources'), { recursive: true });
// A shell script standing in for the Electron binary; its last line carries a fuse wire
// (sentinel, version byte 1, length byte, one "0"/"1" per fuse) as @electron/fuses reads it.
writeFileSync(
  join(dist, 'electron'),
  Buffer.concat([
    Buffer.from('#!/bin/sh\necho "stand-in Electron binary (scripts/package-check.mjs)"\nexit 0\n# '),
    Buffer.from(FUSE_SENTINEL),
    Buffer.from([1, FUSE_DEFAULTS.length]),
    Buffer.from(FUSE_DEFAULTS),
    Buffer.from('\n'),
  ]),
);
chmodSync(join(dist, 'electron'), 0o755);
writeFileSync(join(dist, 'LICENSE'), 'stand-in\n');
writeFileSync(join(dist, 'version'), `${require('electron/package.json').version}\n`);
const electronVersion = require('electron/package.json').version;

const builder = run(
  join(root, 'node_modules/.bin/electron-builder'),
  ['--dir', '--linux', '--x64', '--publish', 'never', `-c.electronDist=${dist}`, `-c.electronVersion=${electronVersion}`, `-c.directories.output=${output}`],
  { env: { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: '1', CSC_IDENTITY_AUTO_DISCOVERY: 'false', ELECTRON_BUILDER_CACHE: join(tmp, 'cache') } },
);
if (!check(builder.status === 0, `electron-builder exited with ${builder.status} (Electron ${electronVersion})`)) {
  console.log(`${builder.stdout}\n${builder.stderr}`.split('\n').filter((l) => !l.includes('duplicate dependency references')).join('\n'));
  finish();
}

const appDir = join(output, 'linux-unpacked');
const resources = join(appDir, 'resources');
const asarPath = join(resources, 'app.asar');
check(existsSync(join(appDir, executableName)), `executable ${relative(tmp, join(appDir, executableName))}`);
check(existsSync(asarPath), 'resources/app.asar');

step('app.asar contents');
const asar = require('@electron/asar');
const entries = new Set(asar.listPackage(asarPath, { isPack: false }).map((p) => p.replaceAll('\\', '/')));
const expected = ['/package.json', ...BUILT.map((f) => `/${f}`), '/resources/icon.png', ...TRAY_STATES.flatMap((s) => [`/resources/tray/${s}.png`, `/resources/tray/${s}@2x.png`])];
for (const f of expected) check(entries.has(f), f);
const pkg = JSON.parse(asar.extractFile(asarPath, 'package.json').toString('utf8'));
check(pkg.main === 'out/main/index.js' && entries.has(`/${pkg.main}`), `package.json main (${pkg.main}) is packed`);
const own = [...entries].filter((p) => !p.startsWith('/node_modules/'));
const leaked = own.filter((p) => /^\/(electron|renderer|tests|docs|scripts|release|scratch)(\/|$)/.test(p) || /\.(ts|vue|map)$/.test(p));
check(leaked.length === 0, `no sources, tests or maps in the app${leaked.length ? `: ${leaked.slice(0, 5).join(', ')}` : ''}`);
check(![...entries].some((p) => p.startsWith('/node_modules/electron/') || p.startsWith('/node_modules/vitest/') || p.startsWith('/node_modules/tsx/')), 'no dev dependencies (electron, vitest, tsx) packed');
// The CLI build runs on Node through bin/backstop.mjs; the app cannot run it (the runAsNode fuse is off).
check(![...entries].some((p) => p.startsWith('/out/cli/')), 'the CLI build (out/cli) is not packed');

step('native modules unpacked next to the asar');
const unpacked = join(resources, 'app.asar.unpacked', 'node_modules');
const nodeFiles = (dir) => {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.node') && statSync(join(dir, String(f))).isFile());
};
for (const name of NATIVE) {
  const dir = join(unpacked, name);
  check(existsSync(join(dir, 'package.json')), `app.asar.unpacked/node_modules/${name}`);
}
// Prebuilt binaries live in per-platform sibling packages for libsql and keyring.
check(nodeFiles(join(unpacked, '@libsql')).length > 0, 'libsql binary (@libsql/<platform>/*.node) unpacked');
check(nodeFiles(join(unpacked, 'zstd-napi')).length > 0, 'zstd-napi binary (*.node) unpacked');
check(nodeFiles(join(unpacked, 'sqlite3')).length > 0, 'sqlite3 binary (*.node) unpacked');
check(nodeFiles(join(unpacked, '@napi-rs')).length > 0, '@napi-rs/keyring binary (*.node) unpacked');

step('Electron fuses flipped as configured');
const binary = readFileSync(join(appDir, executableName));
const at = binary.indexOf(FUSE_SENTINEL);
if (check(at >= 0, 'fuse wire present in the packaged executable')) {
  const wire = binary.subarray(at + FUSE_SENTINEL.length + 2, at + FUSE_SENTINEL.length + 2 + FUSE_DEFAULTS.length).toString('latin1');
  const fuses = config.electronFuses ?? {};
  FUSE_NAMES.forEach((name, i) => {
    const want = name in fuses && fuses[name] !== null ? (fuses[name] ? '1' : '0') : FUSE_DEFAULTS[i];
    check(wire[i] === want, `${name} = ${want === '1' ? 'on' : 'off'}${name in fuses ? '' : ' (Electron default)'}`);
  });
}

finish();

function finish() {
  if (args.has('--keep')) console.log(`\nKept ${tmp}`);
  else if (typeof tmp === 'string') rmSync(tmp, { recursive: true, force: true });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (failures.length) {
    console.log(`\n✗ package check failed (${failures.length}) in ${secs} s:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exit(1);
  }
  console.log(`\n✓ package check passed in ${secs} s`);
  process.exit(0);
}
