/**
 * The server's connection timeouts, named when they cut a dump or a restore.
 *
 * Contract:
 * - A MariaDB/MySQL server closes a connection whose client does not read what it sends for
 *   net_write_timeout seconds, that sends nothing for wait_timeout seconds between
 *   statements, or that stops mid-statement for net_read_timeout seconds. A dump waits on
 *   its consumer (a slow destination, the task's read or upload limit) and a restore on its
 *   source (a download), so a DBA's short timeouts cut them; the client tools only say
 *   "Lost connection" (2013) or "server has gone away" (2006), which Backstop would report
 *   as an unreachable server (retryable, with the wrong fix).
 * - `noticingCuts(classify)` wraps a tool's classifier so that `cutByServer(error)` tells
 *   whether the error it made is such a closed connection: the client reported 2013/2006, or
 *   the tool exited with an error and said nothing (mariadb-dump ends so, exit code 2, when
 *   the server closed the connection while the dump was writing out rows it had already
 *   received). `TIMEOUTS_QUERY` reads the three global values (one row); `timeoutError` is
 *   the error naming them with their values and the SET GLOBAL to run. The caller asks only
 *   when the failure was a closed connection and uses the error only when the server
 *   answered the query (a server that is down keeps its UNREACHABLE error).
 * - A connection closed sooner than any timeout that applies could have closed it
 *   (`couldBeTimeout`: the operation had not run that long) was ended on purpose: a KILL by
 *   an administrator, or a restart of a server that is back by the time it is asked.
 *   `endedError` says so, and that running it again is the fix (raising timeouts is not).
 * - The dump tool takes no session settings (mariadb-dump has no --init-command), so the
 *   fix is on the server.
 */
import { BackstopError } from '../../../shared/result.ts';
import type { Classifier } from '../child-process.ts';

/** The client's error numbers only where it prints them as such (`ERROR 2013 (HY000)`, `Error 2013:`, `Got error: 2006:`): a 2013 in a quoted value is data. */
const CUT = /\berror:? (?:2013|2006)\b|Lost connection to (?:MySQL |MariaDB )?server|server has gone away/i;
const cuts = new WeakSet<BackstopError>();

/** `classify`, noting which of its errors are a connection the server closed (see `cutByServer`). */
export function noticingCuts(classify: Classifier): Classifier {
  return (f) => {
    const e = classify(f);
    if (e.code !== 'CANCELED' && f.signal === null && (CUT.test(f.stderr) || (f.code !== 0 && f.stderr.trim() === ''))) cuts.add(e);
    return e;
  };
}

/** Whether `failure` came from a `noticingCuts` classifier that saw the server close the connection. */
export function cutByServer(failure: unknown): failure is BackstopError {
  return failure instanceof BackstopError && cuts.has(failure);
}

export const TIMEOUTS_QUERY = 'SELECT @@GLOBAL.net_write_timeout, @@GLOBAL.wait_timeout, @@GLOBAL.net_read_timeout;';

export interface ServerTimeouts {
  netWrite: number;
  wait: number;
  netRead: number;
}

/** The row of TIMEOUTS_QUERY, or null when it is not three numbers. */
export function parseTimeouts(row: string[] | undefined): ServerTimeouts | null {
  const [netWrite, wait, netRead] = (row ?? []).map(Number);
  return [netWrite, wait, netRead].every((n) => n !== undefined && Number.isFinite(n)) ? { netWrite: netWrite!, wait: wait!, netRead: netRead! } : null;
}

/**
 * Whether a timeout can have closed the connection of an operation that ran `elapsedMs`: a dump's
 * by net_write_timeout or wait_timeout, a restore's by wait_timeout or net_read_timeout.
 */
export function couldBeTimeout(what: 'dump' | 'restore', t: ServerTimeouts, elapsedMs: number): boolean {
  return elapsedMs >= 1000 * (what === 'dump' ? Math.min(t.netWrite, t.wait) : Math.min(t.wait, t.netRead));
}

/** The error for a dump or restore of `database` whose connection the server ended sooner than a timeout could have. */
export function endedError(server: string, what: 'dump' | 'restore', database: string, failure: BackstopError): BackstopError {
  const detail = failure.message.replace(/^.*?\(while /s, '(while ');
  const cause = 'before any of its timeouts could have: an administrator ended it (KILL), or the server was restarted.';
  return what === 'dump'
    ? new BackstopError(
        'DUMP_FAILED',
        `The ${server} ended the connection of the dump of database "${database}" ${cause} Nothing of this dump was stored; earlier backups are unchanged. Fix: run the task again once the server accepts connections. ${detail}`,
        { cause: failure },
      )
    : new BackstopError(
        'RESTORE_FAILED',
        `The ${server} ended the connection of the restore into database "${database}" ${cause} The new database was removed. Fix: restore again once the server accepts connections. ${detail}`,
        { cause: failure },
      );
}

/** The error for a dump (`what` 'dump') or a restore of `database` whose connection the server closed. */
export function timeoutError(server: string, what: 'dump' | 'restore', database: string, t: ServerTimeouts, failure: BackstopError): BackstopError {
  const detail = failure.message.replace(/^.*?\(while /s, '(while ');
  if (what === 'dump') {
    return new BackstopError(
      'DUMP_FAILED',
      `The ${server} closed the connection of the dump of database "${database}" while the dump waited on Backstop (a slow destination, or the task's read or upload limit): it closes a connection whose client reads slower than net_write_timeout allows (${t.netWrite} s on this server) or that waits longer than wait_timeout (${t.wait} s) between statements (unless someone ended it with KILL). Nothing of this dump was stored; earlier backups are unchanged. Fix: on that server run SET GLOBAL net_write_timeout = 600; SET GLOBAL wait_timeout = 28800; (and set them in its configuration to keep them after a restart), or raise the task's limits. ${detail}`,
      { cause: failure },
    );
  }
  return new BackstopError(
    'RESTORE_FAILED',
    `The ${server} closed the connection of the restore into database "${database}" while the restore waited on its source (reading the backup): it closes a connection that waits longer than wait_timeout (${t.wait} s on this server) between statements or net_read_timeout (${t.netRead} s) within one (unless someone ended it with KILL). The new database was removed. Fix: on that server run SET GLOBAL wait_timeout = 28800; SET GLOBAL net_read_timeout = 600; (and set them in its configuration to keep them after a restart), then restore again. ${detail}`,
    { cause: failure },
  );
}
