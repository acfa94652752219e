/**
 * Spawning database client tools with secrets in the environment only.
 *
 * Contract:
 * - Secrets (passwords) go into `env` (PGPASSWORD, MYSQL_PWD), never into `args`; every
 *   message built from a tool's stderr is scrubbed of the `secrets` values as well.
 * - The inherited environment is cleaned of PG* / MYSQL* variables so a user's shell
 *   settings cannot redirect a tool to another server or database; messages are forced
 *   to English (LC_MESSAGES=C) so stderr can be classified.
 * - A failing tool becomes the BackstopError its `classify` function returns (shown its
 *   stderr, or of a longer one its first 16 KB and its end, 64 KB in all: the error a tool
 *   stops on comes last; StderrKeeper); a tool that cannot be started becomes TOOL_MISSING;
 *   an aborted signal kills the child (SIGTERM, then SIGKILL after 3 s) and becomes CANCELED.
 * - `streamTool`: the returned stream ends only after the child exited with 0; on any
 *   failure it is destroyed with the error (see connector.ts). `refine` may replace the
 *   classified error after a look at the server (e.g. "was the database dropped?"). Its
 *   buffers are the pipe's own reads, each a fresh ArrayBuffer nothing else keeps
 *   (DumpStream.handsOverBuffers).
 * - `retry` (runTool, streamTool): a failure it accepts (a server refusing a session because
 *   its connection slots are full) is tried again after a growing pause, CONNECT_RETRY_MS in
 *   all, as long as the tool wrote nothing to stdout; then the last failure stands.
 */
import { lowerProcessPriority } from '../runtime/background-priority.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackstopError } from '../../shared/result.ts';

export interface ToolCommand {
  /** Absolute path of the executable. */
  path: string;
  args: string[];
  /** Extra environment (secrets go here and nowhere else). */
  env?: Record<string, string>;
  /** Values that must never appear in a message. */
  secrets?: (string | null | undefined)[];
  cwd?: string;
  /** Run as another OS user (e.g. postgres when Backstop runs as root). */
  uid?: number;
  gid?: number;
}

export interface ToolFailure {
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type Classifier = (failure: ToolFailure) => BackstopError;

const MAX_STDERR = 64 * 1024;
/**
 * How far a dump tool may run ahead of the backup pipeline. Without it the tool stops
 * every 16–64 KiB while the pipeline chunks and hashes, and the two take turns instead
 * of running side by side.
 */
export const DUMP_READ_AHEAD_BYTES = 8 * 1024 * 1024;
/** Pipe reads are at most 64 KiB: the read-ahead counted in buffers rather than bytes. */
const READ_AHEAD_BUFFERS = DUMP_READ_AHEAD_BYTES / (64 * 1024);
const KILL_GRACE_MS = 3000;

export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(PG|MYSQL|MARIADB)/i.test(k)) continue;
    env[k] = v;
  }
  env.LC_MESSAGES = 'C';
  env.LANGUAGE = 'C';
  return { ...env, ...extra };
}

/** Removes secret values from text meant for a message or a log. */
export function scrub(text: string, secrets: (string | null | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/**
 * What is kept of a tool's stderr: all of it up to MAX_STDERR, else its first quarter, a cut
 * marker and its end (where a tool writes the error it stopped on), MAX_STDERR in all — a
 * client that echoes a failing 80 MB statement before the error line must not push that line
 * out. Kept as the tool writes, at a cost per write of that write's length: the head is kept
 * once, the tail grows to twice its share before it is cut. (Cutting everything kept so far
 * on every write re-copied 64 KB each time: pg_restore --verbose writes a line per TOC entry,
 * and 24,000 of them took 20 s of a 20,000-large-object restore.)
 */
export class StderrKeeper {
  private head = '';
  private tail: string | null = null;
  private static readonly HEAD = MAX_STDERR / 4;
  private static readonly CUT = '\n[…]\n';
  private static readonly TAIL = MAX_STDERR - StderrKeeper.HEAD - StderrKeeper.CUT.length;

  add(text: string): void {
    if (this.tail === null) {
      const all = this.head + text;
      if (all.length <= MAX_STDERR) {
        this.head = all;
        return;
      }
      this.head = all.slice(0, StderrKeeper.HEAD);
      this.tail = all.slice(StderrKeeper.HEAD);
    } else this.tail += text;
    if (this.tail.length > 2 * StderrKeeper.TAIL) this.tail = this.tail.slice(-StderrKeeper.TAIL);
  }

  /** What is kept of everything added: all of it, or its head, the cut marker and its last bytes. */
  text(): string {
    return this.tail === null ? this.head : `${this.head}${StderrKeeper.CUT}${this.tail.slice(-StderrKeeper.TAIL)}`;
  }
}

/** Longest stderr line an error message quotes whole (a longer one, e.g. an echoed statement, is shortened). */
const MAX_DETAIL_LINE = 300;

/** The last few meaningful stderr lines, scrubbed, for an error message. */
export function stderrDetail(stderr: string, secrets: (string | null | undefined)[] = [], lines = 3): string {
  const useful = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => (l.length > MAX_DETAIL_LINE ? `${l.slice(0, MAX_DETAIL_LINE)}…` : l));
  return scrub(useful.slice(-lines).join(' | '), secrets).slice(0, 1000);
}

function canceled(): BackstopError {
  return new BackstopError('CANCELED', 'The operation was canceled.');
}

function toolMissing(cmd: ToolCommand, e: unknown): BackstopError {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return new BackstopError('TOOL_MISSING', `Could not start ${cmd.path} (${code}). Install the client tools or set their folder in Settings.`);
}

interface Spawned {
  child: ChildProcess | null;
  /** Settles when the child exited and its stdio closed: null on success, else the error. */
  outcome: Promise<BackstopError | null>;
}

function start(cmd: ToolCommand, classify: Classifier, signal: AbortSignal | undefined, stdin: 'pipe' | 'ignore'): Spawned {
  const holder: { child: ChildProcess | null } = { child: null };
  const stderr = new StderrKeeper();
  let aborted = false;
  const outcome = new Promise<BackstopError | null>((resolve) => {
    if (signal?.aborted) {
      resolve(canceled());
      return;
    }
    const child = spawn(cmd.path, cmd.args, {
      env: childEnv(cmd.env),
      cwd: cmd.cwd,
      stdio: [stdin, 'pipe', 'pipe'],
      windowsHide: true,
      ...(cmd.uid === undefined ? {} : { uid: cmd.uid, gid: cmd.gid }),
    });
    holder.child = child;
    lowerProcessPriority(child.pid);
    let spawnError: unknown = null;
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      stderr.add(d);
    });
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (aborted) resolve(canceled());
      else if (spawnError !== null) resolve(toolMissing(cmd, spawnError));
      else if (code === 0) resolve(null);
      else resolve(classify({ stderr: scrub(stderr.text(), cmd.secrets), code, signal: sig }));
    });
  });
  // holder.child is set synchronously by the executor unless the signal was already aborted.
  return { child: holder.child, outcome };
}

/**
 * The pauses before each new try of a `retry` failure: a session refused because the server's
 * (or the role's) connection slots are full is mostly one that asked in the moment after
 * another session's client left and before its server process ended; a busier server frees
 * slots within seconds. About 15 s in all, then the failure stands.
 */
export const CONNECT_RETRY_MS = [50, 100, 200, 400, 800, 1500, 3000, 4000, 5000] as const;

/** Which failures a tool is tried again on (see CONNECT_RETRY_MS): given the tool's failure before it is classified. */
export type RetryWhen = (failure: ToolFailure) => boolean;

/** Resolves after `ms`, or rejects with CANCELED when `signal` aborts first. */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(canceled());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(canceled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `classify`, remembering whether `retry` accepts the failure it classified. */
function watching(classify: Classifier, retry: RetryWhen | undefined): { classify: Classifier; retryable: () => boolean } {
  let last = false;
  return {
    classify: (f) => {
      last = retry?.(f) ?? false;
      return classify(f);
    },
    retryable: () => last,
  };
}

/** Runs a tool to completion and resolves its stdout (utf8). */
export async function runTool(cmd: ToolCommand, opts: { classify: Classifier; input?: string; signal?: AbortSignal; retry?: RetryWhen }): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const w = watching(opts.classify, opts.retry);
    const { child, outcome } = start(cmd, w.classify, opts.signal, opts.input === undefined ? 'ignore' : 'pipe');
    if (!child) throw (await outcome) ?? canceled();
    let stdout = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => (stdout += d));
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => undefined); // EPIPE when the tool exits early; its exit code tells.
      child.stdin?.end(opts.input);
    }
    const err = await outcome;
    if (!err) return stdout;
    const wait = CONNECT_RETRY_MS[attempt];
    if (wait === undefined || !w.retryable() || stdout.length > 0) throw err;
    await pause(wait, opts.signal);
  }
}

/**
 * Runs a tool to completion for a caller that reads its exit itself (a non-zero exit is not
 * always a failure, e.g. pg_waldump at the end of the WAL): its stdout, exit code and, when
 * that is not 0, its kept stderr (scrubbed). A tool that cannot start is TOOL_MISSING and a
 * canceled run CANCELED, as for runTool.
 */
export async function runToolCapture(cmd: ToolCommand, opts: { signal?: AbortSignal } = {}): Promise<{ stdout: string; code: number | null; stderr: string }> {
  let failed: ToolFailure | null = null;
  const capture: Classifier = (f) => {
    failed = f;
    return new BackstopError('INTERNAL', `${cmd.path} exited with code ${f.code}`);
  };
  const { child, outcome } = start(cmd, capture, opts.signal, 'ignore');
  if (!child) throw (await outcome) ?? canceled();
  let stdout = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => (stdout += d));
  const err = await outcome;
  const f = failed as ToolFailure | null;
  if (err && !f) throw err;
  return { stdout, code: f ? f.code : 0, stderr: f ? f.stderr : '' };
}

/** Runs a tool to completion with `input` (bytes) on stdin and resolves its stdout as bytes. */
export async function runToolBuffer(cmd: ToolCommand, opts: { classify: Classifier; input: Buffer[] | null; signal?: AbortSignal }): Promise<Buffer> {
  const { child, outcome } = start(cmd, opts.classify, opts.signal, opts.input === null ? 'ignore' : 'pipe');
  if (!child) throw (await outcome) ?? canceled();
  const out: Buffer[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d));
  if (opts.input !== null) {
    child.stdin?.on('error', () => undefined); // EPIPE when the tool stops reading early; its exit code tells.
    void pipeline(Readable.from(opts.input), child.stdin!).catch(() => undefined);
  }
  const err = await outcome;
  if (err) throw err;
  return Buffer.concat(out);
}

export interface ToolStream {
  stream: Readable;
  done: Promise<void>;
}

/** Starts a tool whose stdout is the product (a dump). See the header for the stream contract. */
export function streamTool(
  cmd: ToolCommand,
  opts: { classify: Classifier; signal?: AbortSignal; refine?: (e: BackstopError) => Promise<BackstopError>; retry?: RetryWhen },
): ToolStream {
  // The tool's current try: a `retry` failure before its first stdout byte starts another, whose stdout feeds the same stream.
  let child: ChildProcess | null = null;
  let wrote = false;
  const attempt = async (n: number): Promise<BackstopError | null> => {
    const w = watching(opts.classify, opts.retry);
    const started = start(cmd, w.classify, opts.signal, 'ignore');
    child = started.child;
    if (child) {
      child.stdout?.once('data', () => (wrote = true));
      child.stdout?.pipe(out, { end: false });
    }
    const err = await started.outcome;
    const wait = CONNECT_RETRY_MS[n];
    if (!err || wait === undefined || wrote || !w.retryable()) return err;
    try {
      await pause(wait, opts.signal);
    } catch (e) {
      return e as BackstopError;
    }
    return attempt(n + 1);
  };
  const refine = opts.refine;
  let settled = false;
  // Buffers stay as the pipe delivered them: a byte-mode readable would concatenate its
  // whole read-ahead into one new buffer on every read (a copy of every byte, and garbage).
  const out = new Transform({
    readableObjectMode: true,
    readableHighWaterMark: READ_AHEAD_BUFFERS,
    transform(chunk: Buffer, _enc, cb) {
      cb(null, chunk);
    },
    flush(cb) {
      // stdout ended: only end our stream if the child succeeded.
      void outcome.then((err) => cb(err ?? null));
    },
  });
  const tried = attempt(0);
  const outcome = refine ? tried.then(async (e) => (e && e.code !== 'CANCELED' ? refine(e).catch(() => e) : e)) : tried;
  const done = outcome.then((err) => {
    settled = true;
    if (err) {
      out.destroy(err);
      throw err;
    }
    // Each try's stdout is piped without ending the stream: the last one's success ends it.
    out.end();
  });
  // The caller may watch only one of the two: neither may crash the process when unobserved.
  done.catch(() => undefined);
  out.on('error', () => undefined);
  out.on('close', () => {
    // The consumer went away before the tool finished: stop the tool.
    if (!settled) (child as ChildProcess | null)?.kill('SIGTERM');
  });
  return { stream: out, done };
}

/**
 * Feeds `source` into a tool's stdin (a restore). Resolves when the tool exited 0 after
 * reading everything; rejects with the tool's classified error, or with the source's
 * error if the source failed (the tool is then killed).
 */
export async function sinkTool(
  cmd: ToolCommand,
  source: Readable,
  opts: { classify: Classifier; signal?: AbortSignal; onStdout?: (text: string) => void; onStderr?: (text: string) => void },
): Promise<void> {
  const { child, outcome } = start(cmd, opts.classify, opts.signal, 'pipe');
  if (!child) throw (await outcome) ?? canceled();
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => opts.onStdout?.(d));
  if (opts.onStderr) {
    child.stderr?.on('data', (d: string) => opts.onStderr?.(d));
  }
  let sourceError: unknown = null;
  const feeding = pipeline(source, child.stdin!).catch((e: unknown) => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED') return; // tool exited early: its exit code tells why
    sourceError = e;
    child.kill('SIGKILL');
  });
  const err = await outcome;
  await feeding;
  if (sourceError !== null) {
    throw sourceError instanceof BackstopError
      ? sourceError
      : new BackstopError('RESTORE_FAILED', `Reading the backup stream failed: ${(sourceError as Error).message ?? String(sourceError)}`, {
          cause: sourceError,
        });
  }
  if (err) throw err;
}
