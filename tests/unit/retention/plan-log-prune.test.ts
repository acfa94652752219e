import { describe, expect, it } from 'vitest';
import type { PointSummary } from '../../../electron/engine/repository/index.ts';
import { addDumpNeeds, planLogPrune, type LogNeeds } from '../../../electron/engine/retention/prune-log-stream.ts';

let clock = 0;
/** A stored read of the log: its chain and the files it holds. */
function read(id: string, chainId: string, files: string[]): PointSummary {
  clock += 1;
  return { id, chainId, kind: id === chainId ? 'full' : 'incremental', createdAt: new Date(Date.UTC(2026, 0, 1, 0, clock)).toISOString(), meta: { format: 'mysql-binlog-files', binlogFiles: files, binlogLast: files.at(-1)!, binlogEndAt: '' } } as unknown as PointSummary;
}
function dump(binlogFile: string | undefined): PointSummary {
  return { id: `d-${binlogFile}`, meta: binlogFile ? { binlogFile, binlogPos: 4, snapshotAt: '' } : {} } as unknown as PointSummary;
}
const f = (n: number) => `binlog.${String(n).padStart(6, '0')}`;
const deleted = (plan: ReturnType<typeof planLogPrune>) => plan.filter((d) => d.action === 'delete').map((d) => d.id).sort();

// One chain a: reads of files 1, 2-3, 4, 5-6, 7.
const chain = [read('a', 'a', [f(1)]), read('a2', 'a', [f(2), f(3)]), read('a3', 'a', [f(4)]), read('a4', 'a', [f(5), f(6)]), read('a5', 'a', [f(7)])];

describe('planLogPrune (which stored log reads no kept dump needs)', () => {
  it('needs: the oldest recorded position per log base, across every kept dump', () => {
    const needs: LogNeeds = new Map();
    addDumpNeeds(needs, [dump(f(5)), dump(undefined), dump('other.000009')]);
    addDumpNeeds(needs, [dump(f(4)), dump(f(6))]);
    expect([...needs]).toEqual([['binlog', 4], ['other', 9]]);
  });

  it('deletes the reads whose every file is older than the oldest kept position, as a prefix of the chain', () => {
    const plan = planLogPrune(chain, new Map([['binlog', 4]]));
    expect(deleted(plan)).toEqual(['a', 'a2']);
    expect(plan.find((d) => d.id === 'a3')).toMatchObject({ action: 'keep', reason: expect.stringContaining('binlog.000004') });
    expect(plan.map((d) => d.id)).toEqual(['a5', 'a4', 'a3', 'a2', 'a']);
    // A read holding the needed file with older ones is kept whole.
    expect(deleted(planLogPrune(chain, new Map([['binlog', 3]])))).toEqual(['a']);
  });

  it('never deletes the newest read (the chain continues after it), even when no kept dump records a position', () => {
    const plan = planLogPrune(chain, new Map());
    expect(deleted(plan)).toEqual(['a', 'a2', 'a3', 'a4']);
    expect(plan[0]).toEqual({ id: 'a5', action: 'keep', reason: 'newest read of the log (the next read continues after it)' });
  });

  it('never leaves a gap: a read that cannot be told apart (no file list) stops the prefix', () => {
    const odd = [chain[0]!, { ...chain[1]!, meta: { format: 'mysql-binlog-files' } } as PointSummary, ...chain.slice(2)];
    expect(deleted(planLogPrune(odd, new Map([['binlog', 7]])))).toEqual(['a']);
  });

  it('an older chain (a purge restarted the log) goes whole once nothing needs it; the newer one keeps what is needed', () => {
    const old = [read('o', 'o', [f(1)]), read('o2', 'o', [f(2)])];
    const fresh = [read('n', 'n', [f(8)]), read('n2', 'n', [f(9)]), read('n3', 'n', [f(10)])];
    expect(deleted(planLogPrune([...old, ...fresh], new Map([['binlog', 9]])))).toEqual(['n', 'o', 'o2']);
  });
});
