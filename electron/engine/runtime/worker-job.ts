/**
 * The small protocol between the engine and its job workers (backup, restore, verify).
 *
 * One job per worker (`runWorkerJob`): workerData = the job; parent → worker
 * {type:'cancel'} to stop. Worker → parent: {type:'progress', progress}, then exactly one of
 * {type:'done', result} or {type:'failed', error:{code,message}} (secret-free, via
 * toFailure; an unexpected error also carries its stack as `detail`, which becomes the
 * BackstopError's `cause` for the engine's log); the worker then ends.
 *
 * Reused workers (`JobWorkerPool`, the backup jobs of a run: hundreds of small databases
 * must not pay a thread start and module load each): workerData = {__pooled: true}; parent
 * → worker {type:'job', seq, job}, one at a time — or two at once when both are `share` jobs
 * (small ones that mostly wait on a client tool: a run's binary-log read and grants.sql run
 * in one thread, not two) — and {type:'cancel', seq}; the answers are the same messages
 * carrying `seq`. The worker keeps no job's state for the next: each job gets its own
 * AbortSignal and opens its own connections and repositories.
 *
 * Contract of `runWorkerJob` and `JobWorkerPool.run`: resolves with the result or rejects
 * with a BackstopError: the job's own error, WORKER_CRASHED when the worker dies without
 * answering (crash, out of memory — that job only, and the `share` job beside it if any: a
 * pool replaces the worker, its other jobs are untouched), or CANCELED when a cancelled
 * worker had to be terminated (30 s after the cancel). `runWorkerJob` never leaves a worker
 * running after it settles; a pool keeps a worker whose jobs answered (done or failed) for
 * the next job, unref'd while idle (it never keeps the process alive) and ended after
 * `idleMs` without work or by `close()`; `warm(n)` starts idle workers ahead of the jobs,
 * on the same terms. Share jobs of different runs may meet in one worker.
 */
import { parentPort, workerData, type ResourceLimits, type Worker } from 'node:worker_threads';
import { BackstopError, errorInfo, isErrorCode } from '../../shared/result.ts';
import { startWorker } from './worker-entry.ts';

/**
 * A failure as it crosses the thread boundary: `{code, message}` (secret-free, errorInfo) and,
 * for an unexpected error only (not a BackstopError: its code and message say it all), its
 * `detail` — name, message and stack — for the engine's log, never for a result or event.
 */
type WireFailure = { code: string; message: string; detail?: string };
type ToParent = { type: 'progress'; progress: unknown } | { type: 'done'; result: unknown } | { type: 'failed'; error: WireFailure };
type FromPooled = ToParent & { seq: number };
type ToPooled = { type: 'job'; seq: number; job: object } | { type: 'cancel'; seq: number };

function wireFailure(e: unknown): WireFailure {
  if (e instanceof BackstopError) return errorInfo(e);
  const detail = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
  return { ...errorInfo(e), detail };
}

/** The BackstopError a job's failure becomes in the engine; an unexpected one carries its detail as `cause` (logged by whoever records the INTERNAL failure). */
function fromWire(f: WireFailure): BackstopError {
  const code = isErrorCode(f.code) ? f.code : 'INTERNAL';
  if (!f.detail) return new BackstopError(code, f.message);
  const cause = new Error(f.detail.split('\n')[0]);
  cause.stack = f.detail;
  return new BackstopError(code, f.message, { cause });
}

/** The workerData key that makes `serveWorkerJob` take jobs by message (a pool's worker). */
const POOLED = '__pooled';

const TERMINATE_AFTER_CANCEL_MS = 30_000;

export interface RunWorkerOptions<P> {
  /** What the job is about, for messages ("the backup of sales"). */
  label: string;
  signal?: AbortSignal;
  onProgress?: (p: P) => void;
  onCrash?: (e: unknown) => void;
  resourceLimits?: ResourceLimits;
  /**
   * JobWorkerPool.run only: a small job that mostly waits on a client tool. It runs beside
   * another `share` job in that job's busy worker (at most SHARED_JOBS per worker) instead of
   * taking a thread of its own; a crash of that worker fails both.
   */
  share?: boolean;
}

/** Jobs at most in one pool worker at once (all of them `share` jobs). */
const SHARED_JOBS = 2;

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
      else if (m.type === 'failed') settle(() => reject(fromWire(m.error)));
    });
    worker.on('error', (e) => {
      opts.onCrash?.(e);
      settle(() => reject(goneError(opts, e, null)));
    });
    worker.on('exit', (code) => settle(() => reject(goneError(opts, undefined, code))));
  });
}

/** Worker side: runs `handler` on workerData (or, in a pool's worker, on each job message) and answers with the protocol above. */
export function serveWorkerJob<J, R>(handler: (job: J, signal: AbortSignal, progress: (p: unknown) => void) => Promise<R>): void {
  const port = parentPort;
  if (!port) throw new Error('a worker job must run in a worker thread');
  if ((workerData as Record<string, unknown> | null)?.[POOLED] === true) {
    servePooledJobs(port, handler);
    return;
  }
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
      post({ type: 'failed', error: wireFailure(e) });
      port.close();
    },
  );
}

function servePooledJobs<J, R>(port: NonNullable<typeof parentPort>, handler: (job: J, signal: AbortSignal, progress: (p: unknown) => void) => Promise<R>): void {
  // The jobs running now (one, or two `share` jobs), by seq.
  const current = new Map<number, AbortController>();
  const post = (m: FromPooled) => port.postMessage(m);
  port.on('message', (m: ToPooled) => {
    if (m?.type === 'cancel') {
      current.get(m.seq)?.abort();
      return;
    }
    if (m?.type !== 'job') return;
    const job = { seq: m.seq, controller: new AbortController() };
    current.set(job.seq, job.controller);
    const end = (answer: FromPooled) => {
      current.delete(job.seq);
      post(answer);
    };
    handler(m.job as J, job.controller.signal, (progress) => post({ type: 'progress', seq: job.seq, progress })).then(
      (result) => end({ type: 'done', seq: job.seq, result }),
      (e: unknown) => end({ type: 'failed', seq: job.seq, error: wireFailure(e) }),
    );
  });
}

export interface JobWorkerPoolOptions {
  /** How long a worker with no job stays before it is ended (default 10 s). */
  idleMs?: number;
  /** Idle workers kept at most; a worker freed beyond that is ended (default 4). */
  maxIdle?: number;
  /** Per worker (default: 1 GiB old generation, as `runWorkerJob`). */
  resourceLimits?: ResourceLimits;
  /** Called for every worker thread the pool starts (tests and the bench count them). */
  onWorkerStart?: (worker: Worker) => void;
  /** Called as a job is handed to a worker, with how many jobs that worker ran before. */
  onJob?: (worker: Worker, job: object, jobsBefore: number) => void;
}

interface PoolMember {
  worker: Worker;
  jobs: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** The jobs it runs now (one, or up to SHARED_JOBS `share` jobs), by seq: their answer and death handlers. */
  current: Map<number, { share: boolean; onMessage: (m: FromPooled) => void; onGone: (crash: unknown, exitCode: number | null) => void }>;
  gone: boolean;
}

/**
 * Long-lived job workers of one entry (`name`), each running one job at a time; as many
 * as jobs run at once (the run queue bounds that), idle ones reused. See the header for the
 * contract.
 */
export class JobWorkerPool {
  private readonly idle: PoolMember[] = [];
  /** Members running a job. */
  private readonly busy = new Set<PoolMember>();
  private seq = 0;
  /** Worker threads started so far. */
  started = 0;

  constructor(
    readonly name: string,
    private readonly options: JobWorkerPoolOptions = {},
  ) {}

  run<R, P = unknown>(job: object, opts: RunWorkerOptions<P>): Promise<R> {
    // Cancelled before it started: no worker sees it.
    if (opts.signal?.aborted) return Promise.reject(new BackstopError('CANCELED', `${capitalize(opts.label)} was cancelled.`));
    return new Promise<R>((resolve, reject) => {
      const member = this.take(opts.share === true);
      const seq = ++this.seq;
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void, reuse: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(killTimer);
        opts.signal?.removeEventListener('abort', onAbort);
        member.current.delete(seq);
        // A worker still running the job beside this one stays busy; one that must go takes that job with it (its onGone).
        if (!reuse) void this.discard(member);
        else if (member.current.size === 0) this.release(member);
        fn();
      };
      const onAbort = () => {
        member.worker.postMessage({ type: 'cancel', seq } satisfies ToPooled);
        killTimer = setTimeout(() => settle(() => reject(new BackstopError('CANCELED', `${capitalize(opts.label)} was cancelled.`)), false), TERMINATE_AFTER_CANCEL_MS);
      };
      member.current.set(seq, {
        share: opts.share === true,
        onMessage: (m) => {
          if (m.seq !== seq) return;
          if (m.type === 'progress') opts.onProgress?.(m.progress as P);
          else if (m.type === 'done') settle(() => resolve(m.result as R), true);
          else if (m.type === 'failed') settle(() => reject(fromWire(m.error)), true);
        },
        onGone: (crash, exitCode) => {
          if (crash !== undefined) opts.onCrash?.(crash);
          settle(() => reject(goneError(opts, crash, exitCode)), false);
        },
      });
      this.options.onJob?.(member.worker, job, member.jobs);
      member.jobs++;
      try {
        member.worker.postMessage({ type: 'job', seq, job } satisfies ToPooled);
      } catch (e) {
        // Not sent (a value that cannot be cloned): the worker never saw it and stays usable.
        settle(() => reject(e), true);
        return;
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Starts idle workers until `count` are idle (at most `maxIdle`), so jobs handed over soon
   * find their thread started and the engine loaded: a run calls it before its connection
   * test, and the threads load while that waits on the server. A warmed worker is idle like
   * one freed after a job: unref'd, ended after `idleMs` unused or by `close()`.
   */
  warm(count: number): void {
    const want = Math.min(count, this.options.maxIdle ?? 4);
    for (let n = this.idle.length; n < want; n++) this.release(this.start());
  }

  /** Ends the idle workers now; busy ones end when their job does. The pool stays usable. */
  async close(): Promise<void> {
    const idle = this.idle.splice(0);
    await Promise.all(idle.map((m) => this.discard(m)));
  }

  private take(share: boolean): PoolMember {
    // A share job joins a busy worker that runs only share jobs, while it has room.
    const beside = share ? [...this.busy].find((m) => !m.gone && m.current.size < SHARED_JOBS && [...m.current.values()].every((j) => j.share)) : undefined;
    if (beside) return beside;
    const reused = this.idle.pop();
    if (reused) {
      clearTimeout(reused.idleTimer);
      reused.worker.ref();
      this.busy.add(reused);
      return reused;
    }
    const started = this.start();
    this.busy.add(started);
    return started;
  }

  private start(): PoolMember {
    const worker = startWorker(this.name, { [POOLED]: true }, { resourceLimits: this.options.resourceLimits ?? { maxOldGenerationSizeMb: 1024 } });
    this.started++;
    const member: PoolMember = { worker, jobs: 0, idleTimer: undefined, current: new Map(), gone: false };
    worker.on('message', (m: FromPooled) => member.current.get(m.seq)?.onMessage(m));
    worker.on('error', (e) => this.gone(member, e, null));
    worker.on('exit', (code) => this.gone(member, undefined, code));
    this.options.onWorkerStart?.(worker);
    return member;
  }

  private gone(member: PoolMember, crash: unknown, exitCode: number | null): void {
    member.gone = true;
    this.busy.delete(member);
    const i = this.idle.indexOf(member);
    if (i >= 0) this.idle.splice(i, 1);
    clearTimeout(member.idleTimer);
    // 'error' comes before 'exit': the jobs settle on the first, with the crash's cause.
    for (const job of [...member.current.values()]) job.onGone(crash, exitCode);
  }

  private release(member: PoolMember): void {
    this.busy.delete(member);
    if (member.gone) return;
    if (this.idle.length >= (this.options.maxIdle ?? 4)) {
      void this.discard(member);
      return;
    }
    member.worker.unref();
    member.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(member);
      if (i >= 0) this.idle.splice(i, 1);
      void this.discard(member);
    }, this.options.idleMs ?? 10_000);
    member.idleTimer.unref();
    this.idle.push(member);
  }

  private async discard(member: PoolMember): Promise<void> {
    member.gone = true;
    this.busy.delete(member);
    clearTimeout(member.idleTimer);
    // A job still running beside the one that discarded it learns from the exit (gone): it settles there.
    await member.worker.terminate();
  }
}

function goneError(opts: { label: string; signal?: AbortSignal }, crash: unknown, exitCode: number | null): BackstopError {
  if (crash !== undefined) {
    const why = crash instanceof Error && /memory/i.test(crash.message) ? 'out of memory' : 'an internal error';
    return new BackstopError('WORKER_CRASHED', `The worker for ${opts.label} stopped unexpectedly (${why}); nothing it was writing was committed. Details are in the Backstop log.`);
  }
  if (opts.signal?.aborted) return new BackstopError('CANCELED', `${capitalize(opts.label)} was cancelled.`);
  return new BackstopError('WORKER_CRASHED', `The worker for ${opts.label} exited unexpectedly (exit code ${exitCode}); nothing it was writing was committed.`);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
