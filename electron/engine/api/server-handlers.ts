/**
 * Contract commands that talk to database servers: test a connection (saved or being
 * edited), list its databases live, and detect client tools.
 *
 * Contract: a server being edited is tested with the password typed in the form (never
 * stored by this command); a saved one with its password from the keychain, and its
 * outcome (ok, or the error code and message) is recorded on the server with the time,
 * then `servers.changed` is emitted. The error itself is still the command's answer.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { Server, ServerCheck, ServerInputParsed, ToolInfo } from '../../shared/domain.ts';
import { isBackstopError, toFailure } from '../../shared/result.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { SecretStore } from '../secrets/index.ts';
import { checkServerInput, connectorFor, findTool, serverPassword, toolVersion, type ToolFamily } from '../servers/index.ts';
import type { ServersTable, SettingsTable } from '../store/index.ts';
import type { Handlers } from './dispatch.ts';

type ServerHandlers = Pick<Handlers, 'servers.test' | 'servers.databases' | 'tools.detect'>;

const TOOLS: Record<ToolFamily, string[][]> = {
  postgres: [['pg_dump'], ['pg_restore'], ['psql'], ['pg_dumpall'], ['pg_basebackup']],
  mysql: [['mariadb-dump', 'mysqldump'], ['mariadb', 'mysql']],
};

export function createServerHandlers(deps: { servers: ServersTable; settings: SettingsTable; secrets: SecretStore; events?: EventBus; now?: () => Date }): ServerHandlers {
  const passwordOf = (server: Server) => serverPassword(deps.secrets, server);

  function draft(input: ServerInputParsed): Server {
    const now = new Date().toISOString();
    const { password: _pw, ...rest } = input as ServerInputParsed & { password?: string };
    return (input.kind === 'sqlite'
      ? { ...rest, id: randomUUID(), createdAt: now, updatedAt: now }
      : { ...rest, id: randomUUID(), passwordRef: null, createdAt: now, updatedAt: now }) as Server;
  }

  async function check(server: Server, password: string | null): Promise<ServerCheck> {
    const connector = connectorFor(server, { password, toolPaths: deps.settings.get().toolPaths });
    // The user's own check: worth a slower look at the content for what a backup should warn about.
    const report = await connector.testConnection({ contentWarnings: true });
    return { ...report, support: { logical: connector.support('logical'), snapshot: connector.support('snapshot') } };
  }

  return {
    'servers.test': async (input) => {
      if ('id' in input) {
        const server = deps.servers.get(input.id);
        const record = (ok: boolean, failure: { code: string; message: string } | null) => {
          deps.servers.recordTest(server.id, { at: (deps.now?.() ?? new Date()).toISOString(), ok, code: failure?.code ?? null, message: failure?.message ?? null });
          deps.events?.emit('servers.changed', { ids: [server.id] });
        };
        try {
          const result = await check(server, await passwordOf(server));
          record(true, null);
          return result;
        } catch (e) {
          record(false, toFailure(e));
          throw e;
        }
      }
      checkServerInput(input.server);
      const password = 'password' in input.server ? (input.server.password ?? null) : null;
      return check(draft(input.server), password);
    },
    'servers.databases': async ({ id }) => {
      const server = deps.servers.get(id);
      const connector = connectorFor(server, { password: await passwordOf(server), toolPaths: deps.settings.get().toolPaths });
      return connector.listDatabases();
    },
    'tools.detect': async () => {
      const toolPaths = deps.settings.get().toolPaths;
      const found: ToolInfo[] = [];
      for (const family of Object.keys(TOOLS) as ToolFamily[]) {
        for (const names of TOOLS[family]) {
          try {
            const path = findTool(names, family, { binDir: toolPaths[family] });
            const v = await toolVersion(path);
            found.push({ name: basename(path).replace(/\.exe$/i, ''), path, version: v.version });
          } catch (e) {
            if (!isBackstopError(e)) throw e;
          }
        }
      }
      return found;
    },
  };
}
