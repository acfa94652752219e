/** Destinations: a task's local folder or S3 bucket and the Location of a database folder there; S3 credentials in the keychain; a local root checked and created on save. */
export * from './location.ts';
export * from './s3-credentials.ts';
export * from './sftp-credentials.ts';
export * from './keychain-secret.ts';
export * from './local-folder.ts';
export { destinationId, placeText } from '../../shared/location-text.ts';
export * from './azure-credentials.ts';
export * from './unclaimed-secrets.ts';
export { checkAddressCredentials } from './address-credentials.ts';
