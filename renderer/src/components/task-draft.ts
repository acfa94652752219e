/**
 * The task editor's form state and its conversion to and from the contract's TaskInput.
 * Pure functions: the editor store holds a draft, checks it with `draftErrors`, and sends
 * `draftToInput` to the engine. Meaning (a cron that parses, a folder that exists) is the
 * engine's to check; this only checks that required fields are filled in sensibly.
 *
 * Typed at the edge: numeric fields are `WholeField` (a number, or '' when empty) because a
 * number input's v-model yields a number, and '' when cleared. `wholeOf` is the one place a
 * field's value becomes a number; it accepts anything (a number, a string pasted by a test
 * or an older draft) and never calls string methods on a value it has not checked.
 */
import type { Destination, DestinationSecret, Task, TaskInput } from '@shared/domain.ts';
import { trimSlashes } from '@shared/location-text.ts';
import { cronProblem, cronToPreset, presetToCron, type SchedulePreset } from './cron-words';
import { emptyHooks, hooksDraft, hooksOf, hooksProblems, type HooksDraft } from './hooks-draft';
import { emptyRate, rateBytes, rateField, rateProblem, uploadLimits, type RateField } from './upload-rate';
import { providerOf, type S3Provider } from './s3-presets';

export interface LocalDraft {
  kind: 'local';
  path: string;
  /** This destination's upload limit (empty = the task's limit, if any). */
  upload?: RateField;
}

export interface S3Draft {
  kind: 's3';
  provider: S3Provider;
  bucket: string;
  prefix: string;
  region: string;
  endpoint: string;
  forcePathStyle: boolean;
  storageClass: string;
  checksumMode: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  /** The keychain reference of saved credentials (kept when the secret fields are left empty). */
  credentialsRef: string | null;
  accessKeyId: string;
  secretAccessKey: string;
  upload?: RateField;
}

export interface AzureDraft {
  kind: 'azure';
  accountName: string;
  container: string;
  prefix: string;
  endpoint: string;
  accessTier: '' | 'Hot' | 'Cool' | 'Cold';
  credentialsRef: string | null;
  /** Which credential the secret field holds. */
  auth: 'accountKey' | 'sasToken' | 'connectionString';
  /** The typed secret (emptied once it is in the keychain). */
  secret: string;
  upload?: RateField;
}


export interface FtpDraft {
  kind: 'ftp';
  host: string;
  port: WholeField;
  user: string;
  path: string;
  tls: 'explicit' | 'implicit' | 'none';
  /** Plain FTP needs this ticked: the user read that the password crosses the network in clear. */
  plainConfirmed: boolean;
  certificateFingerprint: string;
  credentialsRef: string | null;
  password: string;
  upload?: RateField;
}


export interface SftpDraft {
  kind: 'sftp';
  host: string;
  port: WholeField;
  user: string;
  path: string;
  /** The accepted host key fingerprint ('' until the user accepted the one the server showed). */
  hostKey: string;
  /** A private key file on this computer; '' for a password login. */
  privateKeyFile: string;
  credentialsRef: string | null;
  /** Typed secrets (password, or the key's passphrase), stored in the keychain on save. */
  password: string;
  passphrase: string;
  upload?: RateField;
}

export type DestinationDraft = LocalDraft | S3Draft | AzureDraft | FtpDraft | SftpDraft;

export type EncryptionChoice = 'none' | 'generate' | 'import';

/** A whole-number form field: what a `type="number"` input's v-model holds (a number, or '' when empty). */
export type WholeField = number | '';

/**
 * The whole number a field holds: `''` when empty, `null` when it is not a whole number
 * (a fraction, a negative, text). Accepts numbers and strings alike.
 */
export function wholeOf(value: unknown): number | '' | null {
  if (value === '' || value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (text === '') return '';
  return /^\d+$/.test(text) ? Number(text) : null;
}

export interface TaskDraft {
  name: string;
  serverId: string;
  type: 'logical' | 'snapshot';
  full: SchedulePreset;
  incremental: SchedulePreset;
  timezone: string;
  minAgeDays: WholeField;
  keepLast: WholeField;
  encryption: EncryptionChoice;
  keyRef: string | null;
  fingerprint: string | null;
  destinations: DestinationDraft[];
  excludeDatabases: string[];
  enabled: boolean;
  /** Test restores (issue #22): their cron ('' = none), after every full, and a time cap in minutes ('' = none). */
  testRestoreCron: string;
  testRestoreAfterFull: boolean;
  testRestoreMaxMinutes: WholeField;
  /** Pre/post commands (issue #24); none entered = no `hooks`. */
  hooks: HooksDraft;
  /** The task's upload limit for every destination without its own (empty = none). */
  upload: RateField;
  /** The task's limit on reading from the server (the dump tool's output or the SQLite file; empty = none). */
  read: RateField;
  /** Which Settings notification channels the task notifies: all of them (no `notifications`), or the chosen ids. */
  notificationsMode: 'all' | 'chosen';
  notificationIds: string[];
  /** The server test restores put their scratch databases on: '' = the task's own server, else a server of the same kind. */
  testRestoreServerId: string;
}

export function defaultTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

export function emptyS3Draft(): S3Draft {
  return {
    kind: 's3',
    provider: 'aws',
    bucket: '',
    prefix: 'backstop',
    region: 'us-east-1',
    endpoint: '',
    forcePathStyle: false,
    storageClass: '',
    checksumMode: 'WHEN_SUPPORTED',
    credentialsRef: null,
    accessKeyId: '',
    secretAccessKey: '',
  };
}

export function emptyAzureDraft(): AzureDraft {
  return { kind: 'azure', accountName: '', container: '', prefix: 'backstop', endpoint: '', accessTier: '', credentialsRef: null, auth: 'accountKey', secret: '' };
}

/** The secret an Azure draft's typed field holds, for the keychain; null when nothing was typed. */
export function azureSecret(d: AzureDraft): { kind: 'azure'; accountKey?: string; sasToken?: string; connectionString?: string } | null {
  const value = d.auth === 'connectionString' ? d.secret.trim() : d.secret.trim().replace(/^\?/, '');
  return value ? { kind: 'azure', [d.auth]: value } : null;
}

/** An Azure draft as the contract's destination, with the credentials reference to use. */
export function azureDestination(d: AzureDraft, credentialsRef: string | null) {
  return {
    kind: 'azure' as const,
    accountName: d.accountName.trim(),
    container: d.container.trim(),
    prefix: trimSlashes(d.prefix.trim()),
    endpoint: d.endpoint.trim() || null,
    accessTier: d.accessTier || null,
    credentialsRef,
  };
}

export function emptyFtpDraft(): FtpDraft {
  return { kind: 'ftp', host: '', port: 21, user: '', path: '/backups', tls: 'explicit', plainConfirmed: false, certificateFingerprint: '', credentialsRef: null, password: '' };
}

export function emptySftpDraft(): SftpDraft {
  return { kind: 'sftp', host: '', port: 22, user: '', path: '/backups', hostKey: '', privateKeyFile: '', credentialsRef: null, password: '', passphrase: '' };
}

export function emptyDraft(serverId = '', timezone = defaultTimezone()): TaskDraft {
  return {
    name: '',
    serverId,
    type: 'logical',
    full: { kind: 'daily', time: '02:00' },
    incremental: { kind: 'hourly', minute: 0 },
    timezone,
    minAgeDays: 30,
    keepLast: '',
    encryption: 'none',
    keyRef: null,
    fingerprint: null,
    destinations: [{ kind: 'local', path: '' }],
    excludeDatabases: [],
    enabled: true,
    testRestoreCron: '',
    testRestoreAfterFull: false,
    testRestoreMaxMinutes: '',
    hooks: emptyHooks(),
    upload: emptyRate(),
    read: emptyRate(),
    notificationsMode: 'all',
    notificationIds: [],
    testRestoreServerId: '',
  };
}

function destinationDraft(d: Destination): DestinationDraft {
  return { ...kindDraft(d), ...(d.limits ? { upload: rateField(d.limits.uploadBytesPerSecond) } : {}) };
}

function kindDraft(d: Destination): DestinationDraft {
  if (d.kind === 'local') return { kind: 'local', path: d.path };
  if (d.kind === 'azure') {
    return { kind: 'azure', accountName: d.accountName, container: d.container, prefix: d.prefix, endpoint: d.endpoint ?? '', accessTier: d.accessTier ?? '', credentialsRef: d.credentialsRef, auth: 'accountKey', secret: '' };
  }
  if (d.kind === 'ftp') {
    const { limits: _l, ...f } = d;
    return { ...f, certificateFingerprint: f.certificateFingerprint ?? '', plainConfirmed: f.tls === 'none', password: '' };
  }
  if (d.kind === 'sftp') {
    return { kind: 'sftp', host: d.host, port: d.port, user: d.user, path: d.path, hostKey: d.hostKey ?? '', privateKeyFile: d.privateKeyFile ?? '', credentialsRef: d.credentialsRef, password: '', passphrase: '' };
  }
  return {
    kind: 's3',
    provider: providerOf(d.endpoint),
    bucket: d.bucket,
    prefix: d.prefix,
    region: d.region,
    endpoint: d.endpoint ?? '',
    forcePathStyle: d.forcePathStyle,
    storageClass: d.storageClass ?? '',
    checksumMode: d.checksumMode,
    credentialsRef: d.credentialsRef,
    accessKeyId: '',
    secretAccessKey: '',
  };
}

export function draftFromTask(t: Task): TaskDraft {
  return {
    name: t.name,
    serverId: t.serverId,
    type: t.type,
    full: cronToPreset(t.schedule.full),
    incremental: cronToPreset(t.schedule.incremental),
    timezone: t.schedule.timezone,
    minAgeDays: t.retention.minAgeDays,
    keepLast: t.retention.keepLast ?? '',
    encryption: t.encryption.mode === 'key' ? 'generate' : 'none',
    keyRef: t.encryption.mode === 'key' ? t.encryption.keyRef : null,
    fingerprint: t.encryption.mode === 'key' ? t.encryption.fingerprint : null,
    destinations: t.destinations.map(destinationDraft),
    excludeDatabases: [...t.excludeDatabases],
    enabled: t.enabled,
    testRestoreCron: t.testRestore?.schedule ?? '',
    testRestoreAfterFull: t.testRestore?.afterFull ?? false,
    testRestoreMaxMinutes: t.testRestore?.maxMinutes ?? '',
    hooks: hooksDraft(t.hooks),
    upload: rateField(t.limits?.uploadBytesPerSecond),
    read: rateField(t.limits?.readBytesPerSecond),
    notificationsMode: t.notifications ? 'chosen' : 'all',
    notificationIds: [...(t.notifications ?? [])],
    testRestoreServerId: t.testRestore?.serverId ?? '',
  };
}

/** The schedule part of a draft, as `schedule.preview` and the task take it. */
export function draftSchedule(d: Pick<TaskDraft, 'full' | 'incremental' | 'timezone'>) {
  return { full: presetToCron(d.full), incremental: presetToCron(d.incremental), timezone: d.timezone };
}

/**
 * The retention policy of a draft, or null when a field is not valid: days a whole number
 * from 0 to 36500 (required), keep-last empty or a whole number from 1.
 */
export function draftRetention(d: { minAgeDays: unknown; keepLast: unknown }): { minAgeDays: number; keepLast: number | null } | null {
  const age = wholeOf(d.minAgeDays);
  const last = wholeOf(d.keepLast);
  if (age === null || age === '' || age > 36500) return null;
  if (last === null || last === 0) return null;
  return { minAgeDays: age, keepLast: last === '' ? null : last };
}

export type DraftField =
  | 'name'
  | 'server'
  | 'schedule'
  | 'retention'
  | 'encryption'
  | 'destinations'
  | `destination-${number}`
  | `destination-${number}-upload`
  | 'testRestore'
  | 'hooksPre'
  | 'hooksPost'
  | 'hooksTimeout'
  | 'upload'
  | 'read'
  | 'notifications';

/** The test-restore settings of a draft: null for none, undefined when a field is not valid. */
export function draftTestRestore(
  d: Pick<TaskDraft, 'testRestoreCron' | 'testRestoreAfterFull' | 'testRestoreMaxMinutes'> & Partial<Pick<TaskDraft, 'serverId' | 'testRestoreServerId'>>,
): NonNullable<Task['testRestore']> | null | undefined {
  const cron = d.testRestoreCron.trim();
  const cap = wholeOf(d.testRestoreMaxMinutes);
  if (cap === null || cap === 0 || (cap !== '' && cap > 1440)) return undefined;
  if (cron && cronProblem(cron)) return undefined;
  if (!cron && !d.testRestoreAfterFull) return null;
  const serverId = d.testRestoreServerId && d.testRestoreServerId !== d.serverId ? d.testRestoreServerId : null;
  return { schedule: cron || null, afterFull: d.testRestoreAfterFull, maxMinutes: cap === '' ? null : cap, ...(serverId ? { serverId } : {}) };
}

/** What is missing or malformed, by field, in words a user can act on. */
export function draftErrors(d: TaskDraft): Partial<Record<DraftField, string>> {
  const e: Partial<Record<DraftField, string>> = {};
  if (!d.name.trim()) e.name = 'Give the task a name, e.g. “Nightly production”.';
  if (!d.serverId) e.server = 'Choose the server this task backs up.';
  const s = draftSchedule(d);
  if (s.full === null && s.incremental === null) e.schedule = 'Set a full or an incremental schedule (or both).';
  else if ((d.full.kind === 'custom' && !d.full.cron.trim()) || (d.incremental.kind === 'custom' && !d.incremental.cron.trim())) {
    e.schedule = 'Enter a cron expression, or choose a preset.';
  } else if ((d.full.kind === 'custom' && cronProblem(d.full.cron)) || (d.incremental.kind === 'custom' && cronProblem(d.incremental.cron))) {
    e.schedule = 'Fix the cron expression (5 fields: minute hour day month weekday), or choose a preset.';
  }
  if (!draftRetention(d)) e.retention = 'Enter whole numbers: days from 0, and “keep last” from 1 or empty.';
  if (d.encryption !== 'none' && !d.keyRef) e.encryption = d.encryption === 'generate' ? 'Generate the key first.' : 'Add the key first.';
  if (d.destinations.length === 0) e.destinations = 'Add at least one destination.';
  if (draftTestRestore(d) === undefined) {
    e.testRestore = d.testRestoreCron.trim() && cronProblem(d.testRestoreCron.trim()) ? 'Fix the test-restore cron expression (5 fields: minute hour day month weekday), or clear it.' : 'Enter the time cap as whole minutes from 1 to 1440, or leave it empty.';
  }
  d.destinations.forEach((dest, i) => {
    const problem = destinationDraftError(dest) ?? (dest.kind === 'sftp' && !dest.hostKey ? 'Test the connection and accept the server’s host key.' : null);
    if (problem) e[`destination-${i}`] = problem;
    const rate = rateProblem(dest.upload);
    if (rate) e[`destination-${i}-upload`] = rate;
  });
  const hooks = hooksProblems(d.hooks);
  if (hooks.pre) e.hooksPre = hooks.pre;
  if (hooks.post) e.hooksPost = hooks.post;
  if (hooks.timeout) e.hooksTimeout = hooks.timeout;
  const rate = rateProblem(d.upload);
  if (rate) e.upload = rate;
  const readRate = rateProblem(d.read, 'a read limit');
  if (readRate) e.read = readRate;
  if (d.notificationsMode === 'chosen' && d.notificationIds.length > 20) e.notifications = 'Choose at most 20 channels.';
  return e;
}

/** What one destination draft lacks, in words a user can act on; null when it is complete. */
export function destinationDraftError(dest: DestinationDraft): string | null {
  if (dest.kind === 'local') return dest.path.trim() ? null : 'Enter or choose a folder.';
  if (dest.kind === 'ftp') return ftpDraftProblem(dest);
  if (dest.kind === 'sftp') return sftpDraftProblem(dest);
  if (dest.kind === 'azure') {
    if (!/^[a-z0-9]{3,24}$/.test(dest.accountName.trim())) return 'Enter the storage account name (3 to 24 lowercase letters and digits).';
    if (!/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(dest.container.trim())) return 'Enter the container name (3 to 63 lowercase letters, digits and hyphens).';
    if (dest.endpoint.trim() && !/^https?:\/\/[^<>\s]+$/.test(dest.endpoint.trim())) return 'Enter the endpoint as a full URL, e.g. http://127.0.0.1:10000/devstoreaccount1.';
    if (!dest.credentialsRef && !dest.secret.trim()) return 'Enter the account key, a SAS token or a connection string.';
    return null;
  }
  if (dest.bucket.trim().length < 3) return 'Enter the bucket name.';
  if (dest.endpoint.trim() && !/^https?:\/\/[^<>\s]+$/.test(dest.endpoint.trim())) return 'Enter the endpoint as a full URL, e.g. https://s3.example.com.';
  if (!dest.credentialsRef && !(dest.accessKeyId.trim() && dest.secretAccessKey)) return 'Enter the access key id and secret.';
  if (/^(GLACIER|DEEP_ARCHIVE)$/i.test(dest.storageClass.trim())) return `${dest.storageClass.trim()} objects cannot be read without a restore request that takes hours, so a restore would fail. Choose another storage class (GLACIER_IR reads instantly).`;
  return null;
}

/** The secret typed into a destination draft, for the keychain; null when none was typed (keep the saved one). */
export function draftSecret(dest: DestinationDraft): DestinationSecret | null {
  if (dest.kind === 's3' && dest.accessKeyId.trim() && dest.secretAccessKey) return { kind: 's3', accessKeyId: dest.accessKeyId.trim(), secretAccessKey: dest.secretAccessKey };
  if (dest.kind === 'azure') return azureSecret(dest);
  if (dest.kind === 'ftp' && dest.password) return { kind: 'ftp', password: dest.password };
  if (dest.kind === 'sftp' && (dest.password || dest.passphrase)) return { kind: 'sftp', ...(dest.password ? { password: dest.password } : {}), ...(dest.passphrase ? { passphrase: dest.passphrase } : {}) };
  return null;
}

/** The draft once its typed secret is in the keychain under `credentialsRef`: the reference kept, the secret fields emptied. */
export function withSavedSecret(dest: DestinationDraft, credentialsRef: string): DestinationDraft {
  if (dest.kind === 's3') return { ...dest, credentialsRef, accessKeyId: '', secretAccessKey: '' };
  if (dest.kind === 'azure') return { ...dest, credentialsRef, secret: '' };
  if (dest.kind === 'ftp') return { ...dest, credentialsRef, password: '' };
  if (dest.kind === 'sftp') return { ...dest, credentialsRef, password: '', passphrase: '' };
  return dest;
}

/** Any destination draft as the contract's destination; `credentialsRef` replaces the draft's saved reference when given. */
export function draftDestination(dest: DestinationDraft, credentialsRef?: string | null): Destination {
  const upload = uploadLimits(dest.upload);
  const limits = upload ? { limits: upload } : {};
  if (dest.kind === 'local') return { kind: 'local', path: dest.path.trim(), ...limits };
  if (dest.kind === 'azure') return { ...azureDestination(dest, credentialsRef ?? dest.credentialsRef), ...limits };
  if (dest.kind === 'ftp') return { ...ftpDestination(dest, credentialsRef ?? dest.credentialsRef), ...limits };
  if (dest.kind === 'sftp') return { ...sftpDestination(dest, credentialsRef ?? dest.credentialsRef), ...limits };
  return { ...s3Destination(dest, credentialsRef ?? dest.credentialsRef), ...limits };
}

/** An S3 draft as the contract's destination, with the credentials reference to use. */
export function s3Destination(d: S3Draft, credentialsRef: string | null) {
  return {
    kind: 's3' as const,
    bucket: d.bucket.trim(),
    prefix: trimSlashes(d.prefix.trim()),
    region: d.region.trim() || 'us-east-1',
    endpoint: d.endpoint.trim() || null,
    forcePathStyle: d.forcePathStyle,
    storageClass: d.storageClass.trim() || null,
    checksumMode: d.checksumMode,
    credentialsRef,
  };
}

const FINGERPRINT = /^(SHA256:)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/i;

/** What is missing or wrong in an FTP draft (null when it can be saved and tested). */
export function ftpDraftProblem(d: FtpDraft): string | null {
  const port = wholeOf(d.port);
  if (!d.host.trim()) return 'Enter the FTP server’s host name.';
  if (port === '' || port === null || port < 1 || port > 65535) return 'Enter the port (21 for explicit TLS or plain FTP, 990 for implicit TLS).';
  if (!d.user.trim()) return 'Enter the FTP user name.';
  if (d.tls === 'none' && !d.plainConfirmed) return 'Plain FTP sends the password and the backups unencrypted: tick the confirmation, or choose TLS.';
  if (d.certificateFingerprint.trim() && !FINGERPRINT.test(d.certificateFingerprint.trim())) return 'Enter the certificate fingerprint as 64 hex digits (colons allowed), or leave it empty.';
  if (!d.credentialsRef && !d.password) return 'Enter the FTP password.';
  return null;
}

/** An FTP draft as the contract's destination, with the credentials reference to use. */
export function ftpDestination(d: FtpDraft, credentialsRef: string | null) {
  return {
    kind: 'ftp' as const,
    host: d.host.trim(),
    port: wholeOf(d.port) || 21,
    user: d.user.trim(),
    path: `/${trimSlashes(d.path.trim())}`,
    tls: d.tls,
    certificateFingerprint: d.certificateFingerprint.trim() || null,
    credentialsRef,
  };
}

/** What is missing in an SFTP draft (null when it can be saved); the host key comes from "Test connection". */
export function sftpDraftProblem(d: SftpDraft): string | null {
  const port = wholeOf(d.port);
  if (!d.host.trim() || /[\s/@]/.test(d.host.trim())) return 'Enter the server’s host name or address.';
  if (port === '' || port === null || port < 1 || port > 65535) return 'Enter a port from 1 to 65535 (SSH uses 22).';
  if (!d.user.trim()) return 'Enter the user to log in as.';
  if (!d.privateKeyFile.trim() && !d.password && !d.credentialsRef) return 'Enter the password, or choose a private key file.';
  return null;
}

/** An SFTP draft as the contract's destination, with the credentials reference to use. */
export function sftpDestination(d: SftpDraft, credentialsRef: string | null) {
  const port = wholeOf(d.port);
  return {
    kind: 'sftp' as const,
    host: d.host.trim(),
    port: typeof port === 'number' ? port : 22,
    user: d.user.trim(),
    path: d.path.trim().replace(/(.)\/+$/, '$1'),
    hostKey: d.hostKey || null,
    privateKeyFile: d.privateKeyFile.trim() || null,
    credentialsRef,
  };
}

/**
 * The TaskInput of a valid draft. `credentialsRefs[i]` replaces destination i's reference
 * (after the typed secret was stored in the keychain).
 */
/**
 * What changing the encryption of a saved task does to its backups (null when unchanged or
 * a new task): the engine never mixes keys in one folder (backup/prepare-destination.ts),
 * so the next backup is a full in a sibling folder, and the earlier points stay as they are —
 * restorable only with their key, and no longer pruned by this task's retention.
 */
export function encryptionChangeNotice(original: Task | null, d: Pick<TaskDraft, 'encryption' | 'keyRef' | 'fingerprint'>): string | null {
  if (!original) return null;
  const was = original.encryption;
  const now = d.encryption === 'none' ? null : d.keyRef && d.fingerprint ? { keyRef: d.keyRef, fingerprint: d.fingerprint } : undefined;
  if (now === undefined) return null; // no key chosen yet
  if (was.mode === 'none' ? now === null : now !== null && now.keyRef === was.keyRef) return null;
  const folder = now ? `"<database folder>~key-${now.fingerprint}"` : '"<database folder>~plain"';
  const earlier = was.mode === 'key' ? `They can be restored only with the key ${was.fingerprint}: keep it.` : 'They stay unencrypted.';
  return `The backups already made keep their ${was.mode === 'key' ? 'key' : 'lack of encryption'}: the next backup of each database is a full, in a new folder beside its folder (${folder}). The earlier backups stay where they are and can still be restored by choosing their folder, but this task's retention no longer deletes them. ${earlier}`;
}

export function draftToInput(d: TaskDraft, credentialsRefs: (string | null | undefined)[] = []): TaskInput {
  const retention = draftRetention(d) ?? { minAgeDays: 0, keepLast: null };
  const testRestore = draftTestRestore(d);
  const hooks = hooksOf(d.hooks);
  const upload = rateBytes(d.upload);
  const read = rateBytes(d.read);
  const limits = {
    ...(typeof upload === 'number' ? { uploadBytesPerSecond: upload } : {}),
    ...(typeof read === 'number' ? { readBytesPerSecond: read } : {}),
  };
  return {
    name: d.name.trim(),
    serverId: d.serverId,
    type: d.type,
    schedule: draftSchedule(d),
    retention,
    encryption: d.encryption !== 'none' && d.keyRef && d.fingerprint ? { mode: 'key', keyRef: d.keyRef, fingerprint: d.fingerprint } : { mode: 'none' },
    destinations: d.destinations.map((dest, i) => draftDestination(dest, credentialsRefs[i])),
    excludeDatabases: [...new Set(d.excludeDatabases)].sort(),
    enabled: d.enabled,
    ...(hooks ? { hooks } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(d.notificationsMode === 'chosen' ? { notifications: [...new Set(d.notificationIds)] } : {}),
    ...(testRestore ? { testRestore } : {}),
  };
}
