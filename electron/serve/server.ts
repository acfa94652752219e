/**
 * `backstop serve`: the built renderer over HTTP(S) and the typed contract over a
 * WebSocket, behind a login. One engine, the same handler table and `dispatch` as the
 * Electron IPC (engine/api/dispatch.ts), so every payload is parsed by the contract's zod
 * schemas and answered with the same Result and error codes.
 *
 * Contract (docs/HEADLESS.md "Security model" is the user's version):
 * - Every request first passes the Host check: a Host whose name is not in `allowedHosts`
 *   (the bound address — for 0.0.0.0/:: every interface address and the host name —,
 *   127.0.0.1, localhost, ::1, plus any the user added) gets 421
 *   (DNS rebinding).
 * - Authenticated = a live session cookie (`backstop_session`, HttpOnly, SameSite=Strict,
 *   Secure under TLS — or, with `trustProxy`, when the proxy says `X-Forwarded-Proto: https` —,
 *   ends after `sessionTtlMs`) or `Authorization: Bearer <token>`.
 * - Every URL the server writes (the sign-in form's action, the redirect after it) is relative
 *   to the request's path, so the window works under a reverse proxy's path prefix
 *   (`location /backstop/ { proxy_pass http://127.0.0.1:PORT/; }`) as at the root.
 *   Without it: /api/* answers 401 with a FORBIDDEN_SENDER failure; anything else answers
 *   401 with the login page, never the app or its assets.
 * - POST /login (form field `secret`: the printed token or the password) starts a session
 *   and redirects to the window (./). A foreign Origin is refused (403); after 5 failed
 *   logins (form or Bearer) in a minute from one address (with `trustProxy`: the last
 *   X-Forwarded-For entry) every further attempt gets 429 with Retry-After.
 * - State-changing HTTP requests made with the cookie need the session's CSRF token in
 *   `X-Backstop-CSRF` and, when the browser sends one, a same-site Origin; else 403.
 *   Bearer requests need neither (a browser never adds that header by itself).
 * - POST /api/commands/<name> (JSON body = the payload) answers the command's Result, for
 *   scripts. GET /api/session answers the session's CSRF token and expiry. POST /logout
 *   ends the session.
 * - GET /api/ws upgrades to the WebSocket when authenticated and the Origin is this
 *   server's own (a browser always sends one; without one only Bearer is accepted); else
 *   401/403 before any upgrade. Messages: `{id, command, payload}` → `{id, result}`;
 *   `{id, op: 'browse', path?}` and `{id, op: 'dialog', command, payload}` answer the folder
 *   browser (folders.ts); engine events arrive as `{event, payload}`. The socket closes
 *   with 4401 when its session ends.
 * - Every answer carries a strict CSP (no inline script, connect-src only this origin),
 *   nosniff, Referrer-Policy same-origin and frame-ancestors 'none'. The served index.html loads
 *   backstop-serve.js (the browser bridge, renderer/public/backstop-serve-shim.js) before
 *   the app.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { dispatch, type Handlers } from '../engine/api/dispatch.ts';
import { EVENTS } from '../shared/ipc/channels.ts';
import { COMMANDS, commandInputs } from '../shared/ipc/contract.ts';
import { BackstopError, fail, ok, toFailure, type Result } from '../shared/result.ts';
import { Auth } from './auth.ts';
import { FolderBrowser } from './folders.ts';
import { loginPage } from './login-page.ts';
import { openContractSession, type ContractSession, type ContractSessionOptions } from './contract-session.ts';
import { acceptWebSocket, isWebSocketUpgrade, rejectUpgrade, type WebSocketPeer } from './websocket.ts';

export interface ServeEngine {
  handlers: Handlers;
  events: { onAny(listener: (name: string, payload: unknown) => void): () => void };
}

export interface ServeOptions {
  engine: ServeEngine;
  rendererDir: string;
  host: string;
  port: number;
  /** Extra Host names accepted (a reverse proxy's public name). */
  allowedHosts?: string[];
  /** Believe the proxy in front (`--trust-proxy`): `X-Forwarded-Proto: https` makes the cookie Secure (the CSP wss:), the last `X-Forwarded-For` entry is the client the sign-in limit counts. Off by default. */
  trustProxy?: boolean;
  /** Folders the folder browser may show. */
  allowFolders: string[];
  tls?: { cert: Buffer | string; key: Buffer | string };
  password?: string;
  sessionTtlMs?: number;
  /** Keeps sessions across restarts (auth.ts); without it they end with the process. */
  sessionsFile?: string;
  maxLoginFailures?: number;
  now?: () => number;
  onInternalError?: (e: unknown, command: string) => void;
}

export interface ServeHandle {
  url: string;
  /** The login token (also the Bearer token); the server keeps only its hash. */
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'backstop_session';
/** The hint for a path that only a reverse proxy keeping its path prefix would send. */
const UNSTRIPPED_PREFIX =
  'Behind a reverse proxy under a path prefix, the proxy must remove the prefix: in nginx, end proxy_pass with a slash (location /backstop/ { proxy_pass http://127.0.0.1:8765/; }).';
const DEFAULT_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_BODY = 16 * 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/**
 * The names a browser may use for this machine when the server listens on every address
 * (`0.0.0.0`, `::`): each interface address and the host name; for a specific address, just it.
 */
export function namesForBind(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host];
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
  return [hostname(), ...addresses];
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The host name of a Host header or an Origin's host ("[::1]:8080" → "::1"). */
function hostName(hostHeader: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(hostHeader);
  if (m) return m[1]!.toLowerCase();
  return hostHeader.replace(/:\d+$/, '').toLowerCase();
}

/** The way back to the served root from a request path, relative ("/" → "./", "/assets/a.js" → "../"): works under any path prefix. */
export function relativeRoot(path: string): string {
  const depth = Math.max(0, path.split('/').length - 2);
  return depth === 0 ? './' : '../'.repeat(depth);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return out;
}

function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? m[1]! : null;
}

/**
 * The address the sign-in limit counts by: the connecting peer, or — trusting the proxy — the
 * last X-Forwarded-For entry, the one the proxy itself appended (entries before it are the
 * client's to invent).
 */
function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const forwarded = req.headers['x-forwarded-for'];
  if (!trustProxy || typeof forwarded !== 'string') return peer;
  const last = forwarded.split(',').pop()!.trim();
  return last === '' ? peer : last.slice(0, 100);
}

async function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startServe(opts: ServeOptions): Promise<ServeHandle> {
  const rendererDir = resolve(opts.rendererDir);
  const indexHtml = await readFile(join(rendererDir, 'index.html'), 'utf8').catch(() => {
    throw new BackstopError('TOOL_MISSING', `The window is not built (${join(rendererDir, 'index.html')} is missing). Run "npm run build" in the Backstop folder, then start "backstop serve" again.`);
  });
  const shim = await readFile(join(rendererDir, 'backstop-serve-shim.js'), 'utf8').catch(() => {
    throw new BackstopError('TOOL_MISSING', `The window's build is incomplete (${join(rendererDir, 'backstop-serve-shim.js')} is missing: it was built by an older Backstop, or is not a Backstop window build). Run "npm run build" in the Backstop folder, then start "backstop serve" again.`);
  });
  const servedIndex = indexHtml
    .replace(/<meta\s+http-equiv="Content-Security-Policy"[^>]*>\s*/i, '')
    .replace(/<\/head>/i, '  <script src="./backstop-serve.js"></script>\n  </head>');
  const bridgeScript = `window.__BACKSTOP_SERVE__ = ${JSON.stringify({ commands: COMMANDS, events: EVENTS })};\n${shim}`;

  const now = opts.now ?? Date.now;
  const auth = new Auth({ ttlMs: opts.sessionTtlMs ?? DEFAULT_TTL_MS, now, ...(opts.password ? { password: opts.password } : {}), ...(opts.maxLoginFailures ? { maxFailures: opts.maxLoginFailures } : {}), ...(opts.sessionsFile ? { sessionsFile: opts.sessionsFile } : {}) });
  const token = auth.takeToken();
  const folders = new FolderBrowser(opts.allowFolders);
  const secure = opts.tls !== undefined;
  const trust = opts.trustProxy === true;
  const allowed = new Set([...LOOPBACK].map((h) => hostName(h)));
  for (const name of namesForBind(opts.host)) allowed.add(hostName(name.includes(':') && !name.startsWith('[') ? `[${name}]` : name));
  for (const h of opts.allowedHosts ?? []) allowed.add(hostName(h));
  const peers = new Set<{ peer: WebSocketPeer; sessionId: string | null; timer: NodeJS.Timeout | null }>();

  /** Whether the browser speaks HTTPS: ours, or the trusted proxy's (never a forwarded header by default). */
  function browserSecure(req: IncomingMessage): boolean {
    if (secure) return true;
    if (!opts.trustProxy) return false;
    const proto = req.headers['x-forwarded-proto'];
    return typeof proto === 'string' && proto.split(',')[0]!.trim().toLowerCase() === 'https';
  }

  function baseHeaders(req: IncomingMessage, res: ServerResponse, host: string): void {
    const ws = `${browserSecure(req) ? 'wss' : 'ws'}://${host}`;
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self' ${ws}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // same-origin, not no-referrer: under no-referrer a browser's form POST says `Origin: null`, which the Origin check refuses.
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    if (secure) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
  }

  function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string | string[]> = {}): void {
    res.statusCode = status;
    res.setHeader('Content-Type', type);
    for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    res.end(body);
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), { 'Cache-Control': 'no-store', ...extra });
  }

  function refuse(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
    sendJson(res, status, fail('FORBIDDEN_SENDER', message), extra);
  }

  function hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    return typeof host === 'string' && allowed.has(hostName(host));
  }

  /** null = no Origin header; true/false = same site or not. */
  function originMatches(req: IncomingMessage): boolean | null {
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    try {
      const u = new URL(origin);
      return u.host.toLowerCase() === String(req.headers.host).toLowerCase() && allowed.has(hostName(u.host));
    } catch {
      return false;
    }
  }

  /** `limited`: a Bearer attempt from an address already over the failed-login limit (not checked). */
  type Who = { kind: 'session'; id: string; csrf: string; expiresAt: number } | { kind: 'bearer' } | { kind: 'none'; limited: boolean };

  function who(req: IncomingMessage): Who {
    const b = bearer(req);
    if (b !== null) {
      if (auth.limited(clientIp(req, trust))) return { kind: 'none', limited: true };
      if (auth.checkSecret(b)) return { kind: 'bearer' };
      auth.recordFailure(clientIp(req, trust));
      return { kind: 'none', limited: false };
    }
    const id = cookies(req).get(COOKIE);
    const s = auth.session(id);
    return s && id ? { kind: 'session', id, csrf: s.csrf, expiresAt: s.expiresAt } : { kind: 'none', limited: false };
  }

  function sessionCookie(req: IncomingMessage, value: string, maxAgeSeconds: number): string {
    return `${COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${browserSecure(req) ? '; Secure' : ''}`;
  }

  /**
   * Why a foreign Origin was refused. A proxy that passes the Host without the browser's port
   * (nginx's `$host`), or no Host at all (serve then sees its loopback address), makes the
   * window's own Origin look foreign: those cases name the fix.
   */
  function foreignOrigin(req: IncomingMessage, what: string, sign = false): string {
    try {
      const origin = new URL(String(req.headers.origin));
      const host = String(req.headers.host ?? '');
      const from = origin.origin.slice(0, 200);
      if (origin.port !== '' && hostName(origin.host) === hostName(host) && !/:\d+$/.test(host)) {
        return `${what} came from ${from}, but the Host header says "${host.slice(0, 100)}" without the port, so it was refused. The reverse proxy in front of Backstop must pass the Host as the browser sent it: in nginx, "proxy_set_header Host $http_host;" (not $host).`;
      }
      // A proxy that does not pass the Host at all (nginx's default): serve sees its own loopback
      // address. Said on the sign-in page only, where a person reads it, and without naming the
      // Origin as a name to allow: a foreign site's forged sign-in gets this page too.
      if (sign && isLoopbackHost(hostName(host)) && !isLoopbackHost(hostName(origin.host))) {
        return `${what} came from another site and was refused. If you opened Backstop through a reverse proxy, the proxy must pass the browser's Host header (in nginx, "proxy_set_header Host $http_host;") and "backstop serve" must know that name (--allowed-host NAME).`;
      }
    } catch {
      // an Origin that is not a URL: plainly foreign
    }
    return `${what} came from another site and was refused.`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = String(req.headers.host ?? '');
    if (!hostAllowed(req)) {
      const name = hostName(host).slice(0, 100);
      return send(res, 421, 'text/plain; charset=utf-8', `This Backstop server does not answer for the host "${host.slice(0, 100)}". Open it by its own address, or — when that is the name of your reverse proxy — start "backstop serve" with --allowed-host ${name || 'NAME'}.`);
    }
    baseHeaders(req, res, host);
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const ip = clientIp(req, trust);
    const root = relativeRoot(path);
    const login = (message?: string): string => loginPage(message, `${root}login`);

    if (path === '/login' && method === 'GET') return send(res, 200, 'text/html; charset=utf-8', login(), { 'Cache-Control': 'no-store' });
    if (path === '/login' && method === 'POST') {
      if (originMatches(req) === false) return send(res, 403, 'text/html; charset=utf-8', login(foreignOrigin(req, 'This sign-in', true)));
      if (auth.limited(ip)) {
        return send(res, 429, 'text/html; charset=utf-8', login('Too many failed sign-ins from this address. Wait a minute, then try again.'), { 'Retry-After': String(auth.retryAfterSeconds(ip)) });
      }
      const form = new URLSearchParams(await readBody(req, 8192));
      if (!auth.checkSecret(form.get('secret') ?? '')) {
        auth.recordFailure(ip);
        return send(res, 401, 'text/html; charset=utf-8', login('That token or password is not right. Use the token "backstop serve" printed when it started.'));
      }
      const { id } = auth.createSession();
      res.setHeader('Set-Cookie', sessionCookie(req, id, Math.floor((opts.sessionTtlMs ?? DEFAULT_TTL_MS) / 1000)));
      res.statusCode = 303;
      res.setHeader('Location', root);
      return void res.end();
    }

    // A proxy that keeps its path prefix (nginx "proxy_pass http://127.0.0.1:PORT;" without the
    // trailing slash under "location /backstop/"): the form posts to /backstop/login. Say so.
    if (method === 'POST' && path.endsWith('/login')) return send(res, 404, 'text/html; charset=utf-8', login(UNSTRIPPED_PREFIX));

    const w = who(req);
    const isApi = path.startsWith('/api/');
    if (w.kind === 'none') {
      if (w.limited) {
        return refuse(res, 429, 'Too many failed sign-ins from this address. Wait a minute, then try again.', { 'Retry-After': String(auth.retryAfterSeconds(ip)) });
      }
      if (isApi || method !== 'GET') return refuse(res, 401, 'Sign in first: send "Authorization: Bearer <token>" with the token "backstop serve" printed, or sign in at /login.');
      return send(res, 401, 'text/html; charset=utf-8', login(), { 'Cache-Control': 'no-store' });
    }

    const stateChanging = method !== 'GET' && method !== 'HEAD';
    if (stateChanging && w.kind === 'session') {
      if (originMatches(req) === false) return refuse(res, 403, foreignOrigin(req, 'This request'));
      if (req.headers['x-backstop-csrf'] !== w.csrf) return refuse(res, 403, 'This request has no valid X-Backstop-CSRF token (GET /api/session gives it) and was refused.');
    }

    if (path === '/logout' && method === 'POST') {
      if (w.kind === 'session') auth.end(w.id);
      res.setHeader('Set-Cookie', sessionCookie(req, '', 0));
      return sendJson(res, 200, ok({ signedOut: true }));
    }
    if (path === '/api/session' && method === 'GET') {
      return sendJson(res, 200, ok(w.kind === 'session' ? { csrf: w.csrf, expiresAt: new Date(w.expiresAt).toISOString() } : { csrf: null, expiresAt: null }));
    }
    if (path.startsWith('/api/commands/') && method === 'POST') {
      const name = decodeURIComponent(path.slice('/api/commands/'.length));
      let payload: unknown;
      try {
        const body = await readBody(req);
        payload = body.trim() === '' ? undefined : JSON.parse(body);
      } catch (e) {
        if ((e as { status?: number }).status === 413) return sendJson(res, 413, fail('MALFORMED_REQUEST', 'The request body is larger than 16 MiB.'));
        return sendJson(res, 400, fail('MALFORMED_REQUEST', 'The request body is not valid JSON.'));
      }
      return sendJson(res, 200, await runCommand(name, payload));
    }
    if (isApi) return sendJson(res, 404, fail('NOT_FOUND', `There is no ${method} ${path.slice(0, 100)}.`));
    if (method !== 'GET' && method !== 'HEAD') return sendJson(res, 405, fail('MALFORMED_REQUEST', `${method} is not accepted here.`));

    if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', servedIndex, { 'Cache-Control': 'no-store' });
    if (path === '/backstop-serve.js') return send(res, 200, 'text/javascript; charset=utf-8', bridgeScript, { 'Cache-Control': 'no-store' });
    return serveStatic(res, path);
  }

  async function serveStatic(res: ServerResponse, path: string): Promise<void> {
    let rel: string;
    try {
      rel = normalize(decodeURIComponent(path)).replace(/^[/\\]+/, '');
    } catch {
      return sendJson(res, 400, fail('MALFORMED_REQUEST', 'Bad path.'));
    }
    const file = resolve(rendererDir, rel);
    if (!file.startsWith(rendererDir + sep)) return sendJson(res, 404, fail('NOT_FOUND', 'Not found.'));
    try {
      const body = await readFile(file);
      return send(res, 200, TYPES[extname(file)] ?? 'application/octet-stream', body, { 'Cache-Control': 'no-cache' });
    } catch {
      return sendJson(res, 404, fail('NOT_FOUND', `Not found. ${UNSTRIPPED_PREFIX}`));
    }
  }

  async function runCommand(name: string, payload: unknown): Promise<Result<unknown>> {
    if (name === 'dialog.chooseFolder' || name === 'dialog.saveFile') {
      const parsed = commandInputs[name].safeParse(payload);
      if (!parsed.success) return fail('MALFORMED_REQUEST', `Invalid request for ${name}.`);
      return fail('MALFORMED_REQUEST', `${name} is answered by the window's folder browser; a script names the path itself.`);
    }
    return dispatch(opts.engine.handlers, name as (typeof COMMANDS)[number], payload, opts.onInternalError);
  }

  /** The served window's own ops beside the commands: the folder browser (folders.ts). */
  const ops: ContractSessionOptions['ops'] = {
    browse: async (msg) => {
      if (msg.path !== undefined && (typeof msg.path !== 'string' || msg.path.length > 4096)) return fail('MALFORMED_REQUEST', 'browse: path must be a string.');
      return ok(await folders.browse(msg.path as string | undefined));
    },
    checkSave: async (msg) => {
      if (typeof msg.path !== 'string' || msg.path.length > 4096) return fail('MALFORMED_REQUEST', 'checkSave: path must be a string.');
      return ok({ path: await folders.checkSavePath(msg.path) });
    },
    dialog: async (msg) => {
      const name = msg.command;
      if (name !== 'dialog.chooseFolder' && name !== 'dialog.saveFile') return fail('MALFORMED_REQUEST', 'dialog: unknown dialog.');
      const parsed = commandInputs[name].safeParse(msg.payload);
      if (!parsed.success) return fail('MALFORMED_REQUEST', `Invalid request for ${name}.`);
      return ok(await folders.start(parsed.data.defaultPath));
    },
  };

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    if (!hostAllowed(req)) return rejectUpgrade(socket, 421, 'Misdirected Request', 'Unknown host.');
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/api/ws' || !isWebSocketUpgrade(req)) return rejectUpgrade(socket, 404, 'Not Found', 'Not found.');
    const w = who(req);
    if (w.kind === 'none') return rejectUpgrade(socket, 401, 'Unauthorized', 'Sign in first.');
    const origin = originMatches(req);
    if (origin === false || (origin === null && w.kind !== 'bearer')) return rejectUpgrade(socket, 403, 'Forbidden', origin === false ? foreignOrigin(req, 'This connection') : 'This connection came from another site and was refused.');
    const entry: { peer: WebSocketPeer; sessionId: string | null; timer: NodeJS.Timeout | null } = { peer: null as unknown as WebSocketPeer, sessionId: w.kind === 'session' ? w.id : null, timer: null };
    let session: ContractSession | null = null;
    entry.peer = acceptWebSocket(req, socket, head, {
      onMessage: (text) => session?.message(text),
      onClose: () => {
        if (entry.timer) clearTimeout(entry.timer);
        session?.end();
        peers.delete(entry);
      },
    });
    session = openContractSession({
      channel: entry.peer,
      run: runCommand,
      ops,
      events: opts.engine.events,
      allowed: () => entry.sessionId === null || auth.session(entry.sessionId) !== null,
    });
    if (w.kind === 'session') {
      entry.timer = setTimeout(() => entry.peer.close(4401, 'session ended'), Math.max(0, Math.min(w.expiresAt - now(), 2 ** 31 - 1)));
      entry.timer.unref();
    }
    peers.add(entry);
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((e) => {
      opts.onInternalError?.(e, 'http');
      if (!res.headersSent) sendJson(res, 500, toFailure(e));
      else res.destroy();
    });
  };
  const server: Server = secure ? createHttpsServer({ cert: opts.tls!.cert, key: opts.tls!.key }, listener) : createHttpServer(listener);
  server.on('upgrade', upgrade);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const shownHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `${secure ? 'https' : 'http'}://${shownHost}:${address.port}/`,
    token,
    close: async () => {
      for (const p of peers) p.peer.close(1001, 'server stopping');
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
