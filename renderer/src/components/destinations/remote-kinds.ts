/**
 * The remote destination kinds the restore view can open without a task: one entry per
 * kind (its name in the chooser and an empty draft for DestinationEditor). A new kind adds
 * one line here; its fields, secret and conversion live in task-draft.ts and its own
 * fields component, shared with the task editor.
 */
import { emptyAzureDraft, emptyFtpDraft, emptyS3Draft, emptySftpDraft, type DestinationDraft } from '../task-draft';

export interface RemoteKind {
  kind: Exclude<DestinationDraft['kind'], 'local'>;
  label: string;
  empty(): DestinationDraft;
}

export const REMOTE_KINDS: RemoteKind[] = [
  { kind: 's3', label: 'S3 or S3-compatible bucket', empty: emptyS3Draft },
  { kind: 'azure', label: 'Azure Blob Storage container', empty: emptyAzureDraft },
  { kind: 'ftp', label: 'FTP server (FTPS)', empty: emptyFtpDraft },
  { kind: 'sftp', label: 'SFTP server', empty: emptySftpDraft },
];
