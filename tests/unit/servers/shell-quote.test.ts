/**
 * shellQuote makes one POSIX shell word of any file name: run by a real `sh -c`, the quoted
 * word is exactly that name — spaces, double and single quotes, `$VAR`, `$(…)`, backticks,
 * globs, a leading dash or tilde, newlines — and a plain name stays as it is (readable).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../../../electron/engine/servers/shell-quote.ts';

/** What `sh -c 'printf %s <word>'` prints: the word as the shell hands it to a command. */
const asShellSees = (word: string): string => {
  const r = spawnSync('sh', ['-c', `printf %s ${word}`], { encoding: 'utf8', env: { ...process.env, HOME: '/home/should-not-appear' } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

describe('shellQuote', () => {
  it.each([
    'Sales Q1.db',
    'say "cheese".db',
    "it's.db",
    "'.db'",
    '$HOME.db',
    '$(touch /tmp/backstop-pwned).db',
    '`id`.db',
    'a;b|c&d>e<f.db',
    '*.db',
    '~/x.db',
    '-rf.db',
    'two\nlines.db',
    '/srv/data dir/it\'s $HOME "cut" `x`.db',
    'Chinook ü.db',
  ])('%j reaches the command as exactly that name', (name) => {
    expect(asShellSees(shellQuote(name))).toBe(name);
  });

  it('leaves a name with no shell-special character unquoted', () => {
    expect(shellQuote('/var/lib/app/shop-2024_v1.0.db')).toBe('/var/lib/app/shop-2024_v1.0.db');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe(`''`);
  });
});
