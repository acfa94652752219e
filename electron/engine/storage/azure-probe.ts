/**
 * "Test connection" for an Azure Blob Storage destination (storage/probe.ts's put/get/list/
 * delete probe at the prefix) with Azure's own hint: the most likely fix for a rejected key
 * or SAS token, an expired SAS, the clock, a missing container, a SAS token lacking one
 * permission, an unreachable endpoint.
 */
import type { ProbeReport, ProbeStep, ProbeStepName } from '../../shared/domain.ts';
import { probeBackend, type ProbeFailure } from './probe.ts';
import { AzureBackend, azureServiceUrl, type AzureBackendOptions } from './azure-backend.ts';
import { classifyAzureError, type AzureErrorInfo } from './azure-errors.ts';
import { publicEndpoint } from './sdk-error-fields.ts';

/** The SAS permission letter each probe step needs. */
const SAS_PERMISSION: Record<ProbeStepName, string> = { put: 'write (w) and create (c)', get: 'read (r)', list: 'list (l)', delete: 'delete (d)' };

function hintFor(options: AzureBackendOptions, steps: ProbeStep[], failures: ProbeFailure<AzureErrorInfo>[]): string | undefined {
  const kinds = new Set(failures.map((f) => f.info?.kind));
  const where = publicEndpoint(azureServiceUrl(options.accountName, options.endpoint)) ?? options.endpoint ?? options.accountName;
  const c = options.credentials;
  const secret = 'sasToken' in c ? 'SAS token' : 'connectionString' in c ? 'connection string' : 'account key';
  if (kinds.has('bad-sas')) return 'The SAS token is expired or not yet valid. Generate a new SAS token with a later expiry.';
  if (kinds.has('bad-key')) {
    return 'accountKey' in c
      ? `The storage account rejected the account name and key. Check the account name "${options.accountName}" and re-enter its key (Access keys in the Azure portal).`
      : `The storage account rejected the ${secret}. Re-enter it (and check that it belongs to account "${options.accountName}").`;
  }
  if (kinds.has('clock-skew')) return "This computer's clock is too far off for request signing. Correct the system clock.";
  if (kinds.has('no-such-container')) return `Container "${options.container}" does not exist at ${where}. Create it, or correct the container name, account or endpoint.`;
  if (kinds.has('dns')) return `The host ${failures.find((f) => f.info?.host)?.info?.host ?? ''} could not be resolved. Check the account name and the endpoint URL.`;
  if (kinds.has('quota')) return 'The storage account is full. Free space or raise its limit.';
  if (kinds.has('network')) return `Could not reach ${where}. Check the endpoint URL and port, the network and any firewall or proxy.`;
  if (kinds.has('transient')) return 'The server answered with a temporary error (busy or failing). Try again in a minute.';
  const denied = failures.filter((f) => f.info?.kind === 'permission').map((f) => f.step);
  if (denied.length > 0) {
    const allowed = steps.filter((s) => s.ok).map((s) => s.step);
    if ('sasToken' in c || 'connectionString' in c) {
      const missing = denied.map((s) => SAS_PERMISSION[s]).join(', ');
      return `The SAS token lacks the ${missing} permission${denied.length > 1 ? 's' : ''}. Generate a token with read, add, create, write, delete and list on container "${options.container}"${denied.includes('delete') ? ' (Backstop deletes old backups when applying retention)' : ''}.`;
    }
    return allowed.length === 0
      ? `Access is denied for every operation on container "${options.container}". Check the account's network rules and role assignments.`
      : `These credentials may ${allowed.join(', ')} but not ${denied.join(', ')} in container "${options.container}". Grant the missing access.`;
  }
  if (steps.some((s) => s.step === 'list' && s.code === 'MISSING')) return 'The probe object was written but the listing did not show it. Check the prefix.';
  if (failures.length > 0) return 'The server rejected a request. See the failed step for details.';
  return undefined;
}

/** Runs the probe against the given settings, with few retries so failures show quickly. */
export function probeAzure(options: AzureBackendOptions): Promise<ProbeReport> {
  const backend = new AzureBackend({ ...options, maxTries: options.maxTries ?? 2, requestTimeoutMs: options.requestTimeoutMs ?? 30_000 });
  return probeBackend(backend, { classify: classifyAzureError, hint: (steps, failures) => hintFor(options, steps, failures) });
}
