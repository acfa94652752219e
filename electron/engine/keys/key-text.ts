/**
 * Key encoding and the documents a user keeps a key in: the text file and the printable
 * recovery sheet. Pure functions.
 *
 * Contract: a key's text form is standard base64 of exactly 32 bytes (44 characters);
 * `parseKey` also accepts the 64-character hex form, either one in groups (whitespace is
 * ignored) or on a line of its own in a key file's text, and rejects anything else with VALIDATION and a message that says what was wrong
 * without repeating the input. Documents name the task, the fingerprint and the date and
 * say how to restore with the key.
 */
import { BackstopError } from '../../shared/result.ts';
import { KEY_LENGTH } from '../crypto/index.ts';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function encodeKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64');
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const FORMS = `${KEY_LENGTH} bytes (256 bits) written as base64 (44 characters ending in "=") or as hex (64 characters 0–9, a–f)`;

const KEY_LINE = /^(?:[A-Za-z0-9+/]{43}=|[0-9a-fA-F]{64})$/;

/**
 * A key's text: base64 (what Backstop writes) or hex (what `openssl rand -hex 32` writes),
 * as every export form gives it — the key alone, typed from the recovery sheet in its
 * groups of four (spaces and line breaks are dropped), or a whole key file (the key is the
 * line of its own among the explanations).
 */
export function parseKey(text: string): Buffer {
  const joined = text.replace(/\s+/g, '');
  const line = KEY_LINE.test(joined) ? null : text.split(/\r?\n/).map((l) => l.trim()).find((l) => KEY_LINE.test(l));
  const t = line ?? joined;
  if (HEX_KEY.test(t)) return Buffer.from(t, 'hex');
  if (!BASE64.test(t) || t.length % 4 !== 0) {
    throw new BackstopError('VALIDATION', `A key must be ${FORMS}; this one is neither.`);
  }
  const bytes = Buffer.from(t, 'base64');
  if (bytes.length !== KEY_LENGTH || encodeKey(bytes) !== t) {
    throw new BackstopError('VALIDATION', `A key must be ${FORMS}; this one is base64 of ${bytes.length} bytes.`);
  }
  return bytes;
}

export interface KeyDocument {
  taskName: string;
  fingerprint: string;
  key: string;
  date: Date;
}

export function keyFileText(d: KeyDocument): string {
  return [
    'BACKSTOP ENCRYPTION KEY — keep this file somewhere safe and offline.',
    'Without this key, the backups made with it cannot be restored by anyone.',
    '',
    `Task:        ${d.taskName}`,
    `Fingerprint: ${d.fingerprint}`,
    `Saved:       ${d.date.toISOString()}`,
    '',
    'Key (base64, 256 bits):',
    d.key,
    '',
    'To restore with this key:',
    '  - In Backstop: Restore → choose the backup folder → when asked for the key,',
    '    paste the line above (Backstop checks the fingerprint before reading any data).',
    '  - On the command line: save the key line alone in a file and run',
    '    backstop restore <backup folder> --point latest --server server.json --database NEW --key-file <file>',
    '    or set BACKSTOP_KEY to the key line.',
    '',
  ].join('\n');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A date as a person reads it on paper, in this computer's time zone: "26 November 2026 at 11:00 CET". */
export function readableDate(date: Date): string {
  return date.toLocaleString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
}

/**
 * The printable sheet. The key is in groups of 4 in a monospace box that wraps inside the
 * page (break-all), on screen and on paper, so no character is ever cut off.
 */
export function recoverySheetHtml(d: KeyDocument): string {
  const groups = d.key.match(/.{1,4}/g)!.join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backstop recovery sheet — ${escapeHtml(d.taskName)}</title>
<style>*{box-sizing:border-box}body{font:14px/1.5 system-ui,sans-serif;margin:24px;color:#111;background:#fff}h1{font-size:20px}
.key{font:18px/1.8 ui-monospace,Menlo,Consolas,monospace;border:2px solid #111;padding:12px;word-spacing:6px;max-width:100%;white-space:normal;word-break:break-all;overflow-wrap:anywhere}
dt{font-weight:600}dd{margin:0 0 8px}@page{margin:2cm}@media print{body{margin:0}}</style></head>
<body>
<h1>Backstop encryption key — recovery sheet</h1>
<p>Keep this sheet somewhere safe. Without this key, the backups made with it cannot be restored.</p>
<dl><dt>Task</dt><dd>${escapeHtml(d.taskName)}</dd><dt>Fingerprint</dt><dd>${escapeHtml(d.fingerprint)}</dd>
<dt>Printed</dt><dd>${escapeHtml(readableDate(d.date))}</dd></dl>
<p>Key (base64; type it without the spaces):</p>
<p class="key">${escapeHtml(groups)}</p>
<p>To restore: Backstop → Restore → choose the backup folder → enter this key when asked.
Backstop checks the fingerprint before reading any data.</p>
</body></html>
`;
}
