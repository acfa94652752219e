/**
 * Where the CLI gets secrets: keys from `--key-file FILE`, `BACKSTOP_KEY` (base64 or hex), the
 * task file's keyFile/keyEnv, or the keychain by fingerprint; connection secrets from
 * the environment variables a config names. Never from the command line itself.
 */
import { readFileSync } from 'node:fs';
import { BackstopError } from '../shared/result.ts';
import { parseKey } from '../engine/keys/index.ts';

export function keyFromFile(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BackstopError('NOT_FOUND', `The key file ${path} does not exist. Give the path of a key file ("backstop keys export FINGERPRINT --out FILE" writes one).`);
    if (code === 'EISDIR') throw new BackstopError('NOT_FOUND', `The key file ${path} is a folder. Give the path of the key file itself.`);
    throw new BackstopError('NOT_FOUND', `The key file ${path} cannot be read (${code ?? (e as Error).message}). Let this user read it (or give a copy it may read).`);
  }
  // A key file saved by Backstop holds the key on a line of its own among explanations (parseKey finds it).
  return parseKey(text);
}

export function keyFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): Buffer | null {
  const v = env[name];
  return v ? parseKey(v) : null;
}

/** --key-file, else BACKSTOP_KEY, else null. */
export function keyFromOptions(keyFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Buffer | null {
  if (keyFile) return keyFromFile(keyFile);
  return keyFromEnv('BACKSTOP_KEY', env);
}

export function secretFromEnv(name: string | undefined, what: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (!name) return null;
  const v = env[name];
  if (v === undefined || v === '') throw new BackstopError('AUTH_FAILED', `${what}: the environment variable ${name} is not set.`);
  return v;
}

/** How to get a missing key onto this machine (appended to KEY_REQUIRED messages). */
export function howToGetKey(fingerprint: string | null): string {
  const fp = fingerprint ?? 'FINGERPRINT';
  return `Give it with --key-file FILE or BACKSTOP_KEY, or bring it into this machine's keychain: on the machine that has it run "backstop keys export ${fp} --out FILE", then here "backstop keys import FILE".`;
}
