/**
 * Database servers: the public surface of the connectors.
 *
 * `connectorFor(server, { password, toolPaths })` returns the Connector for a stored
 * server (see connector.ts for the contract every connector keeps). Also exported: the
 * database-name ↔ folder-name mapping, PostgreSQL snapshot restore helpers, client-tool
 * discovery, and the server-input check used when a server is saved.
 */
import type { Server } from '../../shared/domain.ts';
import type { Connector, ConnectorOptions } from './connector.ts';
import { MysqlConnector } from './mysql/connector.ts';
import { PostgresConnector } from './postgres/connector.ts';
import { SqliteConnector } from './sqlite/connector.ts';

export type * from './connector.ts';
export { BACKUP_NOTES_META } from './connector.ts';
export { checkServerInput, checkSocketHost, checkTlsCaFile } from './check-server-input.ts';
export { encodeDatabaseFolder, decodeDatabaseFolder, databaseNameOf, isHashedDatabaseFolder, legacyDatabaseFolder, SERVER_FOLDER, MAX_FOLDER_LENGTH } from './database-folder.ts';
export { restoreBaseBackup, startDataDirectory, type RunningCluster, type BaseBackupRestoreReport } from './postgres/snapshot.ts';
export { PG_GLOBALS_STREAM, PG_BASEBACKUP_STREAM } from './postgres/connector.ts';
export { clusterOwner, completeConfiguration, restoredClusterNotes } from './postgres/restored-cluster.ts';
export { slotNameFor, PG_WAL_FORMAT, WalSource } from './postgres/wal-stream.ts';
export { findTool, toolVersion, candidateDirs, type ToolFamily } from './tools.ts';

export function connectorFor(server: Server, opts: ConnectorOptions = {}): Connector {
  switch (server.kind) {
    case 'postgres':
      return new PostgresConnector(server, opts.password ?? null, { binDir: opts.toolPaths?.postgres ?? null });
    case 'mysql':
      return new MysqlConnector(server, opts.password ?? null, { binDir: opts.toolPaths?.mysql ?? null });
    case 'sqlite':
      return new SqliteConnector(server.folder);
  }
}
export { serverPassword } from './server-password.ts';
