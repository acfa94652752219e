import { describe, expect, it } from 'vitest';
import { streamDisplayName } from '../../../renderer/src/components/stream-names';

describe('streamDisplayName', () => {
  it('names the server-level streams for a person, bare or as a ~server folder', () => {
    expect(streamDisplayName('globals.sql')).toBe('Server globals (roles, tablespaces)');
    expect(streamDisplayName('base.tar')).toBe('Whole cluster');
    expect(streamDisplayName('~server/base.tar')).toBe('Whole cluster');
    expect(streamDisplayName('/mnt/backups/~server/globals.sql/')).toBe('Server globals (roles, tablespaces)');
    expect(streamDisplayName('s3://bucket/root/~server/base.tar')).toBe('Whole cluster');
    expect(streamDisplayName('~server/grants.sql')).toBe('Server users, roles and grants');
    expect(streamDisplayName('/mnt/backups/~server/binlog')).toBe('Binary log (incrementals)');
  });

  it('leaves databases and their folders unchanged', () => {
    expect(streamDisplayName('sales')).toBe('sales');
    expect(streamDisplayName('/mnt/backups/sales')).toBe('/mnt/backups/sales');
    // A database folder that happens to be called like a stream is not a server stream.
    expect(streamDisplayName('/mnt/backups/base.tar')).toBe('/mnt/backups/base.tar');
  });
});
