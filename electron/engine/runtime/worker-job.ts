/**
 * The small protocol between the engine and its job workers (backup, restore, verify).
 *
 * Parent → worker: workerData = the job; {type:'cancel'} to stop.
 * Worker → parent: {type:'progress', progress}, then exactly one of
 * {type:'done', result} or {type:'failed', error:{code,message}} (secret-free, via
 * toFailure).
 *
 * Contract of `runWorkerJob`: resolves with the result or rejects with a BackstopError:
 * the job's own error, WORKER_CRASHED when the worker dies without answering (crash, out
 * of memory), or CANCELED when a cancelled worker had to be terminated. It never leaves
 * a worker running after it settles.
 */
import { parentPort, workerData, type ResourceLimits } from 'node:worker_threads';
import { BackstopError, errorInfo, isErrorCode } from '../../shared/result.ts';
import { startWorker } from './worker-entry.ts';

type ToParent = { type: 'progress'; progress: unknown } | { type: 'done'; result: unknown } | { type: 'failed'; error: { code: string; message: string } };

const TERMINATE_AFTER_CANCEL_MS = 30_000;

export interface RunWorkerOptions<P> {
  /** What the job is about, for messages ("the backup of sales"). */
  label: string;
  signal?: AbortSignal;
  onProgress?: (p: P) => void;
  onCrash?: (e: unknown) => void;
  resourceLimits?: ResourceLimits;
}

export function runWorkerJob<R, P = unknown>(name: string, job: object, opts: RunWorkerOptions<P>): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const worker = startWorker(name, job, { resourceLimits: opts.resourceLimits ?? { maxOldGenerationSizeMb: 1024 } });
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
      void worker.terminate();
    };
    const onAbort = () => {
      worker.postMessage({ type: 'cancel' });
      killTimer = setTimeout(() => settle(() => reject(new BackstopError('CANCELED', `${capitalize(opts.label)} was cancelled.`))), TERMINATE_AFTER_CANCEL_MS);
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: ToParent) => {
      if (m.type === 'progress') opts.onProgress?.(m.progress as P);
      else if (m.type === 'done') settle(() => resolve(m.result as R));
      else if (m.type === 'failed') settle(() => reject(new BackstopError(isErrorCode(m.error.code) ? m.error.code : 'INTERNAL', m.error.message)));
    });
    worker.on('error', (e) => {
      opts.onCrash?.(e);
      const why = e instanceof Error && /memory/i.test(e.message) ? 'out of memory' : 'an internal error';
      settle(() => reject(new BackstopError('WORKER_CRASHED', `The worker for ${opts.label} stopped unexpectedly (${why}); nothing it was writing was committed. Details are in the Backstop log.`)));
    });
    worker.on('exit', (code) => {
      settle(() =>
        reject(
          opts.signal?.aborted
            ? new BackstopError('CANCELED', `${capitalize(opts.label)} was cancelled.`)
            : new BackstopError('WORKER_CRASHED', `The worker for ${opts.label} exited unexpectedly (exit code ${code}); nothing it was writing was committed.`),
        ),
      );
    });
  });
}

/** Worker side: runs `handler` on workerData and answers with the protocol above. */
export function serveWorkerJob<J, R>(handler: (job: J, signal: AbortSignal, progress: (p: unknown) => void) => Promise<R>): void {
  const port = parentPort;
  if (!port) throw new Error('a worker job must run in a worker thread');
  const controller = new AbortController();
  port.on('message', (m: { type?: string }) => {
    if (m?.type === 'cancel') controller.abort();
  });
  const post = (m: ToParent) => port.postMessage(m);
  handler(workerData as J, controller.signal, (progress) => post({ type: 'progress', progress })).then(
    (result) => {
      post({ type: 'done', result });
      port.close();
    },
    (e: unknown) => {
      post({ type: 'failed', error: errorInfo(e) });
      port.close();
    },
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
