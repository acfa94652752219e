/**
 * What-if answers for the task editor: the next runs of a schedule and what retention
 * would delete now. Both are asked again as the user types, so each keeps only the answer
 * to its latest question ("last request wins"); an older answer is dropped.
 */
import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { Retention, RetentionPreview, Schedule } from '@shared/domain.ts';
import type { CommandResult } from '@shared/ipc/contract.ts';
import { ApiError, call } from '../api';

type Runs = CommandResult<'schedule.preview'>;

/** How many runs the combined preview looks ahead to find the next incrementals among fulls. */
const LOOKAHEAD = 20;

export const usePlanningStore = defineStore('planning', () => {
  const runs = shallowRef<Runs | null>(null);
  /** The next full run (null: no full schedule), asked on its own so hourly incrementals never hide it. */
  const nextFull = shallowRef<string | null>(null);
  /** The next incremental runs (a slot where a full also falls is a full, so it is not listed). */
  const nextIncrementals = shallowRef<string[]>([]);
  const scheduleError = shallowRef<ApiError | null>(null);
  const scheduleLoading = ref(false);
  let scheduleGen = 0;

  /**
   * Asks the engine for the next `count` runs, the next full and the next `count`
   * incrementals; a bad cron or zone sets `scheduleError` (VALIDATION).
   */
  async function previewSchedule(schedule: Schedule, count = 5): Promise<void> {
    const mine = ++scheduleGen;
    scheduleLoading.value = true;
    try {
      const [all, full] = await Promise.all([
        call('schedule.preview', { schedule, count: LOOKAHEAD }),
        schedule.full ? call('schedule.preview', { schedule: { ...schedule, incremental: null }, count: 1 }) : Promise.resolve([]),
      ]);
      if (mine !== scheduleGen) return;
      runs.value = all.slice(0, count);
      nextFull.value = full[0]?.at ?? null;
      nextIncrementals.value = all.filter((r) => r.kind === 'incremental').slice(0, count).map((r) => r.at);
      scheduleError.value = null;
    } catch (e) {
      if (mine !== scheduleGen) return;
      runs.value = null;
      nextFull.value = null;
      nextIncrementals.value = [];
      scheduleError.value = ApiError.from(e);
    } finally {
      if (mine === scheduleGen) scheduleLoading.value = false;
    }
  }

  /** Forgets the schedule answer (e.g. no schedule is set); an answer still on its way is dropped. */
  function clearSchedule(): void {
    scheduleGen++;
    runs.value = null;
    nextFull.value = null;
    nextIncrementals.value = [];
    scheduleError.value = null;
    scheduleLoading.value = false;
  }

  const retention = shallowRef<RetentionPreview[] | null>(null);
  const retentionError = shallowRef<ApiError | null>(null);
  const retentionLoading = ref(false);
  let retentionGen = 0;

  async function previewRetention(taskId: string, policy: Retention): Promise<void> {
    const mine = ++retentionGen;
    retentionLoading.value = true;
    try {
      const answer = await call('retention.preview', { taskId, retention: policy });
      if (mine !== retentionGen) return;
      retention.value = answer;
      retentionError.value = null;
    } catch (e) {
      if (mine !== retentionGen) return;
      retention.value = null;
      retentionError.value = ApiError.from(e);
    } finally {
      if (mine === retentionGen) retentionLoading.value = false;
    }
  }

  function clearRetention(): void {
    retentionGen++;
    retention.value = null;
    retentionError.value = null;
    retentionLoading.value = false;
  }

  return {
    runs,
    nextFull,
    nextIncrementals,
    scheduleError,
    scheduleLoading,
    previewSchedule,
    clearSchedule,
    retention,
    retentionError,
    retentionLoading,
    previewRetention,
    clearRetention,
  };
});
