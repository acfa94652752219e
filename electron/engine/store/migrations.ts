/**
 * Versioned schema migrations of the app database. Migration N (1-based) brings the
 * schema from version N-1 to N; `PRAGMA user_version` records the version.
 *
 * Contract: append only. A released migration is never edited or reordered.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: servers, tasks, settings, run history
  `
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  CREATE TABLE servers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind         TEXT NOT NULL CHECK (kind IN ('postgres', 'mysql', 'sqlite')),
    config       TEXT NOT NULL,
    password_ref TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
  ) STRICT;

  CREATE TABLE tasks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    server_id  TEXT NOT NULL REFERENCES servers(id) ON DELETE RESTRICT,
    config     TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    task_id        TEXT NOT NULL,
    task_name      TEXT NOT NULL,
    trigger        TEXT NOT NULL,
    requested_kind TEXT NOT NULL,
    status         TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    ended_at       TEXT,
    error_code     TEXT,
    error_message  TEXT
  ) STRICT;
  CREATE INDEX runs_by_task ON runs (task_id, started_at DESC);
  CREATE INDEX runs_by_time ON runs (started_at DESC);

  CREATE TABLE run_databases (
    run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    database      TEXT NOT NULL,
    destination   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    kind_reason   TEXT,
    status        TEXT NOT NULL,
    point_id      TEXT,
    bytes_read    INTEGER NOT NULL DEFAULT 0,
    bytes_stored  INTEGER NOT NULL DEFAULT 0,
    started_at    TEXT NOT NULL,
    ended_at      TEXT,
    error_code    TEXT,
    error_message TEXT,
    PRIMARY KEY (run_id, seq)
  ) STRICT;
  `,
  // 2: the last schedule slot handled per task (so a missed slot runs once on start/resume)
  `
  CREATE TABLE schedule_state (
    task_id      TEXT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    last_slot_at TEXT NOT NULL
  ) STRICT;
  `,
  // 3: encryption keys known to this app: keychain reference, fingerprint, export state (never the key)
  `
  CREATE TABLE keys (
    key_ref       TEXT PRIMARY KEY,
    fingerprint   TEXT NOT NULL UNIQUE,
    origin        TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
    created_at    TEXT NOT NULL,
    exported_at   TEXT,
    export_method TEXT
  ) STRICT;
  `,
  // 4: databases each task has seen, for "new database picked up" and staleness alerts
  `
  CREATE TABLE task_databases (
    task_id         TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    database        TEXT NOT NULL,
    first_seen_at   TEXT NOT NULL,
    last_success_at TEXT,
    PRIMARY KEY (task_id, database)
  ) STRICT;
  `,
  // 5: the fingerprint of the key a run encrypted with (shown in history)
  `
  ALTER TABLE runs ADD COLUMN key_fingerprint TEXT;
  `,
  // 6: a name for a key (`backstop keys generate --name`), shown beside its fingerprint
  `
  ALTER TABLE keys ADD COLUMN name TEXT;
  `,
  // 7: run-history rows that are server-level streams (PostgreSQL globals, cluster snapshot),
  //    each server's last connection test, and the databases Backstop itself restored.
  //    Older history rows of those streams are recognised by their reserved names on a PostgreSQL server.
  `
  ALTER TABLE run_databases ADD COLUMN server_stream INTEGER NOT NULL DEFAULT 0;
  UPDATE run_databases SET server_stream = 1
   WHERE database IN ('globals.sql', 'base.tar')
     AND run_id IN (SELECT r.id FROM runs r JOIN tasks t ON t.id = r.task_id JOIN servers s ON s.id = t.server_id WHERE s.kind = 'postgres');

  ALTER TABLE servers ADD COLUMN last_test_at TEXT;
  ALTER TABLE servers ADD COLUMN last_test_ok INTEGER;
  ALTER TABLE servers ADD COLUMN last_test_code TEXT;
  ALTER TABLE servers ADD COLUMN last_test_message TEXT;

  CREATE TABLE restored_databases (
    server_id   TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
    database    TEXT NOT NULL,
    restored_at TEXT NOT NULL,
    point_id    TEXT,
    PRIMARY KEY (server_id, database)
  ) STRICT;
  `,
  // 8: deliveries of notifications (webhook, heartbeat, e-mail) and the output of a run's
  //    pre/post hooks. Neither holds a secret: a delivery keeps the channel kind and a
  //    secret-free target (a URL's host, the recipients), a hook its argv and output.
  `
  CREATE TABLE notification_deliveries (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    target      TEXT NOT NULL,
    task_id     TEXT,
    run_id      TEXT,
    status      TEXT NOT NULL CHECK (status IN ('delivered', 'failed')),
    attempts    INTEGER NOT NULL,
    error       TEXT
  ) STRICT;
  CREATE INDEX notification_deliveries_at ON notification_deliveries (at);

  CREATE TABLE run_hooks (
    run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    phase       TEXT NOT NULL CHECK (phase IN ('pre', 'post')),
    database    TEXT,
    argv        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'timeout')),
    exit_code   INTEGER,
    action      TEXT NOT NULL,
    output      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
  ) STRICT;
  `,
  // 9: test restores (issue #22): a run's kind and each database's checks and duration; the
  //    scratch databases/folders a test restore created (so a crashed one's are removed on the
  //    next run, and no other name is ever touched); whole-server restores' progress per
  //    target database (a re-run skips what it finished and redoes what it left half-done);
  //    the last test-restore schedule slot handled per task.
  `
  ALTER TABLE runs ADD COLUMN run_kind TEXT NOT NULL DEFAULT 'backup';
  ALTER TABLE run_databases ADD COLUMN checks TEXT;
  ALTER TABLE run_databases ADD COLUMN duration_ms INTEGER;

  CREATE TABLE scratch_targets (
    target     TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (target, name)
  ) STRICT;

  CREATE TABLE server_restores (
    target     TEXT NOT NULL,
    database   TEXT NOT NULL,
    source     TEXT NOT NULL,
    point_id   TEXT,
    state      TEXT NOT NULL CHECK (state IN ('started', 'done')),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (target, database)
  ) STRICT;

  CREATE TABLE test_restore_schedule_state (
    task_id      TEXT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    last_slot_at TEXT NOT NULL
  ) STRICT;
  `,
  // 10: restores and retention deletions are runs too (issue #24): a run's detail (a restore's
  //     source, target server and origin) and a row's detail (restored-as name, deleted points), as JSON.
  `
  ALTER TABLE runs ADD COLUMN detail TEXT;
  ALTER TABLE run_databases ADD COLUMN detail TEXT;
  `,
  // 11: destination secrets saved to the keychain for a destination no task names yet (a
  //     window's Test connection or remote restore browse): their references only, so one a
  //     crashed window never released is removed later (destinations/unclaimed-secrets.ts).
  `
  CREATE TABLE unclaimed_secrets (
    ref      TEXT PRIMARY KEY,
    saved_at TEXT NOT NULL
  ) STRICT;
  `,
  // 12: the free space last measured at a task's remote destination (SFTP), for the disk
  //     warning (store/destination-space-table.ts).
  `
  CREATE TABLE destination_space (
    task_id     TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    destination TEXT NOT NULL,
    free_bytes  INTEGER NOT NULL,
    measured_at TEXT NOT NULL,
    PRIMARY KEY (task_id, destination)
  ) STRICT;
  `,
  // 13: the process that records a run (its pid, host and a per-process token, as JSON) and when
  //     it last marked the run alive, so a run left `running` by a process that was killed is
  //     closed as failed at the next start (store/history-table.ts closeAbandoned), and one
  //     another live process runs is left alone.
  `
  ALTER TABLE runs ADD COLUMN owner TEXT;
  ALTER TABLE runs ADD COLUMN alive_at TEXT;
  CREATE INDEX runs_open ON runs (status) WHERE status IN ('running', 'canceling');
  `,
  // 14: the rows that wrote a point, found by its id: a run checks that the point its incremental
  //     continues is the newest this task wrote there (history-table.ts writtenAfter).
  `
  CREATE INDEX run_databases_by_point ON run_databases (point_id) WHERE point_id IS NOT NULL;
  `,
  // 15: the Settings channel a delivery went to (null: a task file's channel), so each channel's
  //     last delivery can be shown, and a channel that starts failing is told once
  //     (notifications/notifier.ts, notification-deliveries-table.ts).
  `
  ALTER TABLE notification_deliveries ADD COLUMN channel_id TEXT;
  CREATE INDEX notification_deliveries_by_channel ON notification_deliveries (channel_id, id) WHERE channel_id IS NOT NULL;
  `,
  // 16: the process that recorded a scratch target (its pid, host and token, as JSON), so a test
  //     restore removes only a crashed run's leftovers, never the scratch database of a test
  //     restore another live process (the CLI beside the app) is still running
  //     (store/scratch-targets-table.ts leftovers).
  `
  ALTER TABLE scratch_targets ADD COLUMN owner TEXT;
  `,
  // 17: when a run of the task last found a database it had seen gone from the server (dropped
  //     or renamed), so it is announced once and no longer reported stale; cleared when a
  //     database of that name is back (store/task-databases-table.ts observe).
  `
  ALTER TABLE task_databases ADD COLUMN gone_at TEXT;
  `,
  // 18: deliveries still owed (notifications/notifier.ts): the payload as it is sent, the channel by
  //     id (a Settings channel) with a salted fingerprint of its settings, the attempts made and the
  //     process trying it — so an alert a closed or killed process was still retrying is resumed at
  //     the next start (store/notification-outbox-table.ts). No secret: never a URL, token or password.
  `
  CREATE TABLE notification_outbox (
    id          INTEGER PRIMARY KEY,
    queued_at   TEXT NOT NULL,
    event       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    channel_id  TEXT,
    target      TEXT NOT NULL,
    receiver    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    task_id     TEXT,
    run_id      TEXT,
    payload     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    progress    TEXT,
    owner       TEXT NOT NULL
  ) STRICT;
  `,
  // 19: History rows of PostgreSQL's server-level streams (globals.sql, base.tar) that migration 7
  //     could not recognise, having no stored task to find the server's kind by: the runs of task
  //     files (`backstop backup --config`, task id `file-…`) and of deleted tasks, which the first
  //     release recorded like databases (so History counted globals.sql as one). Only backup runs;
  //     a MySQL/MariaDB database name cannot hold a dot, and an SQLite file or PostgreSQL database
  //     named exactly so is as unlikely as migration 7 took it to be.
  `
  UPDATE run_databases SET server_stream = 1
   WHERE server_stream = 0 AND database IN ('globals.sql', 'base.tar')
     AND run_id IN (SELECT r.id FROM runs r WHERE r.run_kind = 'backup' AND r.task_id NOT IN (SELECT id FROM tasks));
  `,
];
