import { describe, expect, it } from 'vitest';
import { destinationOf, Location, sameDestinationKey } from '../../../electron/engine/destinations/index.ts';
import { Destination } from '../../../electron/shared/domain.ts';
import { destinationDisplay, destinationId, placeText } from '../../../electron/shared/location-text.ts';

const ftp = Destination.parse({ kind: 'ftp', host: 'nas.lan', user: 'backup', path: '/backups/', tls: 'explicit' }) as Extract<Destination, { kind: 'ftp' }>;

describe('FTP destinations as places', () => {
  it('has stable, secret-free ids and ftp:// / ftps:// texts', () => {
    expect(ftp).toMatchObject({ port: 21, certificateFingerprint: null, credentialsRef: null });
    expect(destinationId(ftp)).toBe('ftp:backup@nas.lan:21/backups');
    expect(placeText(ftp)).toBe('ftp://backup@nas.lan:21/backups');
    expect(placeText({ ...ftp, tls: 'implicit', port: 990 }, 'sales')).toBe('ftps://backup@nas.lan:990/backups/sales');
    expect(destinationDisplay({ ...ftp, tls: 'none' })).toBe('ftp://backup@nas.lan:21/backups (plain FTP, not encrypted)');
  });

  it("a database folder's location is the destination with the folder's full path, and back", () => {
    const sales = Location.of(ftp, { password: 'x' }, 'sales');
    const loc = sales.backupLocation;
    expect(loc).toEqual({ kind: 'ftp', host: 'nas.lan', port: 21, user: 'backup', path: '/backups/sales', tls: 'explicit', certificateFingerprint: null, credentialsRef: null });
    expect(destinationOf(loc)).toEqual(loc);
    expect(Location.at(loc, null).text).toBe('ftp://backup@nas.lan:21/backups/sales');
  });

  it('the same server and folder is one destination whatever the host case or slashes', () => {
    expect(sameDestinationKey({ ...ftp, host: 'NAS.lan', path: 'backups' }, (p) => p)).toBe(sameDestinationKey(ftp, (p) => p));
  });

  it('has no silent default for tls and checks the fingerprint format', () => {
    expect(Destination.safeParse({ kind: 'ftp', host: 'h', user: 'u' }).success).toBe(false);
    expect(Destination.safeParse({ ...ftp, certificateFingerprint: 'nope' }).success).toBe(false);
    expect(Destination.safeParse({ ...ftp, certificateFingerprint: 'AB:'.repeat(31) + 'AB' }).success).toBe(true);
  });

  it('opening without a password is VALIDATION naming the fix', () => {
    expect(() => Location.of(ftp, null).backend()).toThrow(/no password is stored for this destination/);
  });
});
