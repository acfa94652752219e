/**
 * Byte counts for people, the same in the window and the tray: decimal units (1 KB =
 * 1000 B, as disks and S3 bills count), one decimal below 10 and none above ("2.5 GB",
 * "235 MB"; a value that would round to 1000 moves up a unit), whole bytes as they are;
 * "—" for a count that is not a number.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 999.5 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  if (i === 0) return `${v} B`;
  const one = v.toFixed(1);
  return `${Number(one) < 10 ? one : v.toFixed(0)} ${units[i]}`;
}
