/**
 * `backstop backup --config task.json [--kind full|incremental]`: one server-wide run now,
 * recorded in the data dir's history, through the same runner the app uses.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Destination, Server, Task } from '../../shared/domain.ts';
import { BackstopError } from '../../shared/result.ts';
import type { S3Credentials } from '../../engine/storage/index.ts';
import type { Engine } from '../../engine/index.ts';
import { keyFingerprint } from '../../engine/crypto/index.ts';
import { checkTaskInput } from '../../engine/tasks/check-task-input.ts';
import { defaultKind, type RunSummary } from '../../engine/tasks/task-runner.ts';
import { keyFromFile, keyFromEnv, keyFromOptions, secretFromEnv } from '../cli-secrets.ts';
import { inFileTerms, readJsonFile, retentionFrom, type ServerFile, TaskFile } from '../task-file.ts';

/** `base`: the folder of the file the server object came from; a relative SQLite folder resolves against it. */
export function serverFromFile(f: ServerFile, id: string, base: string): { server: Server; password: string | null } {
  const stamp = new Date(0).toISOString();
  if (f.kind === 'sqlite') return { server: { id, name: id, kind: 'sqlite', folder: resolve(base, f.folder), createdAt: stamp, updatedAt: stamp }, password: null };
  const password = secretFromEnv(f.passwordEnv, `server ${f.host}:${f.port}`);
  return { server: { id, name: id, kind: f.kind, host: f.host, port: f.port, user: f.user, tls: f.tls, passwordRef: null, createdAt: stamp, updatedAt: stamp }, password };
}

/**
 * A task file as a task of the engine. Relative paths in it (destination paths, keyFile,
 * tools.binDir, a SQLite folder) resolve against the task file's folder, never the
 * current directory; a tools.binDir that does not exist is a VALIDATION error.
 */
export function loadTaskFile(path: string, keyFile: string | undefined) {
  const f = readJsonFile(path, TaskFile, 'The task file');
  const base = dirname(resolve(path));
  const id = `file-${f.name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 50)}`;
  const { server, password } = serverFromFile(f.server, `${id}-server`, base);
  const binDir = f.tools?.binDir ? resolve(base, f.tools.binDir) : null;
  if (binDir && !statSync(binDir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new BackstopError('VALIDATION', `The client-tools folder ${binDir} (\`tools.binDir\` in ${path}) does not exist. Fix the path, or remove \`tools\` to use the tools on PATH.`);
  }
  let key: Buffer | null = null;
  if (f.encryption?.mode === 'key') {
    key = keyFromOptions(keyFile) ?? (f.encryption.keyFile ? keyFromFile(resolve(base, f.encryption.keyFile)) : null) ?? (f.encryption.keyEnv ? keyFromEnv(f.encryption.keyEnv) : null);
    if (!key) throw new BackstopError('KEY_REQUIRED', `This task encrypts: give its key with --key-file FILE, BACKSTOP_KEY, or keyFile/keyEnv in the task file. No key yet? "backstop keys generate --out FILE" makes one.`);
  }
  const s3Credentials: (S3Credentials | null)[] = [];
  const destinations: Destination[] = f.destinations.map((d) => {
    if (d.kind === 'local') {
      s3Credentials.push(null);
      return { kind: 'local', path: resolve(base, d.path) };
    }
    const accessKeyId = secretFromEnv(d.accessKeyIdEnv, `S3 bucket ${d.bucket}`)!;
    const secretAccessKey = secretFromEnv(d.secretAccessKeyEnv, `S3 bucket ${d.bucket}`)!;
    const sessionToken = d.sessionTokenEnv ? secretFromEnv(d.sessionTokenEnv, `S3 bucket ${d.bucket}`)! : undefined;
    s3Credentials.push({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) });
    return {
      kind: 's3',
      bucket: d.bucket,
      prefix: d.prefix,
      region: d.region,
      endpoint: d.endpoint ?? null,
      forcePathStyle: d.forcePathStyle,
      storageClass: d.storageClass ?? null,
      checksumMode: d.checksumMode,
      credentialsRef: null,
    };
  });
  const stamp = new Date().toISOString();
  const task: Task = {
    id,
    name: f.name,
    serverId: server.id,
    type: f.type,
    schedule: { full: f.schedule.full ?? null, incremental: f.schedule.incremental ?? null, timezone: f.schedule.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC' },
    retention: f.retention ? retentionFrom(f.retention.minAge, f.retention.keepLast) : { minAgeDays: 0, keepLast: null },
    encryption: key ? { mode: 'key', keyRef: `key.${keyFingerprint(key)}`, fingerprint: keyFingerprint(key) } : { mode: 'none' },
    destinations,
    excludeDatabases: f.excludeDatabases,
    ...(f.testRestore ? { testRestore: { schedule: f.testRestore.schedule } } : {}),
    enabled: true,
    createdAt: stamp,
    updatedAt: stamp,
  };
  checkTaskInput(task);
  return { task, server, password, key, s3Credentials, toolPaths: binDir ? { postgres: binDir, mysql: binDir } : null };
}

export async function backupCommand(engine: Engine, configPath: string, kind: 'full' | 'incremental' | undefined, keyFile: string | undefined): Promise<RunSummary> {
  const { task, server, password, key, s3Credentials, toolPaths } = loadTaskFile(configPath, keyFile);
  const { done } = engine.runner.start({ task, server, password, key, s3Credentials, persisted: false, ...(toolPaths ? { toolPaths } : {}) }, kind ?? defaultKind(task), 'cli');
  const summary = await done;
  return {
    ...summary,
    error: summary.error ? inFileTerms(summary.error, configPath, 'server.') : null,
    databases: summary.databases.map((d) => (d.error ? { ...d, error: inFileTerms(d.error, configPath, 'server.') } : d)),
  };
}
