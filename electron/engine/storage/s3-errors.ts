/**
 * Classifies failures of the AWS SDK (S3 service errors, HTTP statuses, socket errors)
 * and maps them to BackstopErrors. Used by the S3 backend and the connection probe.
 *
 * Contract: `classifyS3Error` never throws and looks only at the error's name, HTTP
 * status, fault, errno code and message. `s3BackstopError` returns NOT_FOUND (missing
 * key or bucket), PERMISSION_DENIED (credentials or access), DISK_FULL (quota), or
 * STORAGE (retryable only for 5xx, throttling, timeouts and connection failures). The
 * message names the operation, key and location and never contains any string passed
 * in `secrets` (the secret key and session token are redacted even if a server echoes them).
 */
import { BackstopError } from '../../shared/result.ts';
import { errnoOf, prop, publicEndpoint, redact, str } from './sdk-error-fields.ts';

export type S3ErrorKind =
  | 'no-such-key'
  | 'no-such-bucket'
  | 'bad-access-key'
  | 'bad-secret'
  | 'expired-token'
  | 'clock-skew'
  | 'access-denied'
  | 'wrong-region'
  | 'quota'
  | 'checksum'
  | 'dns'
  | 'network'
  | 'transient'
  | 'aborted'
  | 'other';

export interface S3ErrorInfo {
  kind: S3ErrorKind;
  /** Service error name (e.g. "NoSuchKey") or errno code (e.g. "ECONNREFUSED"), when known. */
  name: string | undefined;
  status: number | undefined;
  /** The region the server says the bucket lives in (redirect / malformed-authorization errors). */
  region?: string;
  /** For DNS failures: the host name that did not resolve. */
  host?: string;
  retryable: boolean;
}

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewedRetry',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'TimeoutError',
  'RequestTimeoutException',
  'ExpiredTokenRetry',
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ERR_SOCKET_CONNECTION_TIMEOUT', 'UND_ERR_SOCKET']);

function regionHint(e: unknown): string | undefined {
  const direct = str(prop(e, 'Region')) ?? str(prop(e, 'BucketRegion'));
  if (direct) return direct;
  const headers = prop(prop(e, '$response'), 'headers');
  const fromHeader = str(prop(headers, 'x-amz-bucket-region'));
  if (fromHeader) return fromHeader;
  const m = /expecting '([a-z0-9-]+)'/.exec(e instanceof Error ? e.message : '');
  return m?.[1];
}

export function classifyS3Error(e: unknown): S3ErrorInfo {
  const rawName = str(prop(e, 'name'));
  const name = rawName === 'Unknown' || rawName === 'Error' ? undefined : rawName;
  const status = prop(prop(e, '$metadata'), 'httpStatusCode');
  const httpStatus = typeof status === 'number' ? status : undefined;
  const message = e instanceof Error ? e.message : String(e);
  const base = { name, status: httpStatus };
  const errno = errnoOf(e);

  if (name === 'AbortError') return { ...base, kind: 'aborted', retryable: false };
  if (name === 'NoSuchKey') return { ...base, kind: 'no-such-key', retryable: false };
  if (name === 'NoSuchBucket') return { ...base, kind: 'no-such-bucket', retryable: false };
  if (name === 'InvalidAccessKeyId') return { ...base, kind: 'bad-access-key', retryable: false };
  if (name === 'SignatureDoesNotMatch') return { ...base, kind: 'bad-secret', retryable: false };
  if (name === 'ExpiredToken' || name === 'InvalidToken' || name === 'TokenRefreshRequired') return { ...base, kind: 'expired-token', retryable: false };
  if (name === 'RequestTimeTooSkewed') return { ...base, kind: 'clock-skew', retryable: false };
  if (name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed' || name === 'IllegalLocationConstraintException' || httpStatus === 301) {
    const region = regionHint(e);
    return { ...base, kind: 'wrong-region', retryable: false, ...(region ? { region } : {}) };
  }
  if (
    name === 'QuotaExceeded' ||
    name === 'XMinioStorageFull' ||
    name === 'StorageFull' ||
    name === 'InsufficientStorage' ||
    httpStatus === 507 ||
    /quota|storage cap|storage (is )?full/i.test(message)
  ) {
    return { ...base, kind: 'quota', retryable: false };
  }
  const detail = [message, str(prop(e, 'ArgumentName')), str(prop(e, 'HeaderName'))].join(' ');
  if (/checksum|aws-chunked|STREAMING-UNSIGNED|x-amz-trailer/i.test(detail) && (httpStatus === 400 || httpStatus === 501 || name === 'NotImplemented' || name === 'InvalidArgument' || name === 'InvalidRequest')) {
    return { ...base, kind: 'checksum', retryable: false };
  }
  if (name === 'AccessDenied' || name === 'Forbidden' || name === 'AllAccessDisabled' || name === 'AccountProblem' || httpStatus === 403) {
    return { ...base, kind: 'access-denied', retryable: false };
  }
  if (name === 'NotFound' || httpStatus === 404) return { ...base, kind: 'no-such-key', retryable: false };
  if (errno?.code === 'ENOTFOUND') return { ...base, name: errno.code, kind: 'dns', retryable: true, ...(errno.host ? { host: errno.host } : {}) };
  if (errno && NETWORK_CODES.has(errno.code)) return { ...base, name: errno.code, kind: 'network', retryable: true };
  if ((name && TRANSIENT_NAMES.has(name)) || (httpStatus !== undefined && (httpStatus >= 500 || httpStatus === 429)) || prop(e, '$fault') === 'server' || prop(e, '$retryable') !== undefined) {
    return { ...base, kind: 'transient', retryable: true };
  }
  if (httpStatus === undefined && /socket hang up|network|timed? ?out/i.test(message)) return { ...base, kind: 'network', retryable: true };
  return { ...base, kind: 'other', retryable: false };
}

export interface S3ErrorContext {
  op: string;
  key: string;
  location: string;
  bucket: string;
  region: string;
  endpoint: string | null;
  secrets: readonly string[];
}

/** Turns an SDK failure into a BackstopError a database administrator can act on. */
export function s3BackstopError(e: unknown, ctx: S3ErrorContext): BackstopError {
  if (e instanceof BackstopError) return e;
  const info = classifyS3Error(e);
  const what = `${ctx.op} of "${ctx.key}" in ${ctx.location}`;
  const raw = redact(e instanceof Error ? e.message : String(e), ctx.secrets);
  const tag = info.name ?? (info.status ? `HTTP ${info.status}` : 'error');
  const where = publicEndpoint(ctx.endpoint) ?? `AWS region ${ctx.region}`;
  const err = (code: ConstructorParameters<typeof BackstopError>[0], msg: string, retryable?: boolean) =>
    new BackstopError(code, redact(msg, ctx.secrets), retryable === undefined ? { cause: e } : { cause: e, retryable });
  switch (info.kind) {
    case 'no-such-key':
      return err('NOT_FOUND', `${what} failed: the object does not exist.`);
    case 'no-such-bucket':
      return err('NOT_FOUND', `${what} failed: the bucket "${ctx.bucket}" does not exist at ${where}. Create it, or correct the bucket name, region or endpoint.`);
    case 'bad-access-key':
      return err('PERMISSION_DENIED', `${what} failed: the server does not know this access key ID (InvalidAccessKeyId). Check the access key ID, and that the endpoint belongs to the provider that issued it.`);
    case 'bad-secret':
      return err('PERMISSION_DENIED', `${what} failed: the request signature did not match (SignatureDoesNotMatch). The secret access key is probably wrong; re-enter it.`);
    case 'expired-token':
      return err('PERMISSION_DENIED', `${what} failed: the session token is expired or invalid (${tag}). Enter fresh temporary credentials.`);
    case 'clock-skew':
      return err('PERMISSION_DENIED', `${what} failed: this computer's clock differs too much from the server's (RequestTimeTooSkewed). Correct the system clock.`);
    case 'access-denied':
      return err('PERMISSION_DENIED', `${what} failed: access denied (${tag}). Check that these credentials may ${ctx.op} objects in bucket "${ctx.bucket}".`);
    case 'wrong-region':
      return err(
        'STORAGE',
        `${what} failed: the bucket "${ctx.bucket}" is not in region "${ctx.region}"${info.region ? `; it is in "${info.region}". Set the region to ${info.region}` : '. Set the region the bucket was created in'} (${tag}).`,
        false,
      );
    case 'quota':
      return err('DISK_FULL', `${what} failed: the storage quota is exhausted (${tag}). Free space or raise the quota, then try again.`);
    case 'checksum':
      return err('STORAGE', `${what} failed: the server rejected the checksum headers (${tag}: ${raw}). Set the checksum mode to WHEN_REQUIRED.`, false);
    case 'dns':
      return err('STORAGE', `${what} failed: the host name ${info.host ?? ''} did not resolve (ENOTFOUND). Check the endpoint; for a custom endpoint turn on path-style addressing.`);
    case 'network':
      return err('STORAGE', `${what} failed: could not talk to ${where} (${tag}). Check the network and the endpoint.`);
    case 'transient': {
      // @smithy/node-http-handler's socketTimeout: "… timed out after N ms of inactivity".
      const idle = info.name === 'TimeoutError' ? /after (\d+) ms of inactivity/.exec(raw) : null;
      if (idle) {
        return err('STORAGE', `${what} failed: the connection to ${where} stalled, no bytes moved for ${Number(idle[1]) / 1000} s (${tag}); it will be retried. If this repeats, check the network path (VPN, proxy, firewall).`);
      }
      return err('STORAGE', `${what} failed: the server is busy or failing (${tag}); it will be retried.`);
    }
    case 'aborted':
      return err('CANCELED', `${what} was canceled.`);
    default:
      return err('STORAGE', `${what} failed (${tag}): ${raw}`, false);
  }
}
