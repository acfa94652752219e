/**
 * `backstop apply-globals <location> --server server.json [--point ID|latest]
 * [--alter-existing] [--dry-run]`: applies the PostgreSQL roles and tablespaces stored in a
 * task's `<root>/~server/globals.sql` to the server in server.json.
 *
 * Contract: the location may be `<root>/~server` or `<root>/~server/globals.sql`. The work
 * runs in the repository worker (as the app's restores do); the result lists every object
 * as created, skipped, altered or failed (one document with --json).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MYSQL_GRANTS_STREAM } from '../../engine/servers/mysql/connector.ts';
import type { Engine } from '../../engine/index.ts';
import { resolveServerFolder } from '../../engine/restore/backup-folder.ts';
import type { ApplyGlobalsJobSpec } from '../../engine/restore/run-apply-globals.ts';
import { runWorkerJob } from '../../engine/runtime/worker-job.ts';
import { PG_GLOBALS_STREAM } from '../../engine/servers/index.ts';
import type { ApplyGlobalsReport } from '../../engine/servers/postgres/apply-globals.ts';
import { errorInFileTerms, readJsonFile, ServerFile } from '../task-file.ts';
import { serverFromFile } from './backup.ts';
import { open, pointId } from './location.ts';
import { parseLocation, type LocationArg } from '../location-url.ts';

export interface ApplyGlobalsDocument {
  dryRun: boolean;
  created: string[];
  skipped: string[];
  altered: string[];
  failed: { name: string; message: string }[];
}

export async function applyGlobalsCommand(
  engine: Engine,
  where: LocationArg,
  opts: { point: string; serverFile: string; alterExisting: boolean; dryRun: boolean; keyFile?: string },
): Promise<{ document: ApplyGlobalsDocument; text: string }> {
  const w = parseLocation(where);
  // A MySQL/MariaDB task's server folder holds grants.sql (users, roles, grants) instead.
  const mysql = w.location.kind === 'local' && existsSync(join(w.location.path, MYSQL_GRANTS_STREAM.name));
  w.location = resolveServerFolder(w.location, mysql ? MYSQL_GRANTS_STREAM.name : PG_GLOBALS_STREAM.name);
  const { repo, key } = await open(engine, w, opts.keyFile);
  const id = await pointId(repo, opts.point);
  const { server, password } = serverFromFile(readJsonFile(opts.serverFile, ServerFile, 'The server file'), 'cli-apply-globals-target', dirname(resolve(opts.serverFile)));
  const settings = await engine.call('settings.get', undefined);
  const spec: ApplyGlobalsJobSpec = {
    op: 'apply-globals',
    location: w.location,
    credentials: w.credentials,
    pointId: id,
    server,
    password,
    toolPaths: settings.ok ? settings.data.toolPaths : {},
    keyBase64: key ? key.toString('base64') : null,
    alterExisting: opts.alterExisting,
    dryRun: opts.dryRun,
  };
  const report = await runWorkerJob<ApplyGlobalsReport>('repository-job', spec, { label: 'applying the roles and tablespaces' }).catch((e: unknown) => {
    throw errorInFileTerms(e, opts.serverFile, '');
  });
  return { document: applyGlobalsDocument(report), text: applyGlobalsText(report) };
}

export function applyGlobalsDocument(r: ApplyGlobalsReport): ApplyGlobalsDocument {
  const names = (action: string) => r.objects.filter((o) => o.action === action).map((o) => o.name);
  return {
    dryRun: r.dryRun,
    created: names('created'),
    skipped: names('skipped'),
    altered: names('altered'),
    failed: r.objects.filter((o) => o.action === 'failed').map((o) => ({ name: o.name, message: o.message ?? '' })),
  };
}

export function applyGlobalsText(r: ApplyGlobalsReport): string {
  const verb: Record<string, string> = r.dryRun
    ? { created: 'would create', skipped: 'would skip', altered: 'would alter', failed: 'FAILED' }
    : { created: 'created', skipped: 'skipped', altered: 'altered', failed: 'FAILED' };
  const d = applyGlobalsDocument(r);
  return [
    ...(r.dryRun ? ['Dry run: nothing was changed.'] : []),
    ...r.objects.map((o) => `${(verb[o.action] ?? o.action).padEnd(12)} ${o.name}${o.message ? ` — ${o.message}` : ''}`),
    `${d.created.length} ${r.dryRun ? 'to create' : 'created'}, ${d.skipped.length} skipped, ${d.altered.length} ${r.dryRun ? 'to alter' : 'altered'}, ${d.failed.length} failed.`,
  ].join('\n');
}
