/** How each kind of database server is named and described in the UI. */
import type { ServerKind } from '@shared/domain.ts';

export interface KindInfo {
  label: string;
  short: string;
  description: string;
  defaultPort: number | null;
}

export const KIND_INFO: Record<ServerKind, KindInfo> = {
  postgres: {
    label: 'PostgreSQL',
    short: 'PG',
    description: 'Every database on a PostgreSQL server, with one connection.',
    defaultPort: 5432,
  },
  mysql: {
    label: 'MySQL / MariaDB',
    short: 'My',
    description: 'Every database on a MySQL or MariaDB server, with one connection.',
    defaultPort: 3306,
  },
  sqlite: {
    label: 'SQLite folder',
    short: 'SQ',
    description: 'Every SQLite database file in a folder on this computer.',
    defaultPort: null,
  },
};

export const KIND_ORDER: ServerKind[] = ['postgres', 'mysql', 'sqlite'];
