/**
 * Server-side folder browsing for the served window, which has no native dialogs:
 * `dialog.chooseFolder` and `dialog.saveFile` become a browser of the server's folders,
 * restricted to the folders the user allowed (`backstop serve --allow-folder DIR`).
 *
 * Contract: `browse(path)` resolves symbolic links before checking, so no link leads
 * outside an allowed folder; it answers the folder, its parent (null at an allowed root)
 * and its sub-folders sorted by name, or throws PERMISSION_DENIED for a folder outside
 * every allowed one and NOT_FOUND for one that does not exist. Without a path it starts at
 * the first allowed folder. `checkSavePath` accepts a file path whose folder is allowed.
 * Nothing here writes.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { BackstopError } from '../shared/result.ts';

export interface FolderListing {
  path: string;
  parent: string | null;
  folders: string[];
  roots: string[];
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

export class FolderBrowser {
  private roots: Promise<string[]>;

  constructor(allowed: readonly string[]) {
    this.roots = Promise.all(
      allowed.map(async (r) => {
        try {
          return await realpath(resolve(r));
        } catch {
          return null;
        }
      }),
    ).then((list) => [...new Set(list.filter((r): r is string => r !== null))]);
  }

  async allowedRoots(): Promise<string[]> {
    return this.roots;
  }

  private async resolveAllowed(path: string): Promise<string> {
    const roots = await this.roots;
    if (!isAbsolute(path)) throw new BackstopError('VALIDATION', `"${path.slice(0, 200)}" is not an absolute path on the server.`);
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      throw new BackstopError('NOT_FOUND', `The folder ${path.slice(0, 500)} does not exist on the server.`);
    }
    if (!roots.some((r) => inside(r, real))) {
      throw new BackstopError(
        'PERMISSION_DENIED',
        `${path.slice(0, 500)} is outside the folders this server lets the browser see (${roots.join(', ') || 'none'}). Restart "backstop serve" with --allow-folder for it.`,
      );
    }
    return real;
  }

  async browse(path?: string): Promise<FolderListing> {
    const roots = await this.roots;
    if (roots.length === 0) throw new BackstopError('PERMISSION_DENIED', 'No folder is open to the browser. Restart "backstop serve" with --allow-folder DIR.');
    const real = await this.resolveAllowed(path ?? roots[0]!);
    const info = await stat(real);
    if (!info.isDirectory()) throw new BackstopError('VALIDATION', `${real} is a file, not a folder.`);
    let entries;
    try {
      entries = await readdir(real, { withFileTypes: true });
    } catch {
      throw new BackstopError('PERMISSION_DENIED', `Backstop (as this server's user) cannot read ${real}.`);
    }
    // Links to folders are listed too; following one outside the allowed folders is refused by browse().
    const isFolder = async (e: (typeof entries)[number]): Promise<boolean> =>
      e.isDirectory() || (e.isSymbolicLink() && (await stat(join(real, e.name)).then((s) => s.isDirectory(), () => false)));
    const flags = await Promise.all(entries.map(isFolder));
    const folders = entries.filter((_e, i) => flags[i]).map((e) => e.name).sort((a, b) => a.localeCompare(b));
    const parent = roots.includes(real) || !roots.some((r) => inside(r, dirname(real))) ? null : dirname(real);
    return { path: real, parent, folders, roots };
  }

  /** Where a dialog opens: the default path (or its folder) when allowed, else the first allowed folder. */
  async start(defaultPath?: string): Promise<FolderListing> {
    if (defaultPath && isAbsolute(defaultPath)) {
      for (const p of [defaultPath, dirname(defaultPath)]) {
        try {
          return await this.browse(p);
        } catch {
          // not a folder, or not allowed: try the next candidate
        }
      }
    }
    return this.browse();
  }

  /** A file path to save to: its folder must be allowed; answers the path with the folder's real path. */
  async checkSavePath(path: string): Promise<string> {
    const name = basename(path);
    if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\\')) {
      throw new BackstopError('VALIDATION', 'Name the file to save (a name without slashes).');
    }
    const folder = await this.resolveAllowed(dirname(path));
    return join(folder, name);
  }
}
