/**
 * Contract commands for encryption keys. Key bytes cross the boundary only in the
 * explicit `keys.reveal` / `keys.recoverySheet` answers and the `keys.import` input;
 * events carry key references only.
 */
import type { EventBus } from '../events/event-bus.ts';
import type { KeyService } from '../keys/index.ts';
import type { Handlers } from './dispatch.ts';

type KeyHandlers = Pick<
  Handlers,
  'keys.list' | 'keys.generate' | 'keys.import' | 'keys.reveal' | 'keys.markExported' | 'keys.saveToFile' | 'keys.recoverySheet'
>;

export function createKeyHandlers(keys: KeyService, events: EventBus): KeyHandlers {
  const changed = <T extends { keyRef: string }>(rec: T): T => {
    events.emit('keys.changed', { keyRefs: [rec.keyRef] });
    return rec;
  };
  return {
    'keys.list': () => keys.list(),
    'keys.generate': async () => changed(await keys.generate()),
    'keys.import': async ({ key }) => changed(await keys.import(key)),
    'keys.reveal': async ({ keyRef }) => ({ key: await keys.reveal(keyRef) }),
    'keys.markExported': ({ keyRef, method }) => changed(keys.markExported(keyRef, method)),
    'keys.saveToFile': async ({ keyRef, path, taskName }) => changed(await keys.saveToFile(keyRef, path, taskName)),
    'keys.recoverySheet': async ({ keyRef, taskName }) => ({ html: await keys.recoverySheet(keyRef, taskName) }),
  };
}
