/**
 * The base of a Backend decorator: every call goes to `inner` unchanged, `unwrap()` returns
 * it. A decorator (an upload limit, a test's fault injector) overrides only the calls it
 * changes, so a call added to Backend reaches the inner backend instead of being forgotten.
 */
import type { Backend, ByteRange, ObjectInfo, PutBody, PutOptions } from './backend.ts';

export class BackendDecorator implements Backend {
  readonly location: string;
  constructor(protected readonly inner: Backend) {
    this.location = inner.location;
  }
  put(key: string, body: PutBody, options?: PutOptions): Promise<void> {
    return this.inner.put(key, body, options);
  }
  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.inner.get(key, range);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.inner.stat(key);
  }
  listFolders(): Promise<string[]> {
    return this.inner.listFolders();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  unwrap(): Backend {
    return this.inner;
  }
}
