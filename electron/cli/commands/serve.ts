/**
 * `backstop serve`: the scheduler (as `backstop agent`) plus the window served to a browser
 * (electron/serve/server.ts), until SIGINT/SIGTERM.
 *
 * Contract: refuses to start (VALIDATION, nothing listens) on a non-loopback host without
 * TLS unless `--insecure-http`; with neither `--tls-cert/--tls-key` nor `--insecure-http`
 * a non-loopback host gets a self-signed certificate in `<data-dir>/serve-tls`. With
 * `--json` the first stdout line is `{"url","token"}`; otherwise the URL and token are
 * printed for a person. The password (optional) comes only from BACKSTOP_SERVE_PASSWORD; one
 * shorter than MIN_SERVE_PASSWORD characters is not accepted for sign-in (token only) and
 * `passwordWarning` says why — serve still starts, since it also runs the schedules.
 * Folders the browser may browse: each `--allow-folder`, default the home folder and
 * the data dir.
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Engine } from '../../engine/index.ts';
import { BackstopError } from '../../shared/result.ts';
import { isLoopbackHost, startServe, type ServeHandle } from '../../serve/server.ts';
import { selfSignedCertificate, userCertificate, type Certificate } from '../../serve/tls.ts';

/** Signed-in browsers' sessions, kept across restarts (serve/auth.ts). */
export const SERVE_SESSIONS_FILE = 'serve-sessions.json';

export interface ServeFlags {
  host: string;
  port: number;
  allowFolders: string[];
  allowedHosts: string[];
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp: boolean;
  /** Believe the reverse proxy's X-Forwarded-Proto (the cookie's Secure flag) and X-Forwarded-For (the sign-in limit); off unless --trust-proxy. */
  trustProxy?: boolean;
  sessionMinutes: number;
}

/** Where the built window is: out/renderer beside out/cli (or BACKSTOP_RENDERER_DIR). */
export function rendererDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.BACKSTOP_RENDERER_DIR ?? resolve(import.meta.dirname, '../../out/renderer');
}

/** Checks the flags before anything starts; answers the certificate to use (if any) and a warning to print (if any). */
export async function serveTls(flags: ServeFlags, dataDir: string): Promise<{ cert: Certificate | null; warning: string | null }> {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new BackstopError('MALFORMED_REQUEST', '--tls-cert and --tls-key go together: pass both (PEM files), or neither.');
  }
  if (flags.tlsCert && flags.insecureHttp) throw new BackstopError('MALFORMED_REQUEST', '--insecure-http and --tls-cert contradict each other: pick one.');
  if (flags.tlsCert && flags.tlsKey) return { cert: userCertificate(flags.tlsCert, flags.tlsKey), warning: null };
  if (isLoopbackHost(flags.host)) return { cert: null, warning: null };
  if (flags.insecureHttp) return { cert: null, warning: `WARNING: --insecure-http on ${flags.host}: the sign-in token, the session cookie and everything the window shows travel unencrypted over the network.` };
  return { cert: selfSignedCertificate(join(dataDir, 'serve-tls'), flags.host), warning: null };
}

/** The shortest BACKSTOP_SERVE_PASSWORD accepted (characters). */
export const MIN_SERVE_PASSWORD = 12;

export async function serveCommand(engine: Engine, flags: ServeFlags, tls: Certificate | null): Promise<{ handle: ServeHandle; allowFolders: string[]; passwordWarning: string | null }> {
  const given = process.env.BACKSTOP_SERVE_PASSWORD;
  // Guessing is limited per client address only: from many addresses (a LAN, IPv6) a short password falls.
  // Refusing to start would also stop the schedules this process runs, so the password is left out instead.
  const tooShort = !!given && [...given].length < MIN_SERVE_PASSWORD;
  const password = tooShort ? undefined : given;
  const passwordWarning = tooShort
    ? `BACKSTOP_SERVE_PASSWORD is shorter than ${MIN_SERVE_PASSWORD} characters, so it does not sign in (from many addresses a short password can be guessed): sign in with the printed token, or set a longer password (four random words, for example) and start "backstop serve" again.`
    : null;
  if (passwordWarning) engine.logger.warn(passwordWarning);
  const dir = rendererDir();
  if (!existsSync(join(dir, 'index.html'))) {
    throw new BackstopError('TOOL_MISSING', `The window is not built (${dir} has no index.html). Run "npm run build" in the Backstop folder, then start "backstop serve" again.`);
  }
  const allowFolders = flags.allowFolders.length ? flags.allowFolders.map((f) => resolve(f)) : [homedir(), engine.dataDir];
  for (const f of allowFolders) {
    if (!existsSync(f) || !statSync(f).isDirectory()) throw new BackstopError('VALIDATION', `--allow-folder ${f} is not a folder on this machine. Name an existing folder.`);
  }
  const handle = await startServe({
    engine,
    rendererDir: dir,
    host: flags.host,
    port: flags.port,
    allowedHosts: flags.allowedHosts,
    trustProxy: flags.trustProxy ?? false,
    allowFolders,
    sessionTtlMs: Math.round(flags.sessionMinutes * 60_000),
    sessionsFile: join(engine.dataDir, SERVE_SESSIONS_FILE),
    ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
    ...(password ? { password } : {}),
    onInternalError: (e, command) => engine.logger.error({ err: e, command }, 'serve: command failed unexpectedly'),
  }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') throw new BackstopError('CONFLICT', `Port ${flags.port} on ${flags.host} is already in use. Pick another with --port (0 = any free port).`);
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') throw new BackstopError('VALIDATION', `${flags.host} is not an address of this machine. Pass --host with one of its addresses.`);
    if (e.code === 'EACCES') throw new BackstopError('PERMISSION_DENIED', `Port ${flags.port} needs more privileges. Pick a port above 1023 with --port.`);
    throw e;
  });
  return { handle, allowFolders, passwordWarning };
}
