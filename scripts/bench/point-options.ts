/** The restore-point description the bench scripts write under (a full logical point). */
import type { WritePointOptions } from '../../electron/engine/repository/index.ts';

export const BENCH_POINT = {
  database: 'bench',
  serverIdentity: 'bench',
  engineVersion: '0',
  dumpToolVersion: '0',
  kind: 'full',
  backupType: 'logical',
} as const satisfies Partial<WritePointOptions>;
