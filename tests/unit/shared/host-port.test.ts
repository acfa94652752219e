/** How a server's address reads in messages (labels, errors): IPv6 in brackets, a socket by its path. */
import { describe, expect, it } from 'vitest';
import { hostPort } from '../../../electron/shared/domain.ts';

describe('hostPort', () => {
  it('writes a name or IPv4 address with its port', () => {
    expect(hostPort('db1.example.com', 5432)).toBe('db1.example.com:5432');
    expect(hostPort('127.0.0.1', 3306)).toBe('127.0.0.1:3306');
  });
  it('puts an IPv6 address in brackets, so its port reads apart from it', () => {
    expect(hostPort('::1', 5432)).toBe('[::1]:5432');
    expect(hostPort('fe80::1', 22)).toBe('[fe80::1]:22');
  });
  it('names a socket by its path alone (the port only picks its file)', () => {
    expect(hostPort('/var/run/postgresql', 5432)).toBe('/var/run/postgresql');
    expect(hostPort('/run/mysqld/mysqld.sock', 3306)).toBe('/run/mysqld/mysqld.sock');
  });
});
