/**
 * What "the app's own page" means, as pure functions (no electron import).
 *
 * Contract: the window loads exactly one document — the built renderer's index.html
 * (a file: URL) or, in development only, the electron-vite dev server. `isAppUrl` is
 * the single test used by navigation blocking (window.ts) and by the IPC sender check
 * (ipc.ts): a file: target matches only that one file (query and hash ignored, so the
 * router may use them); a dev-server target matches its origin. Anything unparsable is
 * not the app.
 */
import { pathToFileURL } from 'node:url';

export type RendererTarget = { kind: 'file'; path: string } | { kind: 'url'; url: string };

/**
 * Picks what the window loads. `devUrl` is honoured only when it is an http(s) URL; the
 * caller passes it only for an unpackaged app (electron-vite sets ELECTRON_RENDERER_URL
 * in `electron-vite dev`).
 */
export function rendererTarget(indexHtmlPath: string, devUrl?: string): RendererTarget {
  if (devUrl && isWebUrl(devUrl)) return { kind: 'url', url: devUrl };
  return { kind: 'file', path: indexHtmlPath };
}

/** The URL the window loads for a target. */
export function targetUrl(target: RendererTarget): string {
  return target.kind === 'url' ? target.url : pathToFileURL(target.path).href;
}

export function isAppUrl(candidate: string, target: RendererTarget): boolean {
  const url = parse(candidate);
  const app = parse(targetUrl(target));
  if (!url || !app) return false;
  if (target.kind === 'url') return url.origin !== 'null' && url.origin === app.origin;
  return url.protocol === 'file:' && url.host === app.host && url.pathname === app.pathname;
}

/** http: or https: — the only schemes ever handed to the OS browser. */
export function isWebUrl(candidate: string): boolean {
  const url = parse(candidate);
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:');
}

function parse(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}
