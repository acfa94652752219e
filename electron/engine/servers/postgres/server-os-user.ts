/**
 * The OS user a PostgreSQL data directory belongs to (PostgreSQL refuses to run as root).
 *
 * Contract:
 * - `runningAsRoot()` is true only on POSIX systems when the process's uid is 0.
 * - `lookUpOsUser(name)` returns the uid/gid of an existing OS user, or null when there is
 *   no such user (never throws for a missing user; `id` missing counts as missing).
 * - `chownTree` changes owner and group of a folder and everything in it, without
 *   following symbolic links.
 * - `unreachableParent(path, user)` names the first parent folder the user could not enter
 *   (no search permission by owner, group or other bits), or null; a check of mode bits
 *   only (ACLs are not read), meant for a note, never for a refusal.
 */
import { execFileSync } from 'node:child_process';
import { lchownSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function lookUpOsUser(name: string): OsUser | null {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(name)) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { name, uid, gid } : null;
  } catch {
    return null;
  }
}

/** The name of the OS user this process runs as (for notes), or "this user". */
export function currentOsUserName(): string {
  return process.env.USER ?? process.env.LOGNAME ?? 'this user';
}

export function chownTree(path: string, uid: number, gid: number): void {
  lchownSync(path, uid, gid);
  const st = lstatSync(path);
  if (st.isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), uid, gid);
}

function groupsOf(user: OsUser): number[] {
  try {
    return execFileSync('id', ['-G', user.name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(/\s+/)
      .map(Number);
  } catch {
    return [user.gid];
  }
}

export function unreachableParent(path: string, user: OsUser): string | null {
  const groups = groupsOf(user);
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    try {
      const st = statSync(dir);
      const bit = st.uid === user.uid ? 0o100 : groups.includes(st.gid) ? 0o010 : 0o001;
      if (user.uid !== 0 && (st.mode & bit) === 0) return dir;
    } catch {
      return dir;
    }
    if (dirname(dir) === dir) return null;
  }
}
