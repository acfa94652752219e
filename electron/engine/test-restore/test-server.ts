/**
 * The server a task's test restores run on (issue #22): the task's own server, or a named
 * test server (`testRestore.serverId` of a saved task; `testServer` in a CLI task file) of
 * the same kind, which then holds every scratch database of the task's test restores.
 *
 * Contract: `checkTestServer` throws VALIDATION naming both kinds when the test server is of
 * another kind, and refuses a test server for a SQLite task (its scratch copies are local
 * folders); it touches nothing.
 */
import { hostPort, type Server } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';

const KIND: Record<Server['kind'], string> = { postgres: 'PostgreSQL', mysql: 'MySQL/MariaDB', sqlite: 'SQLite folder' };

/** "a PostgreSQL server", "a MySQL/MariaDB server", "a SQLite folder". */
export function kindPhrase(kind: Server['kind']): string {
  return kind === 'sqlite' ? 'a SQLite folder' : `a ${KIND[kind]} server`;
}

/** `field`: where the test server is named ("testRestore.serverId", "testServer"), for the message. */
export function checkTestServer(server: Server, test: Server, field: string): void {
  if (server.kind === 'sqlite') {
    throw new BackstopError('VALIDATION', `${field}: this task backs up a SQLite folder, whose test restores use a temporary local folder; a test server applies to PostgreSQL and MySQL/MariaDB tasks only. Remove it.`);
  }
  if (test.kind !== server.kind) {
    throw new BackstopError(
      'VALIDATION',
      `${field}: the test server "${test.name}" is ${kindPhrase(test.kind)}, but this task backs up ${kindPhrase(server.kind)}; a test restore needs a server of the same kind. Choose ${kindPhrase(server.kind)}, or the task's own server.`,
    );
  }
}

/** "PostgreSQL server "name" (host:port)": how the test server is named in a failure. */
export function testServerLabel(test: Server): string {
  return test.kind === 'sqlite' ? `SQLite folder ${test.folder}` : `${KIND[test.kind]} server "${test.name}" (${hostPort(test.host, test.port)})`;
}
