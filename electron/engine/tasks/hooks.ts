/**
 * A task's pre/post hook: one command run as an argv array (never through a shell, so a
 * database name can never become shell syntax), with the run's facts in its environment
 * (BACKSTOP_TASK, BACKSTOP_RUN_ID, BACKSTOP_DATABASE, BACKSTOP_PHASE, and for post hooks
 * BACKSTOP_STATUS).
 *
 * Contract: resolves, never rejects: ok (exit 0), failed (non-zero exit, a signal, or a
 * command that cannot start) or timeout (killed with its process group: SIGTERM, then
 * SIGKILL after 2 s). `output` is stdout and stderr interleaved as they came, the last
 * 64 KiB kept; `message` is a one-line, secret-free account for history and errors.
 */
import { spawn } from 'node:child_process';

export const HOOK_OUTPUT_MAX = 64 * 1024;

export interface HookOutcome {
  status: 'ok' | 'failed' | 'timeout';
  exitCode: number | null;
  output: string;
  message: string;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function runHook(argv: readonly string[], env: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<HookOutcome> {
  const name = argv[0]!;
  return new Promise((resolve) => {
    let output = '';
    const keep = (d: Buffer) => {
      output += d.toString('utf8');
      if (output.length > HOOK_OUTPUT_MAX * 2) output = output.slice(-HOOK_OUTPUT_MAX);
    };
    let timedOut = false;
    let settled = false;
    const child = spawn(name, argv.slice(1), { shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 2_000);
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    const onAbort = () => stop();
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (o: Omit<HookOutcome, 'output'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ ...o, output: output.slice(-HOOK_OUTPUT_MAX) });
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e: NodeJS.ErrnoException) => {
      done({ status: 'failed', exitCode: null, message: `${name} could not be started (${e.code ?? e.message}). Give the command's full path, and check that it exists and is executable.` });
    });
    child.on('close', (code, sig) => {
      clearTimeout(killTimer);
      if (timedOut) done({ status: 'timeout', exitCode: code, message: `${name} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped.` });
      else if (code === 0) done({ status: 'ok', exitCode: 0, message: `${name} succeeded.` });
      else done({ status: 'failed', exitCode: code, message: sig ? `${name} was ended by ${sig}.` : `${name} exited with code ${code}.` });
    });
  });
}
