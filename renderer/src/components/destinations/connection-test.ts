/**
 * "Test connection" for a destination with a secret (S3, SFTP): stores a typed secret in the
 * keychain first (the draft then keeps only the reference, via `saved`), probes the
 * destination, and holds the report, the error and whether a test runs.
 */
import { ref, shallowRef } from 'vue';
import type { Destination, ProbeReport } from '@shared/domain.ts';
import type { ApiError } from '../../api';
import { useStorageStore } from '../../stores/storage';
import { draftSecret, withSavedSecret, type S3Draft, type SftpDraft } from '../task-draft';

export function useConnectionTest() {
  const storage = useStorageStore();
  const report = shallowRef<ProbeReport | null>(null);
  const testError = shallowRef<ApiError | null>(null);
  const testing = ref(false);

  async function run<D extends S3Draft | SftpDraft>(d: D, destination: (credentialsRef: string | null) => Destination, saved: (d: D) => void): Promise<void> {
    testing.value = true;
    report.value = null;
    testError.value = null;
    try {
      let credentialsRef = d.credentialsRef;
      const secret = draftSecret(d);
      if (secret) {
        credentialsRef = await storage.saveCredentials(secret, d.credentialsRef);
        if (!credentialsRef) {
          testError.value = storage.credentialsError;
          return;
        }
        saved(withSavedSecret(d, credentialsRef));
      }
      report.value = await storage.testDestination(destination(credentialsRef));
      testError.value = report.value ? null : storage.probeError;
    } finally {
      testing.value = false;
    }
  }

  return { report, testError, testing, run };
}
