/**
 * "Test connection" for any destination: puts, reads back, lists and deletes one small
 * probe object (`backstop-probe-<random>` at the backend's root) and reports each step.
 *
 * Contract: never throws for a storage failure; every step that ran has `ok` and, when it
 * failed, the BackstopError code and message (secret-free). get and delete run only after
 * a successful put; a skipped step is `{ ok: false, skipped: true }`. The read-back compares
 * bytes, so a server that stores something else than was sent fails the probe ('MISMATCH');
 * a listing without the object just written is 'MISSING'. Each kind classifies the errors
 * it knows (`classify`, on the error's cause when it has one) and turns the failures into
 * the one hint that names the most likely fix (`hint`). The backend is closed afterwards
 * and the probe object deleted when possible.
 */
import { randomBytes } from 'node:crypto';
import type { ProbeReport, ProbeStep, ProbeStepName } from '../../shared/domain.ts';
import { isBackstopError } from '../../shared/result.ts';
import type { Backend } from './backend.ts';

export interface ProbeFailure<I> {
  step: ProbeStepName;
  /** What the kind's classifier made of the error; null when it did not know it (or the step returned a problem). */
  info: I | null;
}

export interface ProbeKind<I> {
  classify(error: unknown): I | null;
  hint(steps: ProbeStep[], failures: ProbeFailure<I>[]): string | undefined;
}

export async function probeBackend<I>(backend: Backend, kind: ProbeKind<I>): Promise<ProbeReport> {
  const key = `backstop-probe-${randomBytes(8).toString('hex')}`;
  const payload = randomBytes(64);
  const steps: ProbeStep[] = [];
  const failures: ProbeFailure<I>[] = [];
  const run = async (step: ProbeStepName, fn: () => Promise<{ code: string; message: string } | null>): Promise<boolean> => {
    try {
      const problem = await fn();
      steps.push(problem ? { step, ok: false, ...problem } : { step, ok: true });
      if (problem) failures.push({ step, info: null });
      return !problem;
    } catch (e) {
      const info = kind.classify(isBackstopError(e) && e.cause !== undefined ? e.cause : e);
      steps.push({ step, ok: false, code: isBackstopError(e) ? e.code : 'STORAGE', message: isBackstopError(e) ? e.message : `${step} failed unexpectedly.` });
      failures.push({ step, info });
      return false;
    }
  };
  const skip = (step: ProbeStepName) => steps.push({ step, ok: false, skipped: true, message: `not tried: put failed` });
  try {
    const put = await run('put', async () => {
      await backend.put(key, payload);
      return null;
    });
    if (put) {
      await run('get', async () => {
        const got = await backend.get(key);
        return got.equals(payload) ? null : { code: 'MISMATCH', message: `read back ${got.length} bytes that differ from the ${payload.length} bytes written.` };
      });
    } else skip('get');
    await run('list', async () => {
      const found = (await backend.list('backstop-probe-')).some((o) => o.key === key);
      return found || !put ? null : { code: 'MISSING', message: 'the listing did not include the object just written.' };
    });
    if (put) {
      await run('delete', async () => {
        await backend.delete(key);
        return null;
      });
    } else skip('delete');
  } finally {
    await backend.close();
  }
  const ok = steps.every((s) => s.ok);
  const hint = ok ? undefined : kind.hint(steps, failures);
  return hint ? { ok, steps, hint } : { ok, steps };
}
