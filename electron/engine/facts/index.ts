/** Facts recorded per restore point at backup time (tables, rows per table), counted from the dump stream or its snapshot. */
export * from './dump-facts.ts';
export { PgCustomArchiveFacts, pgTableKey } from './pg-custom-facts.ts';
export { MysqlSqlFacts } from './mysql-sql-facts.ts';
