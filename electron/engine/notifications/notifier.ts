/**
 * Sends notifications off the backup's path: `notify` returns at once; each (event,
 * channel) is delivered in the background, retried with exponential backoff (long enough to
 * outlast a 5-minute SMTP greylist), and its outcome recorded (notification_deliveries) and
 * logged. A refusal that would come again (`PermanentDeliveryError`) ends the retries at once;
 * a receiver's Retry-After is waited out (never retried sooner, nor knocked on by a later alert
 * to the same URL), or ends them when it asks longer than `maxWaitMs`; recipients deferred
 * while others took the mail are retried alone.
 * A delivered row's `error` is a note (e-mail recipients refused while the others got the mail).
 *
 * Contract: never throws and never rejects into a caller, so a receiver that is down,
 * slow or wrong can never fail, delay or block a backup. `flush(ms)` waits (at most `ms`)
 * for deliveries still going — a short-lived process (the CLI) calls it before exiting.
 * Deliveries to one receiver (an SMTP server, a URL's host) go one at a time, in the order
 * notified. Heartbeats ignore `on`: they go on every finished run (the URL on success, URL/fail on
 * failure) and on nothing else.
 * With an `outbox`, each (event, channel) notified is kept there until it ends, with its attempts
 * (counted before each is made), so `resume` can carry on, in a later process, what a closed or
 * killed one still owed — at least once: an attempt cut by the close is made again — except a
 * heartbeat a later run's outcome to the same channel superseded (`superseded`). `stop(ms)`
 * ends the retries (their rows stay owed), waits at most `ms` for attempts in flight, then
 * records nothing more (the database is about to close).
 */
import type { Logger } from '../logging/index.ts';
import type { NotificationDeliveriesTable, NotificationOutboxTable, OutboxEntry, OutboxProgress } from '../store/index.ts';
import { channelFingerprint, describeTarget, type NotificationChannel } from './channels.ts';
import { DeferredRecipientsError, deliver, PermanentDeliveryError, RetryLaterError } from './deliver.ts';
import { wants, type NotificationPayload } from './events.ts';

export interface RetryPolicy {
  /** Attempts in all (first try included). */
  attempts: number;
  /** Wait before the second attempt; doubles after each failure. */
  baseDelayMs: number;
  /** Per attempt. */
  timeoutMs: number;
  /** The longest Retry-After waited out; a receiver asking longer is given up (retrying sooner extends a rate limit). */
  maxWaitMs: number;
}

/** 9 attempts over 8.5 minutes (waits of 2, 4, … 256 s): a greylist's usual 5 minutes is outlasted. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 9, baseDelayMs: 2_000, timeoutMs: 15_000, maxWaitMs: 300_000 };
/**
 * When someone waits for the outcome — a one-shot command (`backstop backup` waits 60 s for its
 * deliveries before exiting) or "Send test" in the window: the first 5 attempts (about 30 s) and
 * a Retry-After up to 45 s, so each ends recorded and said, not cut off or left spinning.
 */
export const ONE_SHOT_RETRY: Pick<RetryPolicy, 'attempts' | 'maxWaitMs'> = { attempts: 5, maxWaitMs: 45_000 };

export interface NotifierDeps {
  logger: Logger;
  deliveries: NotificationDeliveriesTable | null;
  now: () => Date;
  retry?: Partial<RetryPolicy>;
  /** Waits between attempts (the clock; tests pass a fake one). Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * A delivery given up after its retries, where the channel's previous one was delivered (or
   * there was none): told once when a channel starts failing, not again until one gets through.
   */
  onFailing?: (f: FailingChannel) => void;
  /** Deliveries still owed, kept so a close, crash or reboot does not lose them (absent: memory only). */
  outbox?: NotificationOutboxTable | null;
}

/** An owed delivery's channel as it is now, or why it is not sent (deleted, changed, too old). */
export type OwedChannel = { channel: NotificationChannel } | { reason: string };

/** Where a delivery is in the outbox, and how far it got before (a resumed one). */
interface Owed {
  id: number | null;
  attempts: number;
  progress: OutboxProgress | null;
}

const FRESH: Owed = { id: null, attempts: 0, progress: null };

/** What is said of a channel that started failing: secret-free, as the deliveries table. */
export interface FailingChannel {
  channel: NotificationChannel['kind'];
  channelId: string | null;
  target: string;
  event: string;
  attempts: number;
  error: string;
}

const RUN_END = new Set(['run-succeeded', 'run-failed']);

/** Whether a channel takes an event: heartbeats only a run's end, the others by their `on` filter. */
export function channelWants(ch: NotificationChannel, event: string): boolean {
  return ch.kind === 'heartbeat' ? RUN_END.has(event) : wants(ch.on, event);
}

/** Who receives: an SMTP server (every e-mail channel through it), else the URL's scheme and host. */
function receiverKey(ch: NotificationChannel): string {
  return ch.kind === 'email' ? `smtp ${ch.smtp.host}:${ch.smtp.port}` : `${ch.kind} ${describeTarget(ch)}`;
}

export class Notifier {
  private readonly pending = new Set<Promise<void>>();
  /** The last delivery queued per receiver: deliveries to one receiver go one after another. */
  private readonly queues = new Map<string, Promise<void>>();
  /**
   * Per webhook or heartbeat URL (memory only: a URL carries its token), the time before which its
   * Retry-After asked for nothing more: a later alert waits for it too, or is not sent when that is too far.
   */
  private readonly notBefore = new Map<string, number>();
  /** Channels told failing in this process (two deliveries failing at once are told once). */
  private readonly failing = new Set<string>();
  private readonly retry: RetryPolicy;
  /** Set by `stop`: no attempt starts and no wait goes on; `detached`: nothing is recorded any more. */
  private stopped = false;
  private detached = false;
  private wake: () => void = () => {};
  private readonly stopping = new Promise<void>((r) => (this.wake = r));

  constructor(private readonly deps: NotifierDeps) {
    this.retry = { ...DEFAULT_RETRY, ...deps.retry };
  }

  notify(channels: readonly NotificationChannel[], p: NotificationPayload): void {
    // Closed (the database with it): nothing can be kept or recorded any more.
    if (this.detached) return;
    for (const ch of channels) {
      if (!channelWants(ch, p.event)) continue;
      // One at a time per receiver, in order: a run with 50 failed databases does not open 50
      // SMTP connections at once (providers answer 421 beyond a few and the retries, in
      // lockstep, are refused again) nor post 50 times in the same second to a chat webhook.
      const key = receiverKey(ch);
      const id = this.owe(ch, p, key);
      this.enqueue(key, () => this.deliverWithRetry(ch, p, { id, attempts: 0, progress: null }));
    }
  }

  /**
   * Carries on deliveries a process that stopped still owed (oldest first), after `gate` (the
   * process's start): each waits in its receiver's queue ahead of anything notified later, is
   * resolved to its channel as it is now — or recorded not delivered with the reason, and said
   * like a delivery given up — and keeps its attempts.
   */
  resume(owed: readonly OutboxEntry[], resolve: (e: OutboxEntry) => Promise<OwedChannel>, gate: Promise<void> = Promise.resolve()): void {
    for (const e of owed) {
      this.enqueue(e.receiver, async () => {
        await gate;
        if (this.stopped) return;
        const ch = { kind: e.channel, id: e.channelId ?? undefined, target: e.target };
        let p: NotificationPayload;
        try {
          p = JSON.parse(e.payload) as NotificationPayload;
        } catch {
          // A damaged row: recorded, not left to be taken again at every start.
          this.record(ch, { event: e.event, taskId: e.taskId ?? '', runId: e.runId }, e.id, { delivered: false, attempts: e.attempts, error: 'Backstop stopped while it was still trying to deliver it, and what it kept of it cannot be read: not sent' });
          return;
        }
        const now = await resolve(e);
        if (this.stopped) return;
        const state: Owed = { id: e.id, attempts: e.attempts, progress: e.progress };
        if ('channel' in now && this.superseded(now.channel, p, e)) return;
        if ('channel' in now) return this.deliverWithRetry(now.channel, p, state);
        const r = this.record(ch, p, state.id, { delivered: false, attempts: e.attempts, error: now.reason });
        this.tell(ch, p, r);
      });
    }
  }

  /**
   * A heartbeat says the task's state now: one owed from before a later run's outcome reached the
   * same channel (a stopped agent's /fail, taken by the app after its own run pinged success) would
   * turn the check down while the task is fine. Its row is withdrawn, recording nothing (the
   * channel works; its last delivery stays the later one), and logged.
   */
  private superseded(ch: NotificationChannel, p: NotificationPayload, e: OutboxEntry): boolean {
    const { deliveries, outbox, logger } = this.deps;
    if (ch.kind !== 'heartbeat' || !deliveries || !outbox) return false;
    try {
      if (!deliveries.runOutcomeDeliveredAfter({ channelId: ch.id ?? null, channel: ch.kind, target: describeTarget(ch) }, p.taskId, e.queuedAt)) return false;
      outbox.withdraw(e.id);
    } catch (err) {
      logger.error({ err }, 'an owed heartbeat could not be checked against later ones; it is sent');
      return false;
    }
    logger.info({ event: p.event, channel: ch.kind, target: describeTarget(ch), queuedAt: e.queuedAt }, 'owed heartbeat not sent: a later run of the task reached the channel since');
    return true;
  }

  /** Ends the retries (their deliveries stay owed), waits at most `ms` for attempts in flight; nothing is recorded after. */
  async stop(ms: number): Promise<boolean> {
    this.stopped = true;
    this.wake();
    const done = await this.flush(ms);
    this.detached = true;
    return done;
  }

  private enqueue(key: string, run: () => Promise<void>): void {
    const job: Promise<void> = (this.queues.get(key) ?? Promise.resolve())
      .then(run)
      .catch((e: unknown) => {
        if (!this.detached) this.deps.logger.error({ err: e }, 'notification delivery failed unexpectedly');
      })
      .finally(() => {
        this.pending.delete(job);
        if (this.queues.get(key) === job) this.queues.delete(key);
      });
    this.queues.set(key, job);
    this.pending.add(job);
  }

  /** Keeps the delivery in the outbox; its id, or null when there is none or it cannot be written (then it is tried from memory). */
  private owe(ch: NotificationChannel, p: NotificationPayload, receiver: string): number | null {
    const { outbox, now, logger } = this.deps;
    if (!outbox) return null;
    try {
      return outbox.add({ queuedAt: now().toISOString(), event: p.event, channel: ch.kind, channelId: ch.id ?? null, target: describeTarget(ch), receiver, fingerprint: channelFingerprint(ch), taskId: p.taskId, runId: p.runId, payload: JSON.stringify(p) });
    } catch (e) {
      logger.error({ err: e, event: p.event }, 'notification could not be kept for after a restart; it is tried from memory');
      return null;
    }
  }

  /** Delivers one payload to one channel now, with the retries ("Send test"); resolves with the outcome. */
  async sendNow(ch: NotificationChannel, p: NotificationPayload): Promise<{ delivered: boolean; attempts: number; error: string | null }> {
    const r = await this.attempt(ch, p, { attempts: Math.min(this.retry.attempts, ONE_SHOT_RETRY.attempts), maxWaitMs: Math.min(this.retry.maxWaitMs, ONE_SHOT_RETRY.maxWaitMs) }, FRESH);
    return r ? { delivered: r.delivered, attempts: r.attempts, error: r.error } : { delivered: false, attempts: 0, error: 'Backstop is closing: not sent' };
  }

  /** Deliveries still going (with their retries). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Waits for deliveries in flight, at most `ms`. True when none is left. */
  async flush(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.pending.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
    return true;
  }

  private async deliverWithRetry(ch: NotificationChannel, p: NotificationPayload, owed: Owed): Promise<void> {
    const r = await this.attempt(ch, p, this.retry, owed);
    if (r) this.tell({ kind: ch.kind, id: ch.id, target: describeTarget(ch) }, p, r);
  }

  /** A channel that starts failing is told once (`onFailing`), again only after a delivery got through. */
  private tell(ch: Pick<ChannelRef, 'kind' | 'id' | 'target'>, p: NotificationPayload, r: { delivered: boolean; attempts: number; error: string | null; failedBefore: boolean }): void {
    const key = ch.id ?? `${ch.kind} ${ch.target}`;
    if (r.delivered) this.failing.delete(key);
    else if (!r.failedBefore && !this.failing.has(key)) {
      this.failing.add(key);
      this.deps.onFailing?.({ channel: ch.kind, channelId: ch.id ?? null, target: ch.target, event: p.event, attempts: r.attempts, error: r.error ?? 'not delivered' });
    }
  }

  /**
   * `limits`: how many attempts and the longest Retry-After waited out (the policy's, or Send test's);
   * `owed`: its outbox row and how far it got before (a resumed delivery goes on from there). Null
   * when `stop` cut it: it stays owed, nothing recorded.
   */
  private async attempt(ch: NotificationChannel, p: NotificationPayload, limits: Pick<RetryPolicy, 'attempts' | 'maxWaitMs'>, owed: Owed): Promise<{ delivered: boolean; attempts: number; error: string | null; failedBefore: boolean } | null> {
    const { logger, now } = this.deps;
    // A wait ends early when the process stops (the delivery stays owed), its timer cleared: it holds no process open.
    const { sleep } = this.deps;
    const nap = (ms: number): Promise<void> =>
      sleep
        ? Promise.race([sleep(ms), this.stopping])
        : new Promise<void>((r) => {
            const t = setTimeout(r, ms);
            void this.stopping.then(() => {
              clearTimeout(t);
              r();
            });
          });
    const target = describeTarget(ch);
    let error: string | null = null;
    let delivered = false;
    let attempts = owed.attempts;
    let wait = 0;
    // E-mail recipients deferred (4xx) while others took the mail: the retries go to them alone.
    let to: NotificationChannel = ch.kind === 'email' && owed.progress?.to ? { ...ch, to: owed.progress.to } : ch;
    let someGotIt = owed.progress?.someGotIt ?? false;
    const notes: string[] = [...(owed.progress?.notes ?? [])];
    const holdKey = ch.kind === 'email' ? null : ch.url;
    const { maxWaitMs } = limits;
    // A resumed delivery goes on where it was (its backoff too); one whose last attempt was cut by the close makes it again.
    const first = owed.attempts;
    const last = Math.max(limits.attempts, first + 1);
    for (let i = first; i < last; i++) {
      if (i > first) await nap(wait);
      if (this.stopped) return null;
      // An earlier alert to this URL was told to wait: this one does not knock sooner either.
      const until = holdKey ? this.notBefore.get(holdKey) : undefined;
      const hold = until === undefined ? 0 : until - now().getTime();
      if (hold > maxWaitMs) {
        error = `${target} asked to wait until ${new Date(until!).toISOString()} (Retry-After), longer than Backstop waits (${Math.round(maxWaitMs / 1000)} s): not sent before then, which would extend the limit`;
        break;
      }
      if (hold > 0) await nap(hold);
      else if (until !== undefined) this.notBefore.delete(holdKey!);
      if (this.stopped) return null;
      attempts++;
      this.progress(owed.id, attempts, to, ch, notes, someGotIt);
      try {
        // Delivered; a note says what was refused on the way (an e-mail recipient).
        const note = await deliver(to, p, this.retry.timeoutMs, now());
        if (note) notes.push(note);
        error = notes.length ? notes.join('; ') : null;
        delivered = true;
        break;
      } catch (e) {
        error = (e as Error).message;
        if (!this.detached) logger.warn({ event: p.event, channel: ch.kind, target, attempt: attempts, error }, 'notification not delivered yet');
        // The same refusal again on every try (a wrong password would lock the account).
        if (e instanceof PermanentDeliveryError) break;
        if (e instanceof DeferredRecipientsError && to.kind === 'email') {
          someGotIt ||= e.delivered;
          if (e.refused && !notes.includes(e.refused)) notes.push(e.refused);
          to = { ...to, to: e.deferred };
          this.progress(owed.id, attempts, to, ch, notes, someGotIt);
        }
        wait = this.retry.baseDelayMs * 2 ** i;
        if (e instanceof RetryLaterError) {
          if (holdKey) this.notBefore.set(holdKey, now().getTime() + e.retryAfterMs);
          if (e.retryAfterMs > maxWaitMs) {
            error = `${error} and asked to wait ${Math.round(e.retryAfterMs / 1000)} s (Retry-After), longer than Backstop waits (${Math.round(maxWaitMs / 1000)} s): not retried sooner, which would extend the limit`;
            break;
          }
          wait = Math.max(wait, e.retryAfterMs);
        }
      }
    }
    // The mail reached some recipients, not all: delivered, and the note names who never got it.
    if (!delivered && someGotIt) {
      delivered = true;
      const whom = to.kind === 'email' && !error?.includes(to.to.join(', ')) ? ` for ${to.to.join(', ')}` : '';
      error = [...notes, `${error}${whom}, still after ${attempts} attempts; the others got it`].join('; ');
    }
    return this.record({ kind: ch.kind, id: ch.id, target }, p, owed.id, { delivered, attempts, error });
  }

  /** How far an owed delivery got, kept before each attempt (a failure to keep it is logged: the delivery goes on). */
  private progress(id: number | null, attempts: number, to: NotificationChannel, ch: NotificationChannel, notes: string[], someGotIt: boolean): void {
    if (id === null || !this.deps.outbox || this.detached) return;
    const narrowed = to.kind === 'email' && ch.kind === 'email' && to.to.join(',') !== ch.to.join(',') ? to.to : undefined;
    try {
      this.deps.outbox.progress(id, attempts, narrowed || notes.length || someGotIt ? { ...(narrowed ? { to: narrowed } : {}), notes, someGotIt } : null);
    } catch (e) {
      this.deps.logger.error({ err: e }, 'notification attempt could not be counted');
    }
  }

  /** Records the outcome (and removes the owed row with it); logs it. */
  private record(ch: ChannelRef, p: Pick<NotificationPayload, 'event' | 'taskId' | 'runId'>, id: number | null, r: { delivered: boolean; attempts: number; error: string | null }): { delivered: boolean; attempts: number; error: string | null; failedBefore: boolean } {
    const { logger, deliveries, outbox, now } = this.deps;
    const { delivered, attempts, error } = r;
    if (this.detached) return { ...r, failedBefore: true };
    const channelId = ch.id ?? null;
    const row = { at: now().toISOString(), event: p.event, channel: ch.kind, channelId, target: ch.target, taskId: p.taskId, runId: p.runId, status: delivered ? ('delivered' as const) : ('failed' as const), attempts, error };
    let failedBefore = false;
    try {
      failedBefore = deliveries?.last({ channelId, channel: ch.kind, target: ch.target })?.status === 'failed';
      if (outbox) outbox.settle(id, row);
      else deliveries?.record(row);
    } catch (e) {
      logger.error({ err: e }, 'notification delivery could not be recorded');
    }
    if (delivered) logger.info({ event: p.event, channel: ch.kind, target: ch.target, attempts, ...(error ? { note: error } : {}) }, 'notification delivered');
    else logger.error({ event: p.event, channel: ch.kind, target: ch.target, attempts, error }, 'notification given up');
    return { ...r, failedBefore };
  }
}

/** A channel as recorded: its kind, Settings id and secret-free target. */
interface ChannelRef {
  kind: NotificationChannel['kind'];
  id?: string | undefined;
  target: string;
}
