/**
 * Classifies failures of @azure/storage-blob (RestError: HTTP status, the service's error
 * code, errno codes of socket failures) and maps them to BackstopErrors. Used by the Azure
 * backend and its connection probe.
 *
 * Contract: `classifyAzureError` never throws and looks only at the error's name, HTTP
 * status, service error code, errno code and message. `azureBackstopError` returns
 * NOT_FOUND (missing blob or container), PERMISSION_DENIED (key, SAS or permission),
 * DISK_FULL (account capacity), or STORAGE (retryable only for 5xx, throttling, timeouts
 * and connection failures). The message names the operation, key and location and never
 * contains any string passed in `secrets` (the account key, SAS token, connection string).
 * A stalled request (the backend's watchdog: an error with `stalledMs`) says how long nothing moved.
 * A refusal while the SAS token (`sasToken`) is past its expiry or before its start says so.
 */
import { BackstopError } from '../../shared/result.ts';
import { errnoOf, prop, publicEndpoint, redact, str } from './sdk-error-fields.ts';

export type AzureErrorKind =
  | 'no-such-blob'
  | 'no-such-container'
  | 'bad-key'
  | 'bad-sas'
  | 'permission'
  | 'clock-skew'
  | 'quota'
  | 'dns'
  | 'network'
  | 'transient'
  | 'aborted'
  | 'other';

export interface AzureErrorInfo {
  kind: AzureErrorKind;
  /** The service's error code (e.g. "ContainerNotFound") or errno code (e.g. "ECONNREFUSED"), when known. */
  name: string | undefined;
  status: number | undefined;
  host?: string;
  retryable: boolean;
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'REQUEST_SEND_ERROR', 'UND_ERR_SOCKET']);
const TRANSIENT_CODES = new Set(['ServerBusy', 'InternalError', 'OperationTimedOut', 'ServiceUnavailable']);

/** The service's error code: RestError.code, or the x-ms-error-code header (HEAD responses have no body). */
function serviceCode(e: unknown): string | undefined {
  const details = prop(e, 'details');
  const fromDetails = str(prop(details, 'errorCode')) ?? str(prop(details, 'Code'));
  if (fromDetails) return fromDetails;
  const headers = prop(prop(e, 'response'), 'headers');
  const get = prop(headers, 'get');
  const header = typeof get === 'function' ? str((get as (n: string) => unknown).call(headers, 'x-ms-error-code')) : undefined;
  if (header) return header;
  const code = str(prop(e, 'code'));
  return code && /^[A-Z][A-Za-z]+$/.test(code) ? code : undefined;
}

/** Node's errno-style codes, and the Azure SDK's own for a request that never reached the server. */
const AZURE_ERRNO_CODE = /^(E[A-Z_]+|ERR_[A-Z_]+|UND_ERR_[A-Z_]+|REQUEST_SEND_ERROR)$/;

export function classifyAzureError(e: unknown): AzureErrorInfo {
  const name = str(prop(e, 'name'));
  const status = prop(e, 'statusCode');
  const httpStatus = typeof status === 'number' ? status : undefined;
  const code = serviceCode(e);
  const message = e instanceof Error ? e.message : String(e);
  const base = { name: code, status: httpStatus };
  if (name === 'AbortError') return { ...base, kind: 'aborted', retryable: false };
  if (code === 'BlobNotFound') return { ...base, kind: 'no-such-blob', retryable: false };
  if (code === 'ContainerNotFound' || code === 'ContainerBeingDeleted') return { ...base, kind: 'no-such-container', retryable: false };
  if (code === 'AuthenticationFailed' && /sig|signature|sas|Signed expiry|sv=|se=/i.test(message) && !/shared ?key/i.test(message)) {
    return { ...base, kind: /expir|not valid|start time/i.test(message) ? 'bad-sas' : 'bad-key', retryable: false };
  }
  // Azurite answers a bad signature with AuthorizationFailure; both say "failed to authenticate".
  if (code === 'AuthenticationFailed' || code === 'InvalidAuthenticationInfo' || code === 'AccountIsDisabled' || /failed to authenticate/i.test(message)) {
    return { ...base, kind: 'bad-key', retryable: false };
  }
  if (code === 'RequestTimeTooSkewed') return { ...base, kind: 'clock-skew', retryable: false };
  // Before the blanket 403 below: a capacity refusal may come as 403, and is not a permission problem.
  if (code === 'AccountLimitExceeded' || code === 'InsufficientStorage' || httpStatus === 507 || /quota|capacity/i.test(code ?? '')) return { ...base, kind: 'quota', retryable: false };
  if (
    code === 'AuthorizationPermissionMismatch' ||
    code === 'AuthorizationFailure' ||
    code === 'AuthorizationResourceTypeMismatch' ||
    code === 'AuthorizationServiceMismatch' ||
    code === 'AuthorizationSourceIPMismatch' ||
    code === 'AuthorizationProtocolMismatch' ||
    code === 'InsufficientAccountPermissions' ||
    httpStatus === 403
  ) {
    return { ...base, kind: 'permission', retryable: false };
  }
  if (httpStatus === 404) return { ...base, kind: 'no-such-blob', retryable: false };
  const errno = errnoOf(e, AZURE_ERRNO_CODE);
  if (errno?.code === 'ENOTFOUND') return { ...base, name: errno.code, kind: 'dns', retryable: true, ...(errno.host ? { host: errno.host } : {}) };
  if (errno && NETWORK_CODES.has(errno.code)) return { ...base, name: errno.code, kind: 'network', retryable: true };
  if ((code && TRANSIENT_CODES.has(code)) || (httpStatus !== undefined && (httpStatus >= 500 || httpStatus === 429 || httpStatus === 408))) {
    return { ...base, kind: 'transient', retryable: true };
  }
  if (httpStatus === undefined && /socket hang up|network|timed? ?out|ECONN/i.test(message)) return { ...base, kind: 'network', retryable: true };
  return { ...base, kind: 'other', retryable: false };
}

export interface AzureErrorContext {
  op: string;
  key: string;
  location: string;
  container: string;
  /** The service URL (account endpoint); shown without any query (a SAS token lives there). */
  endpoint: string;
  secrets: readonly string[];
  /** The SAS token the backend signs with (alone or in a connection string), whose validity times explain a refusal. */
  sasToken?: string;
  now?: () => number;
}

/**
 * When a refusal is explained by the SAS token's own validity window (`se=` passed, `st=` not
 * yet reached): what to say. Azure (and Azurite) answer an expired token with a generic 403
 * (AuthenticationFailed / AuthorizationFailure), so the token's times are the reliable witness.
 */
function sasOutOfTime(token: string | undefined, now: number): string | null {
  if (!token) return null;
  const q = new URLSearchParams(token.replace(/^\?/, ''));
  const expiry = q.get('se');
  const start = q.get('st');
  if (expiry && Date.parse(expiry) <= now) return `the SAS token expired at ${expiry}`;
  if (start && Date.parse(start) > now) return `the SAS token is not valid before ${start}`;
  return null;
}

/** The host of a service URL, for a DNS failure whose error did not name it. */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}

/** Turns an SDK failure into a BackstopError a database administrator can act on. */
export function azureBackstopError(e: unknown, ctx: AzureErrorContext): BackstopError {
  if (e instanceof BackstopError) return e;
  const info = classifyAzureError(e);
  const what = `${ctx.op} of "${ctx.key}" in ${ctx.location}`;
  const raw = redact((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '', ctx.secrets);
  const tag = info.name ?? (info.status ? `HTTP ${info.status}` : 'error');
  const where = publicEndpoint(ctx.endpoint) ?? ctx.endpoint;
  const err = (code: ConstructorParameters<typeof BackstopError>[0], msg: string, retryable?: boolean) =>
    new BackstopError(code, redact(msg, ctx.secrets), retryable === undefined ? { cause: e } : { cause: e, retryable });
  const outOfTime = info.kind === 'bad-key' || info.kind === 'bad-sas' || info.kind === 'permission' ? sasOutOfTime(ctx.sasToken, (ctx.now ?? Date.now)()) : null;
  if (outOfTime) return err('PERMISSION_DENIED', `${what} failed: ${outOfTime} (${tag}). Generate a new SAS token and enter it for this destination.`);
  switch (info.kind) {
    case 'no-such-blob':
      return err('NOT_FOUND', `${what} failed: the object does not exist.`);
    case 'no-such-container':
      return err('NOT_FOUND', `${what} failed: the container "${ctx.container}" does not exist at ${where}. Create it, or correct the container name, account or endpoint.`);
    case 'bad-key':
      return err('PERMISSION_DENIED', `${what} failed: the storage account rejected the credentials (${tag}). Check the account name and re-enter the account key, SAS token or connection string.`);
    case 'bad-sas':
      return err('PERMISSION_DENIED', `${what} failed: the SAS token is expired or not yet valid (${tag}). Generate a new SAS token.`);
    case 'permission':
      return err('PERMISSION_DENIED', `${what} failed: not permitted (${tag}). Check that these credentials may ${ctx.op} blobs in container "${ctx.container}" (a SAS token needs read, add, create, write, delete and list).`);
    case 'clock-skew':
      return err('PERMISSION_DENIED', `${what} failed: this computer's clock differs too much from the server's (${tag}). Correct the system clock.`);
    case 'quota':
      return err('DISK_FULL', `${what} failed: the storage account is full (${tag}). Free space or raise the account's limit, then try again.`);
    case 'dns':
      return err('STORAGE', `${what} failed: the host name ${info.host ?? hostOf(where)} did not resolve (ENOTFOUND). Check the account name and the endpoint.`);
    case 'network': {
      const stalledMs = prop(e, 'stalledMs');
      if (typeof stalledMs === 'number') {
        return err('STORAGE', `${what} failed: the connection to ${where} stalled, no bytes moved for ${stalledMs / 1000} s (${tag}); it will be retried. If this repeats, check the network path (VPN, proxy, firewall).`);
      }
      return err('STORAGE', `${what} failed: could not talk to ${where} (${tag}). Check the network and the endpoint.`);
    }
    case 'transient':
      return err('STORAGE', `${what} failed: the server is busy or failing (${tag}); it will be retried.`);
    case 'aborted':
      return err('CANCELED', `${what} was canceled.`);
    default:
      return err('STORAGE', `${what} failed (${tag}): ${raw}`, false);
  }
}
