/**
 * Sleep and screen lock: schedules missed meanwhile run when the machine comes back.
 *
 * Contract: `resume` (wake from sleep) and `unlock-screen` each call
 * `scheduler.catchUp()` once; the scheduler itself skips paused schedules and tasks
 * already running. An error is logged, never thrown into Electron. Returns the remover.
 */
import type { PowerMonitor } from 'electron';
import type { Engine } from '../engine/index.ts';

export const CATCH_UP_EVENTS = ['resume', 'unlock-screen'] as const;

export function installPowerHooks(
  powerMonitor: Pick<PowerMonitor, 'on' | 'removeListener'>,
  scheduler: Pick<Engine['scheduler'], 'catchUp'>,
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void },
): () => void {
  const handlers = CATCH_UP_EVENTS.map((name) => {
    const fn = (): void => {
      try {
        const started = scheduler.catchUp();
        log.info({ event: name, started: started.length }, 'Catching up missed schedules');
      } catch (e) {
        log.error({ err: e, event: name }, 'Catch-up failed');
      }
    };
    powerMonitor.on(name as 'resume', fn);
    return [name, fn] as const;
  });
  return () => {
    for (const [name, fn] of handlers) powerMonitor.removeListener(name as 'resume', fn);
  };
}
