/**
 * The certificate of a `backstop serve` bound beyond loopback: the user's own
 * (`--tls-cert`/`--tls-key`), or one made here, self-signed, with the system's `openssl`.
 *
 * Contract: `selfSignedCertificate(dir, host)` reuses `<dir>/cert.pem` + `key.pem` when both
 * exist, are still valid and name every name below, else makes a new pair (RSA 2048, 825 days,
 * subjectAltName = the host — for 0.0.0.0/:: every interface address and the host name — and
 * localhost) with the key written 0600. Answers the PEMs and
 * the certificate's SHA-256 fingerprint (for the user to compare in the browser's warning).
 * No openssl → TOOL_MISSING naming the fix.
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { BackstopError } from '../shared/result.ts';
import { namesForBind } from './server.ts';

export interface Certificate {
  cert: string;
  key: string;
  fingerprint256: string;
}

function load(certPath: string, keyPath: string): Certificate {
  const cert = readFileSync(certPath, 'utf8');
  const key = readFileSync(keyPath, 'utf8');
  return { cert, key, fingerprint256: new X509Certificate(cert).fingerprint256 };
}

export function userCertificate(certPath: string, keyPath: string): Certificate {
  try {
    return load(certPath, keyPath);
  } catch (e) {
    throw new BackstopError('VALIDATION', `The TLS certificate ${certPath} or its key ${keyPath} cannot be read as PEM (${(e as Error).message.split('\n')[0]}).`);
  }
}

export function selfSignedCertificate(dir: string, host: string): Certificate {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const names = [...new Set([...namesForBind(host), 'localhost'])];
  const san = names.map((n) => `${isIP(n) ? 'IP' : 'DNS'}:${n}`).join(',');
  if (existsSync(certPath) && existsSync(keyPath)) {
    try {
      const c = load(certPath, keyPath);
      const x = new X509Certificate(c.cert);
      const covers = names.every((n) => (isIP(n) ? x.checkIP(n) : x.checkHost(n)) !== undefined);
      if (covers && new Date(x.validTo) > new Date()) return c;
    } catch {
      // unreadable: make a new pair below
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '825', '-subj', '/CN=Backstop', '-addext', `subjectAltName=${san}`, '-keyout', keyPath, '-out', certPath],
    { encoding: 'utf8' },
  );
  if (r.error || r.status !== 0) {
    throw new BackstopError(
      'TOOL_MISSING',
      `Backstop could not make a self-signed TLS certificate with openssl (${r.error ? 'openssl is not installed' : r.stderr.trim().split('\n').pop()}). Install openssl, or pass your own with --tls-cert and --tls-key.`,
    );
  }
  chmodSync(keyPath, 0o600);
  return load(certPath, keyPath);
}
