/**
 * Encryption keys: generate or import one for a task, and every way of saving it outside
 * the keychain (copy, file, printed recovery sheet, "I have saved it"). Each export is
 * recorded with keys.markExported, so the engine knows which keys were never saved.
 *
 * Contract: the key itself is only ever held by the caller that asked for it (`reveal`);
 * the store keeps no copy. Actions never reject: null/false with `error` set.
 */
import { defineStore } from 'pinia';
import { computed, onScopeDispose } from 'vue';
import type { KeyInfo } from '@shared/domain.ts';
import { ApiError, call, onEvent } from '../api';
import { useAction, useResource } from './resource';

type ExportMethod = 'clipboard' | 'file' | 'print' | 'confirmed';

export const useKeysStore = defineStore('keys', () => {
  const list = useResource(() => call('keys.list'), [] as KeyInfo[]);
  const action = useAction();
  const byRef = computed(() => new Map(list.data.value.map((k) => [k.keyRef, k])));

  function remember(info: KeyInfo): KeyInfo {
    list.data.value = [...list.data.value.filter((k) => k.keyRef !== info.keyRef), info];
    return info;
  }

  async function generate(): Promise<KeyInfo | null> {
    const info = await action.run(() => call('keys.generate'));
    return info ? remember(info) : null;
  }

  async function importKey(key: string): Promise<KeyInfo | null> {
    const info = await action.run(() => call('keys.import', { key: key.trim() }));
    return info ? remember(info) : null;
  }

  async function reveal(keyRef: string): Promise<string | null> {
    const answer = await action.run(() => call('keys.reveal', { keyRef }));
    return answer?.key ?? null;
  }

  async function markExported(keyRef: string, method: ExportMethod): Promise<KeyInfo | null> {
    const info = await action.run(() => call('keys.markExported', { keyRef, method }));
    return info ? remember(info) : null;
  }

  /** Copies the key with the system clipboard, then records the export. */
  async function copyToClipboard(keyRef: string): Promise<boolean> {
    const key = await reveal(keyRef);
    if (key === null) return false;
    const copied = await action.run(async () => {
      try {
        await navigator.clipboard.writeText(key);
        return true;
      } catch {
        throw new ApiError('PERMISSION_DENIED', 'The clipboard refused the key. Use “Save to file” or “Print” instead.');
      }
    });
    if (!copied) return false;
    return (await markExported(keyRef, 'clipboard')) !== null;
  }

  /**
   * Asks where to save (native dialog), then writes the key file there. Resolves to the path,
   * to '' when the user canceled the dialog, or to null with `error` set.
   */
  async function saveToFile(keyRef: string, taskName: string, fingerprint: string): Promise<string | null> {
    const chosen = await action.run(() =>
      call('dialog.saveFile', { title: 'Save the encryption key', defaultPath: `backstop-key-${fingerprint.replace(/[^A-Za-z0-9-]/g, '')}.txt` }),
    );
    if (!chosen) return null;
    if (chosen.path === null) return '';
    const path = chosen.path;
    const info = await action.run(() => call('keys.saveToFile', { keyRef, path, taskName }));
    if (!info) return null;
    remember(info);
    return path;
  }

  /** The printable recovery sheet (HTML containing the key). */
  async function recoverySheet(keyRef: string, taskName: string): Promise<string | null> {
    const sheet = await action.run(() => call('keys.recoverySheet', { keyRef, taskName }));
    return sheet?.html ?? null;
  }

  onScopeDispose(
    onEvent('keys.changed', () => {
      if (list.loaded.value) void list.refresh();
    }),
  );

  return {
    keys: list.data,
    byRef,
    loaded: list.loaded,
    refresh: list.refresh,
    busy: action.pending,
    error: action.error,
    clearError: action.clearError,
    generate,
    importKey,
    reveal,
    markExported,
    copyToClipboard,
    saveToFile,
    recoverySheet,
  };
});
