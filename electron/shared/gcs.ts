/**
 * Google Cloud Storage through its S3-interoperable XML API: the S3 settings it needs
 * (one owner for the window's preset and the task file's `"preset": "gcs"`). HMAC keys
 * (Cloud Storage → Settings → Interoperability) are the access key id and secret.
 * GCS's XML API has no multi-object delete (DeleteObjects) and rejects the SDK's flexible
 * checksum headers: the S3 backend deletes one object per request and this preset uses
 * checksums only when required.
 */
export const GCS_S3_SETTINGS = {
  endpoint: 'https://storage.googleapis.com',
  region: 'auto',
  forcePathStyle: true,
  checksumMode: 'WHEN_REQUIRED',
} as const;
