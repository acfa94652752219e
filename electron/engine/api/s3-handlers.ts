/**
 * Contract commands for S3 destinations: store credentials in the keychain, test a
 * destination (probe put/get/list/delete), and list its database folders for the
 * restore browser. Credentials never come back out.
 */
import { BackstopError } from '../../shared/result.ts';
import { loadCredentials, Location, s3BackendOptions, saveS3Credentials } from '../destinations/index.ts';
import type { SecretStore } from '../secrets/index.ts';
import { databaseNameOf, SERVER_FOLDER } from '../servers/index.ts';
import { probeS3 } from '../storage/index.ts';
import type { Handlers } from './dispatch.ts';

type S3Handlers = Pick<Handlers, 's3.saveCredentials' | 's3.test' | 's3.listFolders'>;

export function createS3Handlers(deps: { secrets: SecretStore }): S3Handlers {
  return {
    's3.saveCredentials': async ({ accessKeyId, secretAccessKey, sessionToken, credentialsRef }) => ({
      credentialsRef: await saveS3Credentials(deps.secrets, { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }, credentialsRef),
    }),
    's3.test': async ({ destination }) => {
      const [creds] = await loadCredentials(deps.secrets, [destination]);
      if (!creds) throw new BackstopError('VALIDATION', 'Enter the access key id and secret first.');
      return probeS3(s3BackendOptions(destination, '', creds));
    },
    's3.listFolders': async ({ destination }) => {
      const folders = await (await Location.load(destination, deps.secrets)).use((root) => root.listFolders());
      return folders.filter((f) => f !== SERVER_FOLDER).map((folder) => ({ folder, database: databaseNameOf(folder) }));
    },
  };
}
