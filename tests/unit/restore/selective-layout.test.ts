/**
 * What a selective restore of one database leaves sparse (restore/pitr.ts selectiveLayout),
 * and the database oids read from WAL replay's invalid-page warnings (invalidPagesIn).
 */
import { describe, expect, it } from 'vitest';
import { invalidPagesIn, selectiveLayout } from '../../../electron/engine/restore/pitr.ts';
import type { WalMeta } from '../../../electron/engine/backup/wal-backup.ts';

const meta = (databases?: unknown): WalMeta => ({ slot: 's', systemId: '1', timeline: 1, segmentSize: 16 << 20, bootstrapRole: 'postgres', startLsn: '0/2000000', ...(databases === undefined ? {} : { databases }) }) as WalMeta;
const dbs = [
  { name: 'template1', oid: 1, template: true, bytes: 7_000_000 },
  { name: 'template0', oid: 4, template: true, bytes: 7_000_000 },
  { name: 'postgres', oid: 5, template: false, bytes: 7_000_000 },
  { name: 'shop', oid: 16384, template: false, bytes: 50_000_000 },
  { name: 'crm', oid: 16385, template: false, bytes: 40_000_000 },
  { name: 'tpl_app', oid: 16386, template: true, bytes: 8_000_000 },
  { name: 'small', oid: 16387, template: false, bytes: null },
];

describe('selectiveLayout', () => {
  it('leaves every other user database sparse, never the system or template databases nor the chosen one', () => {
    const l = selectiveLayout(meta(dbs), 'shop');
    expect(l.sparse?.map((d) => d.name)).toEqual(['crm', 'small']);
    // A size the role could not read counts as nothing saved.
    expect(l).toMatchObject({ skippedBytes: 40_000_000, newer: false });
  });

  it('a database the record does not know (created after the base backup) is "newer"; the others stay sparse', () => {
    expect(selectiveLayout(meta(dbs), 'later')).toMatchObject({ newer: true, skippedBytes: 90_000_000 });
  });

  it('no record, or one that is not readable: everything is extracted, with the reason', () => {
    expect(selectiveLayout(meta(), 'shop')).toEqual({ sparse: null, why: 'this base backup was taken before Backstop recorded the databases of the cluster with each base backup' });
    expect(selectiveLayout(meta([{ name: 'shop', oid: 'x' }]), 'shop')).toEqual({ sparse: null, why: "this base backup's record of its databases is unreadable" });
  });
});

describe('invalidPagesIn', () => {
  it('reads the database oid of every relation replay reported an invalid page of', () => {
    const seen = new Set<number>();
    invalidPagesIn(
      [
        '2026-12-05 01:28:32.598 GMT [22043] WARNING:  page 2843 of relation base/16390/16391 is uninitialized',
        '2026-12-05 01:28:32.598 GMT [22043] CONTEXT:  WAL redo at 0/5000028 for Heap2/VISIBLE: cutoff xid 0 flags 0x01',
        'WARNING:  page 4 of relation pg_tblspc/16500/PG_15_202209061/16401/16402 does not exist',
        'LOG:  database system is ready to accept connections',
      ].join('\n'),
      seen,
    );
    expect([...seen].sort()).toEqual([16390, 16401]);
  });
});
