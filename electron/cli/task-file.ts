/**
 * The task file of `backstop backup --config task.json` and the server file of
 * `backstop restore --server server.json`: a stable, documented interface (docs/CLI.md).
 *
 * Contract: unknown keys are rejected with the offending path; only `name`, `server`,
 * `type`, `destinations` and at least one schedule are required; everything else has a
 * documented default (schedules in the local time zone, no retention, no encryption, no
 * exclusions, client tools from PATH). Secrets are never in the file: it names the
 * environment variables (or key file) that hold them.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { describeIssues } from '../engine/api/dispatch.ts';
import { SERVER_FIX } from '../engine/servers/classify.ts';
import { notificationEvents } from '../engine/notifications/events.ts';
import { AzureAccessTier, HostInput, SftpHostKey, TaskHooks, TaskLimits, TestRestoreSettings, UploadLimits, type Retention } from '../shared/domain.ts';
import { BackstopError } from '../shared/result.ts';
import { jsonSyntaxError } from './json-syntax-error.ts';

export const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const Cron = z.string().trim().min(1).max(200);

export const ServerFile = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('postgres'),
    /** A stored server's name (`backstop servers add`); other commands ignore it. */
    name: z.string().trim().min(1).max(120).optional(),
    host: HostInput.default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(5432),
    user: z.string().min(1).default('postgres'),
    passwordEnv: EnvName.optional(),
    tls: z.enum(['disable', 'prefer', 'require', 'verify-full']).default('prefer'),
    /** The CA certificate (PEM) the server's certificate is verified against; relative to the file's folder. */
    tlsCaFile: z.string().min(1).max(4096).optional(),
  }),
  z.strictObject({
    kind: z.literal('mysql'),
    name: z.string().trim().min(1).max(120).optional(),
    host: HostInput.default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(3306),
    user: z.string().min(1).default('root'),
    passwordEnv: EnvName.optional(),
    tls: z.enum(['disable', 'prefer', 'require', 'verify-full']).default('prefer'),
    /** The CA certificate (PEM) the server's certificate is verified against; relative to the file's folder. */
    tlsCaFile: z.string().min(1).max(4096).optional(),
  }),
  z.strictObject({ kind: z.literal('sqlite'), name: z.string().trim().min(1).max(120).optional(), folder: z.string().min(1) }),
]);
export type ServerFile = z.infer<typeof ServerFile>;

/** `on`: categories (failure, warning, success, all) or event names (docs/NOTIFICATIONS.md). */
const On = z
  .array(z.string().refine((v) => ['failure', 'warning', 'success', 'all', ...notificationEvents()].includes(v), { message: `must be failure, warning, success, all or an event name (${notificationEvents().join(', ')})` }))
  .min(1)
  .optional();

export const NotificationFile = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('webhook'), urlEnv: EnvName, preset: z.enum(['json', 'slack', 'teams', 'discord']).default('json'), on: On }),
  z.strictObject({ kind: z.literal('heartbeat'), urlEnv: EnvName, method: z.enum(['GET', 'POST']).default('GET') }),
  z.strictObject({ kind: z.literal('email'), to: z.array(z.string().regex(/^[^\s@,<>]+@[^\s@,<>]+$/, 'must be an e-mail address')).min(1).max(50), on: On }),
]);
export type NotificationFile = z.infer<typeof NotificationFile>;

export const DURATION = /^\d{1,6}[hdw]$/;
const Duration = z.string().regex(DURATION, 'must be a duration with its unit, like 36h, 14d or 2w');

export const TaskFile = z.strictObject({
  name: z.string().trim().min(1).max(120),
  server: ServerFile,
  type: z.enum(['logical', 'snapshot']),
  schedule: z
    .strictObject({ full: Cron.nullable().optional(), incremental: Cron.nullable().optional(), timezone: z.string().min(1).optional() })
    .refine((s) => Boolean(s.full || s.incremental), 'needs a full or an incremental schedule (or both)'),
  retention: z.strictObject({ minAge: Duration.optional(), keepLast: z.number().int().min(1).optional() }).optional(),
  encryption: z
    .discriminatedUnion('mode', [
      z.strictObject({ mode: z.literal('none') }),
      z.strictObject({ mode: z.literal('key'), keyFile: z.string().min(1).optional(), keyEnv: EnvName.optional() }),
    ])
    .optional(),
  destinations: z
    .array(
      z.discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('local'), path: z.string().min(1), limits: UploadLimits.optional() }),
        z.strictObject({
          kind: z.literal('s3'),
          /** "gcs": Google Cloud Storage's XML API (endpoint unless given, region, addressing and checksums from shared/gcs.ts). */
          preset: z.literal('gcs').optional(),
          bucket: z.string().min(3).max(63),
          prefix: z.string().max(512).default(''),
          region: z.string().min(1).default('us-east-1'),
          endpoint: z.string().url().optional(),
          forcePathStyle: z.boolean().default(true),
          storageClass: z.string().optional(),
          checksumMode: z.enum(['WHEN_REQUIRED', 'WHEN_SUPPORTED']).default('WHEN_REQUIRED'),
          accessKeyIdEnv: EnvName.default('AWS_ACCESS_KEY_ID'),
          secretAccessKeyEnv: EnvName.default('AWS_SECRET_ACCESS_KEY'),
          sessionTokenEnv: EnvName.optional(),
          limits: UploadLimits.optional(),
        }),
        z
          .strictObject({
            kind: z.literal('azure'),
            container: z.string().min(3).max(63),
            prefix: z.string().max(512).default(''),
            accountName: z.string().min(3).max(24),
            accountKeyEnv: EnvName.optional(),
            sasTokenEnv: EnvName.optional(),
            connectionStringEnv: EnvName.optional(),
            endpoint: z.string().url().optional(),
            accessTier: AzureAccessTier.optional(),
            limits: UploadLimits.optional(),
          })
          .refine((d) => [d.accountKeyEnv, d.sasTokenEnv, d.connectionStringEnv].filter(Boolean).length === 1, 'needs exactly one of accountKeyEnv, sasTokenEnv or connectionStringEnv'),
        z.strictObject({
          kind: z.literal('ftp'),
          host: z.string().min(1).max(255),
          port: z.number().int().min(1).max(65535).default(21),
          user: z.string().min(1).max(256),
          passwordEnv: EnvName.default('BACKSTOP_FTP_PASSWORD'),
          path: z.string().max(1024).default('/'),
          /** Required: plain FTP ("none") sends the password in clear and must be chosen, never defaulted. */
          tls: z.enum(['explicit', 'implicit', 'none'], { error: 'tls must be "explicit", "implicit" or "none" (plain FTP sends the password in clear: choose it explicitly)' }),
          certificateFingerprint: z.string().min(1).optional(),
          limits: UploadLimits.optional(),
        }),
        z
          .strictObject({
            kind: z.literal('sftp'),
            host: z.string().min(1).max(255),
            port: z.number().int().min(1).max(65535).default(22),
            user: z.string().min(1).max(255),
            path: z.string().max(1024).default(''),
            passwordEnv: EnvName.optional(),
            privateKeyFile: z.string().min(1).optional(),
            passphraseEnv: EnvName.optional(),
            /** Required to connect; a missing one is refused with the server's fingerprint in the error (for the user to verify and add). */
            hostKey: SftpHostKey.optional(),
            limits: UploadLimits.optional(),
          })
          .refine((d) => Boolean(d.passwordEnv || d.privateKeyFile), 'needs passwordEnv or privateKeyFile'),
      ]),
    )
    .min(1, 'needs at least one destination'),
  excludeDatabases: z.array(z.string().min(1)).default([]),
  tools: z.strictObject({ binDir: z.string().min(1).optional() }).optional(),
  notifications: z.array(NotificationFile).max(20).default([]),
  hooks: TaskHooks.optional(),
  limits: TaskLimits.optional(),
  /** Scheduled test restores (`backstop agent` runs them; `backstop test-restore` runs one now). */
  testRestore: TestRestoreSettings.optional(),
  /** Where test restores put their scratch databases: a server of the same kind as `server` (same shape); absent = `server`. */
  testServer: ServerFile.optional(),
});
export type TaskFile = z.infer<typeof TaskFile>;

/** Hours in a duration like 36h, 14d, 2w (exact; the unit is required). */
export function durationHours(d: string): number {
  const n = Number(d.slice(0, -1));
  const unit = d.at(-1);
  return unit === 'w' ? n * 168 : unit === 'd' ? n * 24 : n;
}

/**
 * A retention policy from a minimum age (36h, 14d, 2w) and keep-last, exact to the hour:
 * minAgeDays (what the window shows) rounded up, minAgeHours exact. A missing age is 0:
 * only keepLast then decides.
 */
export function retentionFrom(minAge: string | undefined, keepLast: number | undefined): Retention {
  const hours = minAge === undefined ? 0 : durationHours(minAge);
  return { minAgeDays: Math.ceil(hours / 24), minAgeHours: hours, keepLast: keepLast ?? null };
}

export function readJsonFile<T>(path: string, schema: z.ZodType<T>, what: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BackstopError('MALFORMED_REQUEST', `${what} ${path} does not exist.`);
    if (code === 'EISDIR') throw new BackstopError('MALFORMED_REQUEST', `${what} ${path} cannot be read (it is a folder). Give the path of the JSON file itself.`);
    throw new BackstopError('MALFORMED_REQUEST', `${what} ${path} cannot be read (${code ?? (e as Error).message}). Check its permissions for the user Backstop runs as.`);
  }
  // A byte-order mark (Windows PowerShell's `Out-File -Encoding utf8`, older Notepad) is not part of the JSON.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    const at = jsonSyntaxError(text);
    const where = at ? ` at line ${at.line}, column ${at.column}${at.atEnd ? ' (the end of the file)' : ''}: ${at.reason}` : '';
    throw new BackstopError('MALFORMED_REQUEST', `${what} ${path} is not valid JSON${where}.`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new BackstopError('MALFORMED_REQUEST', `${what} ${path}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/**
 * An engine error phrased for a file-driven command: the window's "check the server
 * settings" becomes the keys to change in the task (or server) file. `prefix` is where the
 * server object sits in that file ("server." in a task file, "" in a server file).
 */
/** A thrown engine error with `inFileTerms` applied (anything else is returned as it is). */
export function errorInFileTerms(e: unknown, file: string, prefix: string): unknown {
  if (!(e instanceof BackstopError)) return e;
  const phrased = inFileTerms(e, file, prefix);
  return phrased === e ? e : new BackstopError(e.code, phrased.message, { cause: e });
}

export function inFileTerms<T extends { code: string; message: string }>(error: T, file: string, prefix: string): T {
  const message = error.message
    .replace(SERVER_FIX.unreachable, `Check that it is running and that \`${prefix}host\`/\`${prefix}port\` in ${file} are right`)
    .replace(SERVER_FIX.credentials, `Check \`${prefix}user\` in ${file}, and the password in the environment variable that \`${prefix}passwordEnv\` names`)
    .replace(SERVER_FIX.tlsRequire, `set \`${prefix}tls\` to "require" (or "verify-full") in ${file}`)
    .replace(SERVER_FIX.tlsCaFile, `set \`${prefix}tlsCaFile\` in ${file} to the CA certificate (PEM) that signed the server's certificate`);
  return message === error.message ? error : { ...error, message };
}
