/**
 * Backup runs, newest first, a page at a time; refreshed on `history.changed`.
 *
 * Contract: the filter is the engine's query (`setFilter`), so a filter finds a task's or a
 * day's runs anywhere in a year of history, not only among the page already loaded.
 * `loadOlder()` appends the next page (cursor: the oldest loaded run). A refresh (and
 * `history.changed`) fetches the newest page again and keeps the older pages already
 * loaded (`mergeNewest`); an older page still on its way when new runs arrive lands after
 * them (only a filter change drops it). `hasMore`: the last page came back full, so older runs may exist.
 */
import { defineStore } from 'pinia';
import { onScopeDispose, ref, shallowRef } from 'vue';
import type { Run } from '@shared/domain.ts';
import { ApiError, call, onEvent } from '../api';
import { mergeNewest, type HistoryFilterQuery } from '../components/run-stats';

export const HISTORY_PAGE = 200;

export const useHistoryStore = defineStore('history', () => {
  const runs = shallowRef<Run[]>([]);
  const loaded = ref(false);
  const loading = ref(false);
  const loadingOlder = ref(false);
  const hasMore = ref(false);
  const error = shallowRef<ApiError | null>(null);
  let filter: HistoryFilterQuery = {};
  /** Bumped by every refresh and filter change: an older answer never overwrites a newer one. */
  let generation = 0;
  /** Bumped by a filter change only: an older page of the previous filter is dropped, one of the same filter lands even if new runs arrived (a refresh) meanwhile. */
  let filterGeneration = 0;
  /** The runs shown are of an older filter: the next answer replaces them. */
  let stale = false;

  /** `replace`: the filter changed, the runs loaded so far are not of it (kept on screen until the answer, so the form stays put). */
  async function refresh(replace = false): Promise<void> {
    const mine = ++generation;
    const query = filter;
    loading.value = true;
    if (replace) {
      stale = true;
      filterGeneration++;
    }
    try {
      const head = await call('history.list', { ...query, limit: HISTORY_PAGE });
      if (mine !== generation) return;
      const merged = loaded.value && !stale ? mergeNewest(head, runs.value, HISTORY_PAGE) : head;
      stale = false;
      // Older pages kept by the merge keep their own "more" answer; a short head is everything.
      hasMore.value = head.length < HISTORY_PAGE ? false : merged.length > head.length ? hasMore.value : true;
      runs.value = merged;
      loaded.value = true;
      error.value = null;
    } catch (e) {
      if (mine === generation) error.value = ApiError.from(e);
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  /** A new filter: the runs shown are replaced by the engine's answer for it. */
  async function setFilter(next: HistoryFilterQuery): Promise<void> {
    if (JSON.stringify(next) === JSON.stringify(filter)) return refresh();
    filter = next;
    await refresh(true);
  }

  async function loadOlder(): Promise<void> {
    const last = runs.value[runs.value.length - 1];
    if (!last || loadingOlder.value || stale) return;
    const mine = filterGeneration;
    loadingOlder.value = true;
    try {
      const page = await call('history.list', { ...filter, limit: HISTORY_PAGE, before: last.startedAt, beforeId: last.id });
      // New runs arriving meanwhile (a refresh) keep the older pages: this one lands after them.
      if (mine !== filterGeneration || stale) return;
      const seen = new Set(runs.value.map((r) => r.id));
      runs.value = [...runs.value, ...page.filter((r) => !seen.has(r.id))];
      hasMore.value = page.length === HISTORY_PAGE;
      error.value = null;
    } catch (e) {
      if (mine === filterGeneration) error.value = ApiError.from(e);
    } finally {
      loadingOlder.value = false;
    }
  }

  onScopeDispose(
    onEvent('history.changed', () => {
      if (loaded.value) void refresh();
    }),
  );

  return { runs, loaded, loading, loadingOlder, hasMore, error, refresh: () => refresh(), setFilter, loadOlder };
});
