/**
 * `window.backstop` is installed by the preload script (Electron) or by the e2e harness
 * (Playwright). Only `renderer/src/api/` may read it; everything else goes through `call()`.
 */
import type { BackstopBridge } from '@shared/ipc/contract.ts';

declare global {
  interface Window {
    /** Undefined only when the page runs outside Backstop (no preload, no harness). */
    readonly backstop?: BackstopBridge;
  }
}

export {};
