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
import { providerOf, type S3Provider } from './s3-presets';

export interface LocalDraft {
  kind: 'local';
  path: string;
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
}

export type DestinationDraft = LocalDraft | S3Draft | SftpDraft;

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
  /** The test-restore cron (issue #22), carried through an edit unchanged; null = none. */
  testRestore: string | null;
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
    testRestore: null,
  };
}

function destinationDraft(d: Destination): DestinationDraft {
  if (d.kind === 'local') return { kind: 'local', path: d.path };
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
    testRestore: t.testRestore?.schedule ?? null,
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

export type DraftField = 'name' | 'server' | 'schedule' | 'retention' | 'encryption' | 'destinations' | `destination-${number}`;

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
  d.destinations.forEach((dest, i) => {
    if (dest.kind === 'local' && !dest.path.trim()) e[`destination-${i}`] = 'Enter or choose a folder.';
    if (dest.kind === 's3') {
      if (dest.bucket.trim().length < 3) e[`destination-${i}`] = 'Enter the bucket name.';
      else if (dest.endpoint.trim() && !/^https?:\/\/[^<>\s]+$/.test(dest.endpoint.trim())) e[`destination-${i}`] = 'Enter the endpoint as a full URL, e.g. https://s3.example.com.';
      else if (!dest.credentialsRef && !(dest.accessKeyId.trim() && dest.secretAccessKey)) {
        e[`destination-${i}`] = 'Enter the access key id and secret.';
      }
    }
    if (dest.kind === 'sftp') {
      const port = wholeOf(dest.port);
      if (!dest.host.trim() || /[\s/@]/.test(dest.host.trim())) e[`destination-${i}`] = 'Enter the server’s host name or address.';
      else if (port === '' || port === null || port < 1 || port > 65535) e[`destination-${i}`] = 'Enter a port from 1 to 65535 (SSH uses 22).';
      else if (!dest.user.trim()) e[`destination-${i}`] = 'Enter the user to log in as.';
      else if (!dest.privateKeyFile.trim() && !dest.password && !dest.credentialsRef) e[`destination-${i}`] = 'Enter the password, or choose a private key file.';
      else if (!dest.hostKey) e[`destination-${i}`] = 'Test the connection and accept the server’s host key.';
    }
  });
  return e;
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

/** The secret typed into a destination draft (for the keychain), or null when none was typed. */
export function draftSecret(d: DestinationDraft): DestinationSecret | null {
  if (d.kind === 's3') return d.accessKeyId.trim() && d.secretAccessKey ? { kind: 's3', accessKeyId: d.accessKeyId.trim(), secretAccessKey: d.secretAccessKey } : null;
  if (d.kind === 'sftp') return d.password || d.passphrase ? { kind: 'sftp', ...(d.password ? { password: d.password } : {}), ...(d.passphrase ? { passphrase: d.passphrase } : {}) } : null;
  return null;
}

/** The draft after its typed secret was stored under `credentialsRef`: the reference kept, the typed fields emptied. */
export function withSavedSecret<D extends S3Draft | SftpDraft>(d: D, credentialsRef: string): D {
  return d.kind === 's3' ? { ...d, credentialsRef, accessKeyId: '', secretAccessKey: '' } : { ...d, credentialsRef, password: '', passphrase: '' };
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
export function draftToInput(d: TaskDraft, credentialsRefs: (string | null | undefined)[] = []): TaskInput {
  const retention = draftRetention(d) ?? { minAgeDays: 0, keepLast: null };
  return {
    name: d.name.trim(),
    serverId: d.serverId,
    type: d.type,
    schedule: draftSchedule(d),
    retention,
    encryption: d.encryption !== 'none' && d.keyRef && d.fingerprint ? { mode: 'key', keyRef: d.keyRef, fingerprint: d.fingerprint } : { mode: 'none' },
    destinations: d.destinations.map((dest, i) =>
      dest.kind === 'local'
        ? { kind: 'local' as const, path: dest.path.trim() }
        : dest.kind === 'sftp'
          ? sftpDestination(dest, credentialsRefs[i] ?? dest.credentialsRef)
          : s3Destination(dest, credentialsRefs[i] ?? dest.credentialsRef),
    ),
    excludeDatabases: [...new Set(d.excludeDatabases)].sort(),
    enabled: d.enabled,
    ...(d.testRestore ? { testRestore: { schedule: d.testRestore } } : {}),
  };
}
