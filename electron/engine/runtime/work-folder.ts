/**
 * Where Backstop's work copies go: an SQLite database's snapshot copy, a spooled archive, the
 * binary-log files a read or a replay copies, the temporary cluster of a restore to a moment.
 *
 * Contract: `workFolderBase()` is TMPDIR when the user set it (a deliberate choice, as the error
 * messages and docs advise); otherwise the `work` folder of the data dir the engine was started
 * with (`useWorkFolder`), created on demand; otherwise the OS temp folder. The data dir rather
 * than /tmp because /tmp is a RAM-backed tmpfs by default on Debian 13, Fedora and Arch: a copy
 * of a large database there takes the machine's memory, or fails at half its size.
 * `useWorkFolder(dataDir)` records `<dataDir>/work` for this process and for the worker threads
 * it starts later (they inherit the environment: BACKSTOP_WORK_DIR) and returns a function that
 * takes it back (if still its own). A data dir that is gone (its engine closed, its folder
 * removed) is never recreated here: the OS temp folder is used instead.
 */
import { mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ENV = 'BACKSTOP_WORK_DIR';

export function useWorkFolder(dataDir: string): () => void {
  const mine = join(dataDir, 'work');
  const before = process.env[ENV];
  process.env[ENV] = mine;
  return () => {
    if (process.env[ENV] !== mine) return;
    if (before === undefined) delete process.env[ENV];
    else process.env[ENV] = before;
  };
}

export function workFolderBase(): string {
  if (process.env.TMPDIR) return tmpdir();
  const work = process.env[ENV];
  if (!work || !isFolder(dirname(work))) return tmpdir();
  try {
    mkdirSync(work, { mode: 0o700 });
  } catch {
    // There already; or not creatable, which the caller's mkdtemp then names (temp-folder.ts).
  }
  return work;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
