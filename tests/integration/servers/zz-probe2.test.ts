import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test, expect } from 'vitest';
import { SqliteConnector } from '../../../electron/engine/servers/sqlite/connector.ts';
import { tempDir } from '../../fixtures/temp-dir.ts';

test('probe2', async () => {
  const folder = tempDir();
  copyFileSync('/tmp/qa46d/coll/app.db', join(folder, 'app.db'));
  for (const type of ['logical', 'snapshot'] as const) {
    try {
      const c = new SqliteConnector(folder);
      const d = await c.openDump('app.db', type);
      const chunks: Buffer[] = [];
      for await (const ch of d.stream) chunks.push(Buffer.from(ch as Buffer));
      await d.done;
      console.log(type, 'dumped', Buffer.concat(chunks).length);
      const target = tempDir();
      const r = await new SqliteConnector(target).restore('app.db', Readable.from([Buffer.concat(chunks)]), type);
      console.log(type, 'restored', JSON.stringify(r));
      console.log(type, 'inspect', JSON.stringify(await new SqliteConnector(target).inspectRestored('app.db', ['contact'])));
    } catch (e) { console.log(type, 'ERROR', (e as { code?: string }).code, (e as Error).message); }
  }
  expect(1).toBe(1);
}, 60000);
