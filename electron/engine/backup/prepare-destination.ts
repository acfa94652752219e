/**
 * Opens (or creates) the repository of one database at one destination and decides
 * whether this backup is a full or an incremental, and why.
 *
 * Contract:
 * - An empty or missing folder gets a new repository; a folder with files that is not a
 *   Backstop repository is never written to (NOT_A_BACKUP) — nothing there is touched.
 * - One folder never mixes keys. When the task's key changed (or encryption was switched
 *   on or off), the folder's chain is left untouched — its backups stay restorable with
 *   their key — and the new chain starts, with a full and that reason, in a sibling folder
 *   named after the new key (`<folder>~key-<fingerprint>`, or `<folder>~plain`), which
 *   database-folder encoding can never produce. Going back to the old key continues the
 *   old chain.
 * - A requested incremental becomes a full, with the reason, when the destination has no
 *   chain of this backup type (first backup there, or the backup type changed), its
 *   newest chain cannot be read, or that chain was written from another server than
 *   `serverIdentity` (a folder copied from another task, or the server's address changed):
 *   an incremental never builds on another server's chain.
 * - A folder holding points of another database than `database` (renamed or copied into
 *   the task's destination) is never written to: CONFLICT naming both and the fix.
 */
import type { BackupType, PointKind } from '../../shared/domain.ts';
import { BackstopError, hasCode } from '../../shared/result.ts';
import { keyFolderSuffix } from '../destinations/location.ts';
import { initRepository, isRepository, openRepository, type ChainSummary, type OpenOptions, type Repository } from '../repository/index.ts';
import { AlreadyThereError, type Backend } from '../storage/index.ts';

export interface PreparedDestination {
  repo: Repository;
  kind: PointKind;
  /** Why a requested incremental became a full (for the history), or null. */
  kindReason: string | null;
  /** For an incremental: the chain it continues. */
  chain?: ChainSummary;
}

/** The history's reason for a full where a destination has no backup of the database (the task runner words it anew when it had some before). */
export const FIRST_BACKUP_REASON = 'first backup at this destination';

/** Why a requested incremental becomes a full: a code, worded once by `describeFull`. */
type FullReason = 'FIRST_BACKUP' | 'KEY_CHANGED' | 'TYPE_CHANGED' | 'NO_CHAIN' | 'CHAIN_UNREADABLE' | 'WAL_CHAIN_BROKEN' | 'SERVER_CHANGED';

interface Decision {
  repo: Repository;
  kind: PointKind;
  reason: FullReason | null;
  /** SERVER_CHANGED: the server the newest chain was written from. */
  detail?: string;
  chain?: ChainSummary;
}

function describeFull(reason: FullReason | null, opts: PrepareOptions, detail = ''): string | null {
  switch (reason) {
    case null:
      return null;
    case 'FIRST_BACKUP':
      return FIRST_BACKUP_REASON;
    case 'KEY_CHANGED':
      return `the encryption key changed: the earlier backups stay in their folder with their key, and this chain starts in the folder ending in "${keyFolderSuffix(opts.key)}"`;
    case 'TYPE_CHANGED':
      return `the backup type changed to ${opts.backupType}`;
    case 'NO_CHAIN':
      return 'no chain at this destination yet';
    case 'CHAIN_UNREADABLE':
      return 'the newest chain could not be read';
    case 'WAL_CHAIN_BROKEN':
      return `WAL chain broken: ${detail}`;
    case 'SERVER_CHANGED':
      return `the newest chain in this folder was written from ${detail}, not from ${opts.serverIdentity}: a new chain starts (the earlier points stay restorable)`;
  }
}

/** Why a PostgreSQL WAL incremental became a full (`detail`: what broke the chain), for the history. */
export function walChainBroken(detail: string): string {
  return describeFull('WAL_CHAIN_BROKEN', { key: null, backupType: 'snapshot', requestedKind: 'incremental' }, detail)!;
}

export interface PrepareOptions {
  key: Buffer | null;
  backupType: BackupType;
  requestedKind: PointKind;
  repoOptions?: OpenOptions;
  /** Opens this database folder's sibling for `key` (`<folder>` + keyFolderSuffix(key)), for a changed key. */
  sibling?: () => Backend;
  /**
   * The database and server (task-runner serverIdentity) this point is of: the folder's chains
   * must be theirs. No `serverIdentity`: the stream checks its chain's server itself (WAL).
   */
  database?: string;
  serverIdentity?: string;
}

export async function prepareDestination(backend: Backend, opts: PrepareOptions): Promise<PreparedDestination> {
  const { repo, kind, reason, detail, chain } = await decide(backend, opts);
  return { repo, kind, kindReason: describeFull(reason, opts, detail), ...(chain ? { chain } : {}) };
}

async function decide(backend: Backend, opts: PrepareOptions): Promise<Decision> {
  try {
    return await prepareIn(backend, opts);
  } catch (e) {
    const keyed = hasCode(e, 'KEY_MISMATCH', 'KEY_REQUIRED');
    if (!keyed || !opts.sibling) throw e;
    const prep = await prepareIn(opts.sibling(), opts);
    return prep.reason === 'FIRST_BACKUP' ? { ...prep, reason: 'KEY_CHANGED' } : prep;
  }
}

async function prepareIn(backend: Backend, opts: PrepareOptions): Promise<Decision> {
  const repoOptions = { ...opts.repoOptions, key: opts.key };
  if (!(await isRepository(backend))) {
    const existing = await backend.list('');
    if (existing.length > 0) {
      throw new BackstopError(
        'NOT_A_BACKUP',
        `${backend.location} already contains files that Backstop did not write; it will not write a backup there. Move those files or choose another destination.`,
      );
    }
    try {
      const repo = await initRepository(backend, repoOptions);
      return { repo, kind: 'full', reason: opts.requestedKind === 'incremental' ? 'FIRST_BACKUP' : null };
    } catch (e) {
      // Another writer (the app's scheduled run beside a manual `backstop backup`) created it
      // this very moment: write into theirs (a wrong key is refused as for any folder).
      if (!(e instanceof AlreadyThereError)) throw e;
    }
  }
  let repo: Repository;
  try {
    repo = await openRepository(backend, repoOptions);
  } catch (e) {
    if (hasCode(e, 'KEY_MISMATCH', 'KEY_REQUIRED')) {
      throw new BackstopError(e.code, `${e.message} Backstop never mixes keys in one folder.`);
    }
    throw e;
  }
  await refuseForeignDatabase(repo, opts);
  if (opts.requestedKind === 'full') return { repo, kind: 'full', reason: null };
  try {
    // The run's one look at the folder (refuseForeignDatabase's listing, else this one); the
    // write, the WAL plan and retention reuse it (ManifestStore: the run's view).
    const chain = await repo.newestChain(opts.backupType, { reuse: true });
    if (chain && opts.serverIdentity && chain.newest.serverIdentity !== opts.serverIdentity) {
      return { repo, kind: 'full', reason: 'SERVER_CHANGED', detail: chain.newest.serverIdentity };
    }
    if (chain) return { repo, kind: 'incremental', reason: null, chain };
    const chains = await repo.chains({ reuse: true });
    return { repo, kind: 'full', reason: chains.length > 0 ? 'TYPE_CHANGED' : 'NO_CHAIN' };
  } catch (e) {
    if (hasCode(e, 'INTEGRITY')) return { repo, kind: 'full', reason: 'CHAIN_UNREADABLE' };
    throw e;
  }
}

/** A folder whose points are of another database was renamed or copied here: never add to it. */
async function refuseForeignDatabase(repo: Repository, opts: PrepareOptions): Promise<void> {
  if (opts.database === undefined) return;
  let chains: ChainSummary[];
  try {
    chains = await repo.chains(); // the run's first look at the folder: listed now, reused after
  } catch (e) {
    if (hasCode(e, 'INTEGRITY')) return; // unreadable chains: the caller's CHAIN_UNREADABLE path
    throw e;
  }
  const other = chains.find((c) => c.newest.database !== opts.database);
  if (!other) return;
  throw new BackstopError(
    'CONFLICT',
    `${repo.info.location} holds backups of the database "${other.newest.database}" (from ${other.newest.serverIdentity}), not of "${opts.database}": the folder was renamed or copied here. Backstop will not add to it. Move that folder out of this destination (its points stay restorable from wherever you put it); the next backup then starts a new chain.`,
  );
}
