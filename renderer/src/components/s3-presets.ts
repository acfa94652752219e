/**
 * S3 provider presets for the destination form: what each provider needs set. Values with
 * `<…>` placeholders must be completed by the user (their account or region).
 */
import { GCS_S3_SETTINGS } from '@shared/gcs.ts';
export type S3Provider = 'aws' | 'gcs' | 'minio' | 'r2' | 'b2' | 'wasabi' | 'other';

export interface S3Preset {
  label: string;
  endpoint: string | null;
  region: string;
  forcePathStyle: boolean;
  checksumMode: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
  hint: string;
}

export const S3_PRESETS: Record<S3Provider, S3Preset> = {
  aws: {
    label: 'Amazon S3',
    endpoint: null,
    region: 'us-east-1',
    forcePathStyle: false,
    checksumMode: 'WHEN_SUPPORTED',
    hint: 'No endpoint: the SDK finds the bucket’s region endpoint. Set the bucket’s region.',
  },
  gcs: {
    label: 'Google Cloud Storage',
    ...GCS_S3_SETTINGS,
    hint: 'Use an HMAC key (Cloud Storage → Settings → Interoperability) as the access key and secret. Region is “auto”.',
  },
  minio: {
    label: 'MinIO',
    endpoint: 'http://localhost:9000',
    region: 'us-east-1',
    forcePathStyle: true,
    checksumMode: 'WHEN_REQUIRED',
    hint: 'Your MinIO server’s address. MinIO needs path-style requests.',
  },
  r2: {
    label: 'Cloudflare R2',
    endpoint: 'https://<account-id>.r2.cloudflarestorage.com',
    region: 'auto',
    forcePathStyle: true,
    checksumMode: 'WHEN_REQUIRED',
    hint: 'Replace <account-id> with your Cloudflare account id. Region is “auto”.',
  },
  b2: {
    label: 'Backblaze B2',
    endpoint: 'https://s3.us-west-004.backblazeb2.com',
    region: 'us-west-004',
    forcePathStyle: true,
    checksumMode: 'WHEN_REQUIRED',
    hint: 'Use the S3 endpoint shown on your bucket’s page; the region is its middle part.',
  },
  wasabi: {
    label: 'Wasabi',
    endpoint: 'https://s3.us-east-1.wasabisys.com',
    region: 'us-east-1',
    forcePathStyle: true,
    checksumMode: 'WHEN_REQUIRED',
    hint: 'Use your bucket’s region in both the endpoint and the region.',
  },
  other: {
    label: 'Other S3-compatible',
    endpoint: 'https://',
    region: 'us-east-1',
    forcePathStyle: true,
    checksumMode: 'WHEN_REQUIRED',
    hint: 'Most S3-compatible services need path-style requests and checksums only when required.',
  },
};

export const S3_PROVIDERS = Object.keys(S3_PRESETS) as S3Provider[];

/** Guesses the provider of a saved destination from its endpoint. */
export function providerOf(endpoint: string | null): S3Provider {
  if (!endpoint) return 'aws';
  if (/storage\.googleapis\.com/.test(endpoint)) return 'gcs';
  if (/r2\.cloudflarestorage\.com/.test(endpoint)) return 'r2';
  if (/backblazeb2\.com/.test(endpoint)) return 'b2';
  if (/wasabisys\.com/.test(endpoint)) return 'wasabi';
  if (/:9000\b/.test(endpoint)) return 'minio';
  return 'other';
}
