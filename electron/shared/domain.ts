/**
 * Domain model shared by every process: servers, tasks, settings, runs.
 *
 * Schemas here are the single source of truth for shapes that cross a boundary (IPC,
 * the app database, the CLI's task file). They check shape only; the engine checks
 * meaning (a cron expression that parses, a folder that exists). Secrets never appear
 * in these types: a stored object holds a keychain reference (`*Ref`), and the only
 * place a secret value is accepted is the write-only `password` / `secretAccessKey`
 * field of a create/update input, which the engine moves into the keychain at once.
 */
import { z } from 'zod';

export const Id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an id');
export type Id = z.infer<typeof Id>;

const Name = z.string().trim().min(1, 'must not be empty').max(120, 'must be at most 120 characters');
const Host = z.string().trim().min(1).max(255);
/**
 * A database server's host as entered (the window, a server file): a name or address alone.
 * A connection URI pasted here (`postgresql://user:password@db1/postgres`) would put its
 * password in the app database and in every error that names the host, so a value with
 * `@` or `://` is refused (the message never repeats it).
 */
/** A host name or address alone: no `user@` and no `scheme://` (server hosts here, FTP hosts in destinations/address-credentials.ts). */
export const isBareHost = (h: string): boolean => !h.includes('@') && !h.includes('://');
/**
 * A database server's host that is an absolute path: the folder of PostgreSQL's socket (libpq reads it so) or the path
 * of MariaDB's socket file (the MySQL/MariaDB connector then connects with --socket, without TLS).
 */
export const isSocketPath = (h: string): boolean => h.startsWith('/');
/** A host and port as people read them in messages: `[::1]:5432` for an IPv6 address, the socket path alone for a socket (its port only names the file). */
export const hostPort = (host: string, port: number): string => (isSocketPath(host) ? host : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
/**
 * The other classic slips in a server's host field, which the tools only failed on as a host name that does not resolve
 * (retried as if the server were down): a port typed after the name (`db1:5433`; a name or IPv4 address has no `:`,
 * an IPv6 address at least two) and an IPv6 address in URL brackets (`[::1]`). Null when `h` is neither.
 */
export function hostSlip(h: string): string | null {
  if (isSocketPath(h)) return null;
  const port = /^(\[[^\]]*\]|[^:]+):(\d+)$/.exec(h);
  if (port) return `must not carry the port ("${h}"): give the host alone (${port[1]!.replace(/^\[|\]$/g, '')}) and put ${port[2]} in the port field`;
  if (/^\[.*\]$/.test(h)) return `must be an IPv6 address without brackets (${h.slice(1, -1)}, as the database tools take it)`;
  return null;
}
export const HostInput = Host.refine(isBareHost, 'must be a host name or address alone, not a URL or user@host; put the user and the password in their own fields').superRefine((h, ctx) => {
  const slip = isBareHost(h) ? hostSlip(h) : null;
  if (slip) ctx.addIssue({ code: 'custom', message: slip });
});
const Port = z.number().int().min(1).max(65535);
const AbsPath = z.string().min(1).max(4096);
/** Write-only secret input. Never part of a stored or returned object. */
const SecretInput = z.string().min(1).max(4096);

// ───────────── servers ─────────────

export const SERVER_KINDS = ['postgres', 'mysql', 'sqlite'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export const TlsMode = z.enum(['disable', 'prefer', 'require', 'verify-full']);
export type TlsMode = z.infer<typeof TlsMode>;
/**
 * The CA certificate (PEM file path, not a secret) that signed the server's certificate: what verify-full checks
 * it against (PGSSLROOTCERT / --ssl-ca). Unset: PostgreSQL's ~/.postgresql/root.crt; MariaDB verifies against nothing.
 */
const TlsCaFile = AbsPath.nullable().optional();

const PostgresFields = {
  kind: z.literal('postgres'),
  host: Host,
  port: Port.default(5432),
  user: z.string().min(1).max(128),
  tls: TlsMode.default('prefer'),
  tlsCaFile: TlsCaFile,
};
const MysqlFields = {
  kind: z.literal('mysql'),
  host: Host,
  port: Port.default(3306),
  user: z.string().min(1).max(128),
  tls: TlsMode.default('prefer'),
  tlsCaFile: TlsCaFile,
};
const SqliteFields = {
  kind: z.literal('sqlite'),
  folder: AbsPath,
};

/** The last connection test of a saved server (`servers.test` by id): when, and how it ended. */
export const ServerTestResult = z.object({
  at: z.string(),
  ok: z.boolean(),
  /** Error code and message when it failed (secret-free by contract); null when it passed. */
  code: z.string().nullable(),
  message: z.string().nullable(),
});
export type ServerTestResult = z.infer<typeof ServerTestResult>;
const LastTest = { lastTest: ServerTestResult.nullable().optional() };

/** A server as stored and returned: no secret, only `passwordRef` (a keychain account name). */
export const Server = z.discriminatedUnion('kind', [
  z.object({ id: Id, name: Name, ...PostgresFields, passwordRef: z.string().nullable(), createdAt: z.string(), updatedAt: z.string(), ...LastTest }),
  z.object({ id: Id, name: Name, ...MysqlFields, passwordRef: z.string().nullable(), createdAt: z.string(), updatedAt: z.string(), ...LastTest }),
  z.object({ id: Id, name: Name, ...SqliteFields, createdAt: z.string(), updatedAt: z.string(), ...LastTest }),
]);
export type Server = z.infer<typeof Server>;

/** Input to create a server. `password`, when given, goes to the keychain and nowhere else. */
export const ServerInput = z.discriminatedUnion('kind', [
  z.strictObject({ name: Name, ...PostgresFields, host: HostInput, password: SecretInput.optional() }),
  z.strictObject({ name: Name, ...MysqlFields, host: HostInput, password: SecretInput.optional() }),
  z.strictObject({ name: Name, ...SqliteFields }),
]);
export type ServerInput = z.input<typeof ServerInput>;
export type ServerInputParsed = z.infer<typeof ServerInput>;

// ───────────── tasks ─────────────

export const BackupType = z.enum(['logical', 'snapshot']);
export type BackupType = z.infer<typeof BackupType>;
export const PointKind = z.enum(['full', 'incremental']);
export type PointKind = z.infer<typeof PointKind>;

/** A 5-field cron expression (minute hour day-of-month month day-of-week); meaning checked by the engine. */
export const Cron = z
  .string()
  .trim()
  .max(200)
  .refine((s) => s.split(/\s+/).length === 5, 'must have 5 fields: minute hour day-of-month month day-of-week');

export const Schedule = z
  .strictObject({
    full: Cron.nullable().default(null),
    incremental: Cron.nullable().default(null),
    /** IANA time zone of the schedules, e.g. "Europe/Berlin". */
    timezone: z.string().min(1).max(64),
  })
  .refine((s) => s.full !== null || s.incremental !== null, 'needs a full or an incremental schedule (or both)');
export type Schedule = z.infer<typeof Schedule>;

export const Retention = z.strictObject({
  /** Restore points younger than this are never deleted. 0 keeps everything (no retention). */
  minAgeDays: z.number().int().min(0).max(36500).default(0),
  /** Optionally keep at least the newest N points whatever their age. */
  keepLast: z.number().int().min(1).max(100000).nullable().default(null),
  /**
   * The minimum age to the hour (CLI task files and `prune`); when present it replaces
   * minAgeDays, and 0 means no minimum age — with keepLast, exactly the newest keepLast are kept.
   */
  minAgeHours: z.number().int().min(0).max(876000).optional(),
});
export type Retention = z.infer<typeof Retention>;

export const Encryption = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('none') }),
  z.strictObject({
    mode: z.literal('key'),
    /** Keychain account holding the base64 key. */
    keyRef: z.string().min(1).max(200),
    /** Short, non-secret fingerprint shown wherever the key is referenced. */
    fingerprint: z.string().min(1).max(64),
  }),
]);
export type Encryption = z.infer<typeof Encryption>;

/** A key as the user gives it (engine keys/key-text.ts parseKey reads it): the key alone, the recovery sheet's groups, or a whole key file's text. */
export const KeyText = z.string().min(1).max(4000);

export const S3ChecksumMode = z.enum(['WHEN_REQUIRED', 'WHEN_SUPPORTED']);

/** Upload bandwidth limit (bytes per second, token bucket shared by every backup of a run to that destination). */
export const UploadLimits = z.strictObject({ uploadBytesPerSecond: z.number().int().min(1024).max(1e12) });
export type UploadLimits = z.infer<typeof UploadLimits>;
/**
 * A task's limits: the default upload limit of its destinations, and the read limit on the
 * dump side (bytes per second read from the dump tool or the SQLite file, shared by every
 * database of a run). Each is optional; `{"uploadBytesPerSecond":N}` alone stays valid.
 */
export const TaskLimits = z.strictObject({
  uploadBytesPerSecond: z.number().int().min(1024).max(1e12).optional(),
  readBytesPerSecond: z.number().int().min(1024).max(1e12).optional(),
});
export type TaskLimits = z.infer<typeof TaskLimits>;

export const LocalDestination = z.strictObject({ kind: z.literal('local'), path: AbsPath, limits: UploadLimits.optional() });
export const S3Destination = z.strictObject({
  kind: z.literal('s3'),
  bucket: z.string().min(3).max(63),
  /** Common root under the bucket; each database gets `<prefix>/<database folder>/`. */
  prefix: z.string().max(512).default(''),
  region: z.string().min(1).max(64).default('us-east-1'),
  endpoint: z.string().url().nullable().default(null),
  forcePathStyle: z.boolean().default(true),
  storageClass: z.string().max(64).nullable().default(null),
  checksumMode: S3ChecksumMode.default('WHEN_REQUIRED'),
  /** Keychain account holding the access key id, secret and optional session token. */
  credentialsRef: z.string().min(1).max(200).nullable().default(null),
  limits: UploadLimits.optional(),
});
/** Azure access tiers for packs. Archive is refused: an archived blob cannot be read without hours of rehydration. */
export const AzureAccessTier = z.enum(['Hot', 'Cool', 'Cold'], {
  error: 'must be Hot, Cool or Cold (Archive is refused: archived blobs cannot be read back without hours of rehydration, so a restore would fail)',
});
const AzureAccountName = z.string().regex(/^[a-z0-9]{3,24}$/, 'must be 3 to 24 lowercase letters and digits (the storage account name)');
const AzureContainer = z.string().regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'must be 3 to 63 lowercase letters, digits and single hyphens (a container name)');
export const AzureDestination = z.strictObject({
  kind: z.literal('azure'),
  accountName: AzureAccountName,
  container: AzureContainer,
  /** Common root in the container; each database gets `<prefix>/<database folder>/`. */
  prefix: z.string().max(512).default(''),
  /** Service URL for Azurite or sovereign clouds; null for https://<account>.blob.core.windows.net. */
  endpoint: z.string().url().nullable().default(null),
  /** Tier of packs; null = the account's default. */
  accessTier: AzureAccessTier.nullable().default(null),
  /** Keychain account holding the account key, SAS token or connection string. */
  credentialsRef: z.string().min(1).max(200).nullable().default(null),
  limits: UploadLimits.optional(),
});
/** How an FTP destination is encrypted: explicit (AUTH TLS), implicit (FTPS, TLS from the first byte) or none (plain FTP: the password crosses the network in clear, so it is never a default). */
export const FtpTls = z.enum(['explicit', 'implicit', 'none']);
/** SHA-256 certificate fingerprint (AB:CD:… or SHA256:ABCD…) of a certificate the system does not trust but the user accepted. */
const CertificateFingerprint = z.string().regex(/^(SHA256:)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/i, 'must be a SHA-256 fingerprint (64 hex digits, colons allowed)');
const FtpFields = {
  kind: z.literal('ftp'),
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535).default(21),
  user: z.string().min(1).max(256),
  /** Folder on the server; each database gets `<path>/<database folder>/`. */
  path: z.string().max(1024).default('/'),
  /** Required, never defaulted: 'none' must be an explicit choice. */
  tls: FtpTls,
  certificateFingerprint: CertificateFingerprint.nullable().default(null),
  /** Keychain account holding the password. */
  credentialsRef: z.string().min(1).max(200).nullable().default(null),
};
export const FtpDestination = z.strictObject({ ...FtpFields, limits: UploadLimits.optional() });
/** An SSH server's host key fingerprint as OpenSSH prints it (`ssh-keygen -l`): `SHA256:<43 base64 chars>`. */
export const SftpHostKey = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'a host key fingerprint looks like SHA256: followed by 43 base64 characters');
const sftpServer = {
  host: z.string().min(1).max(255).regex(/^[^\s/@]+$/, 'a host name or address, without user, port or path'),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1).max(255),
  /** The server's pinned host key; null until the user accepted one (connecting then refuses, naming the server's). */
  hostKey: SftpHostKey.nullable().default(null),
  /** A private key file on this computer (its passphrase, if any, is the keychain secret); null for a password login. */
  privateKeyFile: z.string().min(1).max(4096).nullable().default(null),
  /** Keychain account holding the password or the key's passphrase. */
  credentialsRef: z.string().min(1).max(200).nullable().default(null),
};
export const SftpDestination = z.strictObject({
  kind: z.literal('sftp'),
  ...sftpServer,
  /** Common root on the server (absolute, or relative to the login folder); each database gets `<path>/<database folder>/`. */
  path: z.string().max(1024).default(''),
  limits: UploadLimits.optional(),
});
export const Destination = z.discriminatedUnion('kind', [LocalDestination, S3Destination, AzureDestination, FtpDestination, SftpDestination]);
export type Destination = z.infer<typeof Destination>;

/**
 * A destination's secret as the window or a script enters it, for the keychain (one
 * variant per kind that needs one; the destination then keeps only the returned reference).
 */
export const DestinationSecret = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('s3'),
    accessKeyId: z.string().min(1).max(256),
    secretAccessKey: z.string().min(1).max(1024),
    sessionToken: z.string().min(1).max(4096).optional(),
  }),
  z
    .strictObject({
      kind: z.literal('azure'),
      accountKey: z.string().min(1).max(1024).optional(),
      sasToken: z.string().min(1).max(4096).optional(),
      connectionString: z.string().min(1).max(4096).optional(),
    })
    .refine((s) => [s.accountKey, s.sasToken, s.connectionString].filter((v) => v !== undefined).length === 1, 'give exactly one of accountKey, sasToken or connectionString'),
  z.strictObject({ kind: z.literal('ftp'), password: z.string().min(1).max(1024) }),
  /** An SFTP login's password, or its private key's passphrase. */
  z.strictObject({ kind: z.literal('sftp'), password: z.string().min(1).max(1024).optional(), passphrase: z.string().min(1).max(1024).optional() }),
]);
export type DestinationSecret = z.infer<typeof DestinationSecret>;

/**
 * Commands run around each database's backup (argv arrays, never a shell string), with the
 * database's name in BACKSTOP_DATABASE; what a failing one does: fail the run, skip the
 * database, or only warn.
 */
export const TaskHooks = z.strictObject({
  pre: z.array(z.string().min(1).max(4096)).min(1).max(100).nullable().default(null),
  post: z.array(z.string().min(1).max(4096)).min(1).max(100).nullable().default(null),
  timeoutSeconds: z.number().int().min(1).max(86400).default(300),
  onFailure: z.enum(['fail', 'skip', 'warn']).default('fail'),
});
export type TaskHooks = z.infer<typeof TaskHooks>;
/**
 * A task's test restores (issue #22): on their own cron (in the task's time zone) and/or
 * after every successful full backup; `maxMinutes` caps one run's time, testing the
 * databases tested longest ago first (a rotating subset), the rest on the next run.
 */
export const TestRestoreSettings = z
  .strictObject({
    schedule: Cron.nullable().default(null),
    afterFull: z.boolean().default(false),
    maxMinutes: z.number().int().min(1).max(1440).nullable().default(null),
    /** A server from the Servers list, of the task's server's kind, that holds the scratch databases; absent = the task's own server. */
    serverId: Id.optional(),
  })
  .refine((t) => t.schedule !== null || t.afterFull, { message: 'needs a schedule, or afterFull: true', path: ['schedule'] });
export type TestRestoreSettings = z.infer<typeof TestRestoreSettings>;

const TaskFields = {
  name: Name,
  serverId: Id,
  type: BackupType,
  schedule: Schedule,
  retention: Retention.default({ minAgeDays: 0, keepLast: null }),
  encryption: Encryption.default({ mode: 'none' }),
  destinations: z.array(Destination).min(1, 'needs at least one destination').max(8),
  excludeDatabases: z.array(z.string().min(1).max(255)).max(10000).default([]),
  enabled: z.boolean().default(true),
  hooks: TaskHooks.optional(),
  /** Default upload limit for each destination (a destination's own `limits` wins), and the read limit on the dump side. */
  limits: TaskLimits.optional(),
  /** The Settings notification channels (ids) this task notifies; absent = all of them. */
  notifications: z.array(Id).max(20).optional(),
  testRestore: TestRestoreSettings.nullable().optional(),
};

export const Task = z.object({ id: Id, ...TaskFields, createdAt: z.string(), updatedAt: z.string() });
export type Task = z.infer<typeof Task>;

export const TaskInput = z.strictObject(TaskFields);
export type TaskInput = z.input<typeof TaskInput>;
export type TaskInputParsed = z.infer<typeof TaskInput>;

// ───────────── notifications ─────────────

/** A channel's filter: categories (failure, warning, success, all) or event names; null = failures and warnings. */
const NotificationOn = z.array(z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a category or an event name')).min(1).max(20).nullable().default(null);
export const EmailAddress = z.string().max(320).regex(/^[^\s@,<>]+@[^\s@,<>]+$/, 'must be an e-mail address');

/**
 * A notification channel set up once in Settings (docs/NOTIFICATIONS.md). A webhook's or
 * heartbeat's URL is a secret: it lives in the keychain (`notify.<id>.url`), never here.
 */
const channelShapes = <I extends z.ZodType>(id: I) =>
  z.discriminatedUnion('kind', [
    z.strictObject({ id, kind: z.literal('webhook'), name: Name, preset: z.enum(['json', 'slack', 'teams', 'discord']).default('json'), on: NotificationOn }),
    z.strictObject({ id, kind: z.literal('heartbeat'), name: Name, method: z.enum(['GET', 'POST']).default('GET') }),
    z.strictObject({ id, kind: z.literal('email'), name: Name, to: z.array(EmailAddress).min(1).max(50), on: NotificationOn }),
  ]);
export const NotificationChannelSetting = channelShapes(Id);
export type NotificationChannelSetting = z.infer<typeof NotificationChannelSetting>;
/** A channel's last delivery (what the window shows beside it): the event, when, and what became of it after the retries. */
export interface ChannelDelivery {
  at: string;
  event: string;
  status: 'delivered' | 'failed';
  attempts: number;
  /** Why it failed (secret-free, as recorded). */
  error: string | null;
}
/** A channel to save: without `id` it is a new one. */
export const NotificationChannelInput = channelShapes(Id.optional());

/** The SMTP server for e-mail channels; the password is in the keychain (`notify.smtp.password`). */
export const SmtpSetting = z.strictObject({
  host: z.string().trim().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  user: z.string().min(1).max(320).nullable().default(null),
  from: EmailAddress,
});
export type SmtpSetting = z.infer<typeof SmtpSetting>;

// ───────────── settings ─────────────

export const Theme = z.enum(['system', 'light', 'dark']);
export const Settings = z.strictObject({
  theme: Theme.default('system'),
  /** Global limit on database backups running at once. */
  maxConcurrentBackups: z.number().int().min(1).max(16).default(2),
  startAtLogin: z.boolean().default(false),
  /** Native notifications for failed runs, stale databases, new databases, keys never exported. */
  notifications: z.boolean().default(true),
  /** A database with no successful backup for this long is stale; null = twice its incremental interval, else twice its full interval. */
  staleAfterHours: z.number().int().min(1).max(24 * 365).nullable().default(null),
  /** The window and the tray warn when a PostgreSQL snapshot task's replication slot holds back more WAL than this on its server (GiB). */
  slotWarnGiB: z.number().min(0.01).max(100_000).default(1),
  /** Folders searched first for client tools (pg_dump, mariadb-dump, …); empty = PATH and usual places. */
  toolPaths: z.strictObject({
    postgres: z.string().max(4096).nullable().default(null),
    mysql: z.string().max(4096).nullable().default(null),
  }).default({ postgres: null, mysql: null }),
  /** Webhooks, heartbeats and e-mail (secrets in the keychain); tasks choose among them. */
  notificationChannels: z.array(NotificationChannelSetting).max(20).default([]),
  smtp: SmtpSetting.nullable().default(null),
});
export type Settings = z.infer<typeof Settings>;
/**
 * Some settings, the others left as they are. Built from each field without its default:
 * `Settings.partial()` fills every absent key with its default in zod 4, so a patch of the
 * theme alone reset every other setting — notification channels and the e-mail server too.
 */
const S = Settings.shape;
export const SettingsPatch = z.strictObject({
  theme: S.theme.unwrap().optional(),
  maxConcurrentBackups: S.maxConcurrentBackups.unwrap().optional(),
  startAtLogin: S.startAtLogin.unwrap().optional(),
  notifications: S.notifications.unwrap().optional(),
  staleAfterHours: S.staleAfterHours.unwrap().optional(),
  slotWarnGiB: S.slotWarnGiB.unwrap().optional(),
  toolPaths: S.toolPaths.unwrap().optional(),
  notificationChannels: S.notificationChannels.unwrap().optional(),
  smtp: S.smtp.unwrap().optional(),
});
export type SettingsPatch = z.infer<typeof SettingsPatch>;
export const DEFAULT_SETTINGS: Settings = Settings.parse({});

// ───────────── runs (history) ─────────────

export const RunStatus = z.enum(['running', 'canceling', 'canceled', 'success', 'partial', 'failed']);
export type RunStatus = z.infer<typeof RunStatus>;
export const RunTrigger = z.enum(['schedule', 'catch-up', 'manual', 'cli']);
export type RunTrigger = z.infer<typeof RunTrigger>;

/** One check a test restore ran on a restored database, and what it found. */
export const RestoreCheck = z.object({ name: z.string(), ok: z.boolean(), detail: z.string() });
export type RestoreCheck = z.infer<typeof RestoreCheck>;

/** What a run did: a backup (the default), a test restore (issue #22), a restore, or retention deleting points (issue #24). */
export const RunKind = z.enum(['backup', 'test-restore', 'restore', 'retention']);
export type RunKind = z.infer<typeof RunKind>;

/** Which kind of process started a run: the window, the `backstop` CLI, or `backstop serve` / `agent`. */
export const RunOrigin = z.enum(['app', 'cli', 'agent']);
export type RunOrigin = z.infer<typeof RunOrigin>;

/** A point retention deleted: its id, when it was taken, its kind, and why (the plan's reason, e.g. "older than 2 days"). */
export const DeletedPoint = z.object({ id: z.string(), createdAt: z.string(), kind: PointKind, reason: z.string().optional() });
export type DeletedPoint = z.infer<typeof DeletedPoint>;

/** What a restore run restored from and into (secret-free: no password, no key, no credentials in `source`). */
export const RestoreRunDetail = z.object({
  origin: RunOrigin,
  /** 'database': one database (or one cluster into a folder); 'server': a whole-server restore. */
  scope: z.enum(['database', 'server']),
  /** The backup folder (or destination root) restored from: a path or URL without credentials. */
  source: z.string(),
  /** The point asked for ('latest' or an id) or null when restoring to a moment. */
  point: z.string().nullable(),
  asOf: z.string().nullable(),
  /** The target server (name, kind, host; never a password), or null for a cluster restored into a folder. */
  server: z.object({ name: z.string(), kind: z.string(), host: z.string().nullable() }).nullable(),
  /** A new data directory (cluster restores, SQLite folders). */
  folder: z.string().nullable(),
});
export type RestoreRunDetail = z.infer<typeof RestoreRunDetail>;

export const RunDatabase = z.object({
  database: z.string(),
  destination: z.string(),
  kind: PointKind,
  /** Why a scheduled incremental became a full, when it did. */
  kindReason: z.string().nullable(),
  status: z.enum(['running', 'success', 'failed', 'canceled', 'skipped']),
  pointId: z.string().nullable(),
  bytesRead: z.number(),
  bytesStored: z.number(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  /** A server-level stream (PostgreSQL globals.sql, cluster base.tar), not a database; counted apart from databases. */
  serverStream: z.boolean().optional(),
  /** Test restores: the checks run on the restored copy, and how long restore + checks took. */
  checks: z.array(RestoreCheck).optional(),
  durationMs: z.number().nullable().optional(),
  /** Restores: the name the database was restored as (or the data directory of a cluster). */
  restoredAs: z.string().nullable().optional(),
  /** Retention: the points it deleted from this database's folder at this destination, and the bytes that freed. */
  deletedPoints: z.array(DeletedPoint).optional(),
  bytesFreed: z.number().optional(),
  /** Retention: points it would have deleted but kept, because a restore was reading them or a backup built on them (the next prune deletes them). */
  keptInUse: z.array(z.string()).optional(),
  /** Backups: what the user should know about the point stored although it succeeded (MariaDB: tables without transactions, not in the dump's snapshot). */
  warnings: z.array(z.string()).optional(),
});
export type RunDatabase = z.infer<typeof RunDatabase>;

export const Run = z.object({
  id: Id,
  taskId: Id,
  taskName: z.string(),
  trigger: RunTrigger,
  requestedKind: PointKind,
  status: RunStatus,
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  /** Fingerprint of the encryption key the run used; null when it did not encrypt. */
  keyFingerprint: z.string().nullable(),
  databases: z.array(RunDatabase),
  /** Absent for a backup (every older row is one); 'test-restore', 'restore' or 'retention' otherwise. */
  runKind: RunKind.optional(),
  /** Restores: where from, to which server, started by what (issue #24). */
  restore: RestoreRunDetail.optional(),
});
export type Run = z.infer<typeof Run>;

/** Live progress of one database inside a running run (event `run.progress`). */
export interface DatabaseProgress {
  database: string;
  /** 'uploading': the dump was read whole; its last packs are still going to a destination (a slow link). */
  phase: 'queued' | 'preparing' | 'dumping' | 'uploading' | 'done';
  bytesRead: number;
  expectedBytes: number | null;
  destinations: {
    destination: string;
    bytesNew: number;
    bytesStored: number;
    /** The upload limit in force (bytes/s), null or absent when none. */
    uploadBytesPerSecond?: number | null;
    /** Bytes of packs handed to this destination's upload so far (absent before the first report). */
    bytesToUpload?: number;
    /** Bytes of those on their way (S3 and Azure: sent, 64 KiB at a time; SFTP: acknowledged writes; FTP: sent, every 500 ms; a local folder: per pack). */
    bytesUploaded?: number;
  }[];
  /** A server-level stream (globals.sql, base.tar), not a database. */
  serverStream?: boolean;
  /** The task's read limit on the dump side (bytes/s), null or absent when none. */
  readBytesPerSecond?: number | null;
}

export interface ActiveRun {
  runId: string;
  taskId: string;
  taskName: string;
  kind: PointKind;
  startedAt: string;
  status: 'running' | 'canceling';
  databases: DatabaseProgress[];
}

export const AlertKind = z.enum(['run-failed', 'test-restore-failed', 'new-databases', 'databases-gone', 'stale-database', 'key-not-exported', 'slot-warning', 'disk-warning', 'clock-warning', 'points-missing', 'notification-failed']);
export type AlertKind = z.infer<typeof AlertKind>;
export interface Alert {
  kind: AlertKind;
  taskId: string | null;
  message: string;
  databases: string[];
  /** new-databases: those of `databases` that a Backstop restore created, and when. */
  restored?: { database: string; restoredAt: string }[];
}

// ───────────── servers: checks ─────────────

export interface ToolInfo {
  name: string;
  path: string;
  version: string;
}

export type BackupSupport = { available: true; scope: 'database' | 'server' } | { available: false; reason: string };

export interface ServerCheck {
  serverVersion: string;
  tools: ToolInfo[];
  warnings: string[];
  support: { logical: BackupSupport; snapshot: BackupSupport };
}

// ───────────── task status ─────────────

/** A database's newest test restore: whether it came back as recorded, when, and how long restore + checks took. */
export interface TestRestoreRecord {
  database: string;
  ok: boolean;
  at: string;
  durationMs: number | null;
}

export interface TaskStatus {
  taskId: string;
  nextFull: string | null;
  nextIncremental: string | null;
  running: boolean;
  lastRun: {
    runId: string;
    status: RunStatus;
    startedAt: string;
    endedAt: string | null;
    /** Databases only; server-level streams are listed apart in `serverStreams`. */
    databasesOk: number;
    databasesFailed: number;
    serverStreams?: { name: string; status: RunDatabase['status'] }[];
  } | null;
  /** Bytes written to destinations by this task's successful backups (after compression and dedup). */
  storedBytes: number;
  /** Databases with no successful backup for longer than the staleness threshold. */
  staleDatabases: string[];
  /** The task encrypts with a key the user has never saved outside the keychain. */
  keyNotExported: boolean;
  /** Databases the last run found for the first time; `restoredAt` when a Backstop restore created them. */
  newDatabases?: { database: string; restoredAt: string | null }[];
  /**
   * Proven restorable: each database's newest test restore (newest first), the databases the
   * task backs up that no test restore has tried yet, and when every tested database last
   * came back as recorded (null when one is failing or none was tested).
   */
  proven?: {
    databases: TestRestoreRecord[];
    untested: string[];
    allOkAt: string | null;
    /**
     * The newest test restore, when it failed before it could test any database (it could not
     * start: the key missing, the test server unreachable, the destination unreadable) and no
     * database was tested after it: the proofs above are older than it. Absent otherwise.
     */
    lastRunFailed?: { at: string; code: string; message: string };
  };
  /** A PostgreSQL snapshot task's replication slot, as last checked (engine/tasks/slot-watch.ts); absent for other tasks or before the first check. */
  slot?: { name: string; heldBytes: number; checkedAt: string; warning: string | null };
  /** MySQL/MariaDB: why the last run's incrementals re-dumped instead of reading the binary log (log off, no privilege, purged), with the fix; null when they did not. */
  logFallback?: string | null;
}

/**
 * One database of one task, as the Databases view lists it: computed from what the engine
 * recorded (task_databases, history, schedules), without connecting to the server.
 * `freshness`: `stale` past the staleness threshold (as `staleDatabases`), `due` past half of
 * it, `fresh` otherwise; `unscheduled` for a paused task or one without a threshold; `gone`
 * for one a run found no longer on the server (dropped or renamed; its backups stay).
 */
export interface DatabaseOverview {
  database: string;
  taskId: string;
  taskName: string;
  serverId: string;
  serverName: string;
  serverKind: ServerKind;
  firstSeenAt: string;
  lastSuccessAt: string | null;
  freshness: 'fresh' | 'due' | 'stale' | 'unscheduled' | 'gone';
  /** Bytes its successful backups stored (after compression and dedup), and how many runs backed it up. */
  storedBytes: number;
  points: number;
  lastTestRestore: TestRestoreRecord | null;
  /** The task's next scheduled run (full or incremental, whichever comes first). */
  nextRun: string | null;
}

export interface RetentionPreview {
  destination: string;
  database: string;
  decisions: { id: string; createdAt: string; kind: PointKind; action: 'keep' | 'delete'; reason: string }[];
  error: { code: string; message: string } | null;
}

export type ProbeStepName = 'put' | 'get' | 'list' | 'delete';

/** One step of a destination's "Test connection"; `skipped` when an earlier step failed. */
export interface ProbeStep {
  step: ProbeStepName;
  ok: boolean;
  skipped?: boolean;
  /** BackstopError code, or 'MISMATCH' when get returned other bytes than were put, 'MISSING' when list did not show the object. */
  code?: string;
  message?: string;
}

/** A destination's "Test connection": each step, and the hint naming the most likely fix when one failed. */
export interface ProbeReport {
  ok: boolean;
  steps: ProbeStep[];
  hint?: string;
  /** SFTP: the fingerprint the server presented when it was refused (no key pinned yet, or a different one), for the user to verify and accept. */
  hostKey?: string;
}

// ───────────── restore ─────────────

/** Where a database's backup folder is: a local folder, or a folder in an S3 bucket. */
export const BackupLocation = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('local'), path: AbsPath }),
  z.strictObject({
    kind: z.literal('s3'),
    bucket: z.string().min(3).max(63),
    /** The database folder's full prefix in the bucket, e.g. "backstop/sales". */
    prefix: z.string().max(1024),
    region: z.string().min(1).max(64).default('us-east-1'),
    endpoint: z.string().url().nullable().default(null),
    forcePathStyle: z.boolean().default(true),
    checksumMode: S3ChecksumMode.default('WHEN_REQUIRED'),
    credentialsRef: z.string().min(1).max(200).nullable().default(null),
  }),
  z.strictObject({
    kind: z.literal('azure'),
    accountName: AzureAccountName,
    container: AzureContainer,
    /** The database folder's full prefix in the container. */
    prefix: z.string().max(1024),
    endpoint: z.string().url().nullable().default(null),
    credentialsRef: z.string().min(1).max(200).nullable().default(null),
  }),
  /** An FTP destination's fields, `path` being the backup folder's full path on the server. */
  z.strictObject(FtpFields),
  /** A folder on an SFTP server: `path` is the database folder's full path there. */
  z.strictObject({ kind: z.literal('sftp'), ...sftpServer, path: z.string().max(2048) }),
]);
export type BackupLocation = z.infer<typeof BackupLocation>;

/** A restore point id: its UTC creation time and a random suffix, e.g. 20260102T030405678Z-9f3a0c1b. */
export const PointId = z.string().regex(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/, 'must be a restore point id');

export interface RestorePoint {
  id: string;
  kind: PointKind;
  backupType: BackupType;
  createdAt: string;
  /** Bytes of the dump or snapshot stream. */
  length: number;
  /** What the stream is (pg-custom, mysql-sql, sqlite-file, sqlite-sql, pg-globals-sql, pg-basebackup-tar). */
  format: string;
  chainId: string;
  /** The point this one continues (an incremental's parent); null for a full (always given by the engine). What was written after what, whatever the dates say (latest-point.ts). */
  parentId?: string | null;
  engineVersion: string;
  /** Bytes this point added to the folder: its new chunks as stored (compressed, encrypted); 0 when all were stored before. */
  bytesAdded: number;
}

/** A restorable folder under a destination root (a database folder, or a server-level stream in `~server`). */
export interface BackupFolderChoice {
  /** Relative to the root, e.g. "sales" or "~server/base.tar". */
  folder: string;
  /** The database's name (decoded from the folder), the stream's name for a server-level stream; null when it cannot be decoded. */
  database: string | null;
  /** A server-level stream (globals.sql, base.tar), not a database. */
  serverStream: boolean;
  /** Where to read it: pass to restore.inspect / restore.start as is. */
  location: BackupLocation;
}

export interface BackupFolderInfo {
  location: string;
  /** The database's true name (null when the points cannot be read without a key). */
  database: string | null;
  serverIdentity: string | null;
  /** postgres | mysql | sqlite, from the newest point's format; null when unknown. */
  serverKind: ServerKind | null;
  encrypted: boolean;
  keyFingerprint: string | null;
  /** Encrypted and no key given or found in the keychain: ask the user for the key. */
  needsKey: boolean;
  /** Oldest first. */
  points: RestorePoint[];
  /**
   * The moments (ISO UTC, oldest first) a restore `asOf` can reach: a PostgreSQL cluster backup
   * with WAL, a MySQL/MariaDB database with the stored binary log; null when it has restore points only.
   */
  momentRanges?: { from: string; to: string }[] | null;
  /**
   * Points whose manifest cannot be read (damaged, or written by a newer Backstop), oldest
   * first: not in `points`, named so the window says so. Absent when every point reads.
   */
  unreadable?: { id: string; code: string; message: string }[];
}

export const RestoreOptions = z.strictObject({
  /** PostgreSQL: parallel pg_restore jobs. */
  jobs: z.number().int().min(1).max(16).default(1),
  /** PostgreSQL: do not restore object ownership (every object then belongs to the connecting user). */
  noOwner: z.boolean().default(false),
  /** PostgreSQL: do not restore privileges (GRANT/REVOKE on the database and its objects). */
  noPrivileges: z.boolean().default(false),
  /** PostgreSQL: roles named by the backup (owner, grantees) mapped to roles of the target server. */
  roleMap: z.record(z.string().min(1).max(63), z.string().min(1).max(63)).default({}),
  /** PostgreSQL: create roles the backup names that the target lacks (NOLOGIN, no privileges). */
  createRoles: z.boolean().default(false),
  /** SQLite: restore into this folder instead of the server's folder. */
  folder: AbsPath.nullable().default(null),
});
export type RestoreOptions = z.infer<typeof RestoreOptions>;

/**
 * The steps of a PostgreSQL cluster backup's restore (to a moment, or of one database out of
 * it), in order: the WAL taken out of the backup, the base backup, the WAL replayed in the
 * temporary cluster (one database only; a whole cluster replays on its first start), the
 * database dumped from it and loaded into the new database (the dump streams into the load).
 */
export const RESTORE_STEPS = ['wal-fetch', 'base-backup', 'wal-replay', 'dump', 'load'] as const;
export type RestoreStep = (typeof RESTORE_STEPS)[number];

export interface RestoreProgressInfo {
  restoreId: string;
  phase: 'preparing' | 'restoring' | 'checking' | 'done';
  unit: 'entries' | 'bytes';
  done: number;
  total: number | null;
  /** A PostgreSQL cluster backup's restore: the step running now (`done`/`total` are its own); absent for other restores. */
  step?: RestoreStep;
  /** With `step`: the steps this restore goes through, in order. */
  steps?: RestoreStep[];
}

/** A restore the engine is running now (`restore.active`), whoever started it: a window reloaded since, another window, a browser tab. */
export interface ActiveRestore {
  restoreId: string;
  /** The new database's name (or the new file or data directory for SQLite and cluster restores). */
  database: string;
  serverId: string;
  startedAt: string;
  /** Its latest progress; null until the job reports. */
  progress: RestoreProgressInfo | null;
}

export interface RestoreResult {
  restoreId: string;
  status: 'success' | 'failed' | 'canceled';
  database: string;
  /** SQLite: the new file. */
  path: string | null;
  /** What the user should know or do next (skipped ownership, how to start a restored cluster, …). */
  notes: string[];
  error: { code: string; message: string } | null;
}

/** What applying a backup's server-level accounts did (or would do, `dryRun`): one row per role/user/membership/tablespace. */
export interface GlobalsApplyReport {
  dryRun: boolean;
  objects: {
    kind: 'role' | 'membership' | 'tablespace' | 'statement';
    /** e.g. `role web`, `user 'app'@'%'`, `tablespace fast`. */
    name: string;
    action: 'created' | 'skipped' | 'altered' | 'failed';
    /** Why it was skipped, or the server's message when it failed. */
    message: string | null;
    /** MySQL/MariaDB: the account's stored GRANT statements (never its password hash). */
    grants?: string[];
  }[];
}

export interface VerifySummary {
  ok: boolean;
  pointsChecked: number;
  bytesChecked: number;
  problems: { pointId: string | null; packId: string | null; code: string; message: string }[];
}

export const HistoryQuery = z.strictObject({
  taskId: Id.optional(),
  limit: z.number().int().min(1).max(1000).default(100),
  /** Runs that started before this ISO time (for paging). */
  before: z.string().datetime().optional(),
  /** Only runs of this kind ('backup', 'test-restore', 'restore', 'retention'). */
  runKind: RunKind.optional(),
  /** With `before`, the next page after this run: runs that started exactly at `before` and sort after this id are included (no run lost between pages). */
  beforeId: z.string().min(1).max(100).optional(),
  /** Runs that started at or after this ISO time (the History view's "From" day). */
  since: z.string().datetime().optional(),
  /** Only runs with this outcome. */
  status: RunStatus.optional(),
  /** Only runs with a row for this database (or server stream) name. */
  database: z.string().min(1).max(1000).optional(),
});
export type HistoryQuery = z.infer<typeof HistoryQuery>;

// ───────────── keys ─────────────

/** An encryption key known to the app. Never the key itself: that lives in the keychain. */
export interface KeyInfo {
  keyRef: string;
  fingerprint: string;
  origin: 'generated' | 'imported';
  createdAt: string;
  /** When the user saved the key outside the keychain; null = never exported (flagged in the UI). */
  exportedAt: string | null;
  exportMethod: string | null;
}

export const KeyRef = z.string().regex(/^key\.[0-9a-f]{4}(-[0-9a-f]{4}){3}$/, 'must be a key reference');
export const KeyExportMethod = z.enum(['clipboard', 'file', 'print', 'confirmed']);

/**
 * Which process runs the schedules of a data dir (one scheduler per data dir, issue #25):
 * `owner` null when none does; `self` when it is the process answering.
 */
export interface SchedulerOwnerInfo {
  owner: { who: 'app' | 'agent'; pid: number; startedAt: string; host: string } | null;
  self: boolean;
  /** The window is a client of the owner (the agent answers its commands; main/agent-link.ts). */
  connected?: boolean;
}

export interface AppInfo {
  name: string;
  version: string;
  platform: string;
  dataDir: string;
  logsDir: string;
  schemaVersion: number;
}
