/**
 * `backstop restore-server <root> --server server.json (--prefix P | --suffix S |
 * --original-names) [--point latest | --as-of TIME] [--only a,b] [--with-server-level]
 * [--jobs N]`: every database of a task's destination root onto one server
 * (engine/restore/restore-server.ts). `<root>` is a local folder or s3://bucket/prefix.
 * The result leads with `status`: success | partial (some failed) | failed (none restored).
 */
import { dirname, resolve } from 'node:path';
import type { Engine } from '../../engine/index.ts';
import { restoreServer, serverRestoreStatus, type ServerRestoreNaming, type ServerRestoreRequest, type ServerRestoreResult } from '../../engine/restore/restore-server.ts';
import { keyFromOptions } from '../cli-secrets.ts';
import { errorInFileTerms, inFileTerms, readJsonFile, ServerFile } from '../task-file.ts';
import { serverFromFile } from './backup.ts';
import { parseLocation, type LocationArg } from '../location-url.ts';
import { interruptSignal } from '../interrupt.ts';

export async function restoreServerCommand(
  engine: Engine,
  root: LocationArg,
  opts: { serverFile: string; naming: ServerRestoreNaming; asOf?: Date; only?: string[]; withServerLevel: boolean; jobs?: number; keyFile?: string },
): Promise<{ status: ReturnType<typeof serverRestoreStatus> } & ServerRestoreResult> {
  const where = parseLocation(root);
  const { server, password } = serverFromFile(readJsonFile(opts.serverFile, ServerFile, 'The server file'), 'cli-restore-server-target', dirname(resolve(opts.serverFile)));
  const settings = await engine.call('settings.get', undefined);
  try {
    const req: ServerRestoreRequest = {
      root: where.location,
      credentials: where.credentials,
      server,
      password,
      toolPaths: settings.ok ? settings.data.toolPaths : {},
      naming: opts.naming,
      ...(opts.asOf ? { asOf: opts.asOf } : {}),
      ...(opts.only ? { only: opts.only } : {}),
      withServerLevel: opts.withServerLevel,
      jobs: opts.jobs ?? 2,
      key: keyFromOptions(opts.keyFile),
      findKey: (fp) => engine.keys.findByFingerprint(fp).catch(() => null),
      manifestCache: engine.localCache,
      journal: engine.serverRestores,
      // SIGINT/SIGTERM (Ctrl-C, systemd stop) stops the restores running — each drops what it was creating — and starts no more.
      signal: interruptSignal(),
    };
    const result = await engine.restoreHistory.serverRestore(req, () => restoreServer(req));
    return {
      status: serverRestoreStatus(result),
      ...result,
      databases: result.databases.map((d) => (d.error ? { ...d, error: inFileTerms(d.error, opts.serverFile, '') } : d)),
    };
  } catch (e) {
    throw errorInFileTerms(e, opts.serverFile, '');
  }
}
