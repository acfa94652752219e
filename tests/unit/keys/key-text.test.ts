import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeKey, keyFileText, parseKey, readableDate, recoverySheetHtml } from '../../../electron/engine/keys/index.ts';

describe('key text', () => {
  it('round-trips a 32-byte key through base64', () => {
    const key = randomBytes(32);
    const text = encodeKey(key);
    expect(text).toHaveLength(44);
    expect(parseKey(`  ${text}\n`).equals(key)).toBe(true);
  });

  it('accepts the 64-character hex form (openssl rand -hex 32), in either case', () => {
    const key = randomBytes(32);
    expect(parseKey(key.toString('hex')).equals(key)).toBe(true);
    expect(parseKey(` ${key.toString('hex').toUpperCase()}\n`).equals(key)).toBe(true);
  });

  it.each([
    ['too short', Buffer.alloc(16).toString('base64'), /32 bytes \(256 bits\) written as base64 .* or as hex .*; this one is base64 of 16 bytes/],
    ['too long', Buffer.alloc(48, 0xff).toString('base64'), /this one is base64 of 48 bytes/],
    ['not base64', 'this is not a key at all!!', /as base64 \(44 characters ending in "="\) or as hex \(64 characters 0–9, a–f\); this one is neither/],
    ['url-safe alphabet', encodeKey(Buffer.alloc(32, 0xfb)).replace(/\+/g, '-').replace(/\//g, '_'), /this one is neither/],
    ['missing padding', encodeKey(randomBytes(32)).slice(0, 43), /this one is neither/],
    ['empty', '', /this one is neither/],
    ['hex of 31 bytes', randomBytes(31).toString('hex'), /this one is neither/],
  ])('rejects a key that is %s with VALIDATION, without echoing it', (_label, text, message) => {
    let err: unknown;
    try {
      parseKey(text);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'VALIDATION', message: expect.stringMatching(message) });
    if (text.length > 8) expect((err as Error).message).not.toContain(text);
  });

  it('writes a key file and a recovery sheet that say what the key is for and how to restore', () => {
    const doc = { taskName: 'Nightly <prod>', fingerprint: 'ab12-cd34-ef56-7890', key: encodeKey(randomBytes(32)), date: new Date('2026-11-26T10:00:00Z') };
    const text = keyFileText(doc);
    expect(text).toContain('Task:        Nightly <prod>');
    expect(text).toContain('Fingerprint: ab12-cd34-ef56-7890');
    expect(text).toContain('Saved:       2026-11-26T10:00:00.000Z');
    expect(text.split('\n')).toContain(doc.key);
    expect(text).toContain('--key-file');
    const html = recoverySheetHtml(doc);
    expect(html).toContain('Nightly &#60;prod&#62;');
    expect(html).not.toContain('<prod>');
    expect(html.replace(/ /g, '')).toContain(doc.key.replace(/ /g, ''));
    // A readable date, not ISO; the key box wraps inside the page on screen and on paper.
    expect(html).toContain(`<dt>Printed</dt><dd>${readableDate(doc.date)}</dd>`);
    expect(readableDate(doc.date)).toMatch(/^2[67] November 2026 at \d\d:\d\d \S+$/);
    expect(html).not.toContain('2026-11-26T');
    expect(html).toMatch(/\.key\{[^}]*word-break:break-all/);
  });
});
