/**
 * The binary-log pieces that need no server: which files a read stores (continuing a chain,
 * starting one, detecting a purge), the stored framing round trip (each name once), the
 * dump's position comment, the replay filter, --stop-datetime to the second (a whole-second
 * moment stops before its second), and the scan for
 * statements a replay under another name would apply wrongly.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { deflateSync } from 'node:zlib';
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountStatements, DatabaseStatementScan, dumpFileReplaced, fileHeader, framedLogFiles, leftOutOfReads, logFilterOf, logFilterWarning, OwnGtids, planLogRead, PositionTap, rewriteRefusal, StatementScan, stopDatetime, unloggedReason, unpackLogFiles, type LogReadMeta } from '../../../electron/engine/servers/mysql/binlog.ts';

const read = (last: string): LogReadMeta => ({ binlogFiles: [last], binlogLast: last, binlogEndAt: '2026-12-04T10:00:00.000Z' });
const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'binlog-unit-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('planLogRead', () => {
  const closed = ['binlog.000003', 'binlog.000004', 'binlog.000005'];
  it('a new chain (any destination without one) stores every closed file', () => {
    expect(planLogRead(closed, [])).toEqual({ files: closed, restart: null });
    expect(planLogRead(closed, [read('binlog.000004'), null])).toEqual({ files: closed, restart: null });
  });
  it('continues after the oldest last file of the destinations', () => {
    expect(planLogRead(closed, [read('binlog.000004')])).toEqual({ files: ['binlog.000005'], restart: null });
    expect(planLogRead(closed, [read('binlog.000004'), read('binlog.000003')])).toEqual({ files: ['binlog.000004', 'binlog.000005'], restart: null });
  });
  it('the last stored file purged but its successor kept: no gap', () => {
    expect(planLogRead(closed, [read('binlog.000002')])).toEqual({ files: closed, restart: null });
  });
  it('a file after the last stored one purged: a new chain, LOG_PURGED', () => {
    expect(planLogRead(closed, [read('binlog.000001')])).toEqual({ files: closed, restart: 'LOG_PURGED' });
    expect(planLogRead(closed, [read('other.000002')])).toEqual({ files: closed, restart: 'LOG_PURGED' });
  });
});

describe('stored framing', () => {
  it('round-trips the files, split at any byte, and keeps each name once', async () => {
    const src = dir();
    const files = [
      { name: 'binlog.000007', data: Buffer.from([0xfe, 0x62, 0x69, 0x6e, 0x0a, 0x00, 0x42]) },
      { name: 'binlog.000008', data: Buffer.from('BACKSTOP-BINLOG-FILE fake 1\n'.repeat(3)) },
    ];
    for (const f of files) writeFileSync(join(src, f.name), f.data);
    const parts: Buffer[] = [];
    for await (const p of framedLogFiles(src, files.map((f) => ({ name: f.name, size: f.data.length })))) parts.push(p);
    const whole = Buffer.concat(parts);
    const twice = Buffer.concat([whole, whole]);
    const out = dir();
    const seen = new Set<string>();
    const names = await unpackLogFiles(Readable.from([...twice].map((b) => Buffer.from([b]))), out, (n) => !seen.has(n) && !!seen.add(n));
    expect(names).toEqual(['binlog.000007', 'binlog.000008']);
    for (const f of files) expect(readFileSync(join(out, f.name))).toEqual(f.data);
  });
  it('a file that changed size while read, a truncated stream or a path in a name: an error, never a partial file set', async () => {
    const src = dir();
    writeFileSync(join(src, 'binlog.000001'), 'abc');
    await expect(async () => {
      for await (const _ of framedLogFiles(src, [{ name: 'binlog.000001', size: 4 }]));
    }).rejects.toMatchObject({ code: 'DUMP_FAILED', message: expect.stringContaining('has 3 bytes, not the 4') });
    await expect(unpackLogFiles(Readable.from([Buffer.concat([fileHeader('binlog.000001', 10), Buffer.from('short')])]), dir(), () => true)).rejects.toMatchObject({
      code: 'INTEGRITY',
      message: expect.stringContaining('it ends inside a file'),
    });
    await expect(unpackLogFiles(Readable.from([fileHeader('../etc.000001', 0)]), dir(), () => true)).rejects.toMatchObject({ code: 'INTEGRITY' });
  });
  it('a stored log file goes to disk as it arrives, never whole in memory (a large transaction’s file), and one cut off is not left behind', async () => {
    const out = dir();
    const half = Buffer.alloc(4 * 1024 * 1024, 7);
    const source = new PassThrough();
    const unpacked = unpackLogFiles(source, out, () => true);
    source.write(Buffer.concat([fileHeader('binlog.000003', 2 * half.length), half]));
    // Half the file's bytes are on disk while the rest has not come yet (it was gathered, then written whole).
    const onDisk = () => (existsSync(join(out, 'binlog.000003')) ? statSync(join(out, 'binlog.000003')).size : 0);
    for (let i = 0; i < 400 && onDisk() < half.length; i++) await new Promise((r) => setTimeout(r, 5));
    expect(onDisk()).toBe(half.length);
    source.end(half);
    expect(await unpacked).toEqual(['binlog.000003']);
    expect(statSync(join(out, 'binlog.000003')).size).toBe(2 * half.length);
    // Cut off inside a file: INTEGRITY, and the part written is removed.
    const cut = dir();
    await expect(unpackLogFiles(Readable.from([Buffer.concat([fileHeader('binlog.000004', 10), Buffer.from('short')])]), cut, () => true)).rejects.toMatchObject({ code: 'INTEGRITY' });
    expect(readdirSync(cut)).toEqual([]);
  });
});

describe('the dump position and the replay', () => {
  it('PositionTap reads the --master-data=2 comment from the head, across buffers', () => {
    const tap = new PositionTap();
    const head = "-- Server version\t10.11\n\n-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000012', MASTER_LOG_POS=4711;\n\n-- Table";
    tap.feed(Buffer.from(head.slice(0, 50)));
    expect(tap.position).toBeNull();
    tap.feed(Buffer.from(head.slice(50)));
    expect(tap.position).toMatchObject({ binlogFile: 'binlog.000012', binlogPos: 4711 });
    const none = new PositionTap();
    none.feed(Buffer.from('-- MariaDB dump\nCREATE TABLE t (a int);\n'));
    expect(none.position).toBeNull();
  });
  it('OwnGtids drops only the GTID and server id lines, whatever the buffer cuts', async () => {
    const input = [
      'START TRANSACTION',
      '/*M!100001 SET @@session.gtid_domain_id=0*//*!*/;',
      '/*M!100001 SET @@session.server_id=1*//*!*/;',
      '/*M!100001 SET @@session.gtid_seq_no=8*//*!*/;',
      "INSERT INTO t VALUES ('/*M!100001 SET @@session.gtid_seq_no=9*//*!*/;')",
      'COMMIT/*!*/;',
      '',
    ].join('\n');
    const cut = [...Buffer.from(input, 'latin1')].map((b) => Buffer.from([b]));
    expect(await text(Readable.from(cut).pipe(new OwnGtids()))).toBe(["START TRANSACTION", "INSERT INTO t VALUES ('/*M!100001 SET @@session.gtid_seq_no=9*//*!*/;')", 'COMMIT/*!*/;', ''].join('\n'));
  });
  it('OwnGtids passes a long line (a large row\'s BINLOG statement) through as it comes, never holding it until its newline', () => {
    const f = new OwnGtids();
    const out: Buffer[] = [];
    f.on('data', (b: Buffer) => out.push(b));
    const piece = Buffer.alloc(64 * 1024, 0x41);
    f.write(Buffer.from("BINLOG '\n"));
    f.write(piece);
    f.write(piece);
    // Both pieces of the unfinished line are already out (the old filter held the line, re-copying it per buffer).
    expect(Buffer.concat(out).length).toBe(9 + 2 * piece.length);
    f.write(Buffer.from("'/*!*/;\n/*M!100001 SET @@session.gtid_seq_no=8*//*!*/;\nCOMMIT"));
    f.end();
    expect(Buffer.concat(out).toString('latin1')).toBe(`BINLOG '\n${'A'.repeat(2 * piece.length)}'/*!*/;\nCOMMIT`);
  });
  it('AccountStatements drops GRANT, CREATE/DROP USER and the like, whole and counted, whatever the buffer cuts; everything else passes byte for byte', async () => {
    // mariadb-binlog's output around account statements run with `shop` the default database:
    // statements (and the reader's lines between them), each a list of lines.
    const kept = [
      ['/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/;'],
      ['DELIMITER /*!*/;'],
      ['# at 256'],
      ['#261205 10:00:00 server id 1  end_log_pos 300 CRC32 0x1 \tQuery\tthread_id=5\texec_time=0\terror_code=0'],
      ['use `shop_copy`/*!*/;'],
      ['SET TIMESTAMP=1796500000/*!*/;'],
      ['START TRANSACTION', '/*!*/;'],
      ["BINLOG '", 'AAAA', "'/*!*/;"],
      ['CREATE PROCEDURE p() BEGIN', "  GRANT SELECT ON shop.* TO 'x'@'%';", 'END', '/*!*/;'],
      ["INSERT INTO t VALUES ('GRANT ALL ON *.* TO x')", '/*!*/;'],
      ['COMMIT/*!*/;'],
    ];
    const dropped = [
      ["CREATE USER 'newbie'@'%' IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'", '/*!*/;'],
      ["GRANT SELECT ON `shop`.* TO 'newbie'@'%'", '/*!*/;'],
      ["  DROP USER 'keep'@'%'/*!*/;"],
      ['CREATE OR REPLACE ROLE r1', 'WITH ADMIN CURRENT_USER', '/*!*/;'],
      ["SET PASSWORD FOR 'keep'@'%'=PASSWORD('x')/*!*/;"],
      ['REVOKE ALL PRIVILEGES, GRANT OPTION FROM r1/*!*/;'],
    ];
    // Two kept, one dropped, …
    const input: string[] = [];
    const expected: string[] = [];
    for (let i = 0, j = 0; i < kept.length || j < dropped.length; ) {
      for (let k = 0; k < 2 && i < kept.length; k++) {
        expected.push(...kept[i]!);
        input.push(...kept[i++]!);
      }
      if (j < dropped.length) input.push(...dropped[j++]!);
    }
    const log = `${input.join('\n')}\n`;
    for (const size of [1, 7, 64, 100_000]) {
      const pieces: Buffer[] = [];
      const bytes = Buffer.from(log, 'latin1');
      for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
      const filter = new AccountStatements();
      expect(await text(Readable.from(pieces).pipe(filter))).toBe(`${expected.join('\n')}\n`);
      expect(filter.skipped).toBe(6);
    }
  });
  it('AccountStatements passes a long statement line through as it comes', () => {
    const f = new AccountStatements();
    const out: Buffer[] = [];
    f.on('data', (b: Buffer) => out.push(b));
    const piece = Buffer.alloc(64 * 1024, 0x41);
    f.write(Buffer.from("BINLOG '\n"));
    f.write(piece);
    f.write(piece);
    expect(Buffer.concat(out).length).toBe(9 + 2 * piece.length);
    f.end(Buffer.from("'/*!*/;\nGRANT SELECT ON *.* TO x/*!*/;\nCOMMIT/*!*/;\n"));
    expect(Buffer.concat(out).toString('latin1')).toBe(`BINLOG '\n${'A'.repeat(2 * piece.length)}'/*!*/;\nCOMMIT/*!*/;\n`);
    expect(f.skipped).toBe(1);
    // The longest statement it passed on, the one a replay sends as its largest packet: the BINLOG one.
    expect(f.longest).toBe(9 + 2 * piece.length + 8);
  });
  it('AccountStatements.longest is the longest statement passed on, over its lines, whatever the buffer cuts (comments between statements and dropped statements not counted)', async () => {
    const binlog = `BINLOG '\n${'QUJD\n'.repeat(3000)}'/*!*/;\n`;
    const log = `# at 4\n#${'x'.repeat(40_000)}\nSET TIMESTAMP=1/*!*/;\n${binlog}GRANT ALL ON *.* TO '${'y'.repeat(30_000)}'/*!*/;\nCOMMIT/*!*/;\n`;
    for (const size of [1, 5, 4096, 1_000_000]) {
      const bytes = Buffer.from(log, 'latin1');
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
      const f = new AccountStatements();
      await text(Readable.from(pieces).pipe(f));
      expect(f.longest, `buffers of ${size}`).toBe(binlog.length);
    }
  });
  it('stopDatetime: a moment inside a second includes that whole second; a whole-second moment stops before its second, in UTC', () => {
    expect(stopDatetime(new Date('2026-12-04T14:02:30.250Z'))).toBe('2026-12-04 14:02:31');
    expect(stopDatetime(new Date('2026-12-04T23:59:59.999Z'))).toBe('2026-12-05 00:00:00');
    // Events logged during 14:02:30 started at or after 14:02:30.000: after the moment.
    expect(stopDatetime(new Date('2026-12-04T14:02:30.000Z'))).toBe('2026-12-04 14:02:30');
  });

  it('StatementScan passes row events, DDL and account statements; finds statement-logged row changes and statements naming the database itself', () => {
    // What mariadb-binlog --short-form writes (fed in odd chunks, as a pipe delivers).
    const scan = (log: string, source = 'shop') => {
      const s = new StatementScan(source);
      for (let i = 0; i < log.length; i += 7) s.feed(log.slice(i, i + 7));
      return s.end();
    };
    const frame = (...statements: string[]) => `DELIMITER /*!*/;\nSET TIMESTAMP=1/*!*/;\n${statements.map((x) => `${x}\n/*!*/;\n`).join('')}DELIMITER ;\n# End of log file\n`;
    const rowEvent = 'START TRANSACTION\n/*!*/;\n# Annotate_rows:\n#Q> UPDATE shop.item SET price = 1\nCOMMIT';
    expect(scan(frame('use `shop`/*!*/;\nCREATE TABLE later (k INT)', rowEvent, "GRANT SELECT ON shop.* TO 'u'@'%'", 'DROP TABLE later'))).toBeNull();
    // Other databases' statements, and a name that only starts like it.
    expect(scan(frame('use `other`/*!*/;\nUPDATE t SET v = 1', 'INSERT INTO shopping.t VALUES (1)'))).toBeNull();
    expect(scan(frame('use `shop`/*!*/;\nUPDATE item SET price = 2'))).toMatchObject({ statement: 'UPDATE item SET price = 2', why: expect.stringContaining('binlog_format was STATEMENT or MIXED') });
    expect(scan(frame('use `other`/*!*/;\nINSERT INTO `shop`.item VALUES (1)'))).toMatchObject({ statement: 'INSERT INTO `shop`.item VALUES (1)', why: expect.stringContaining('naming "shop".<table> itself') });
    expect(scan(frame('use `shop`/*!*/;\nALTER TABLE shop.item ADD c INT'))).toMatchObject({ statement: 'ALTER TABLE shop.item ADD c INT' });
    // Between two files the reader closes and reopens its delimiter: what follows is still judged.
    const twoFiles = `${frame('use `shop`/*!*/;\nCREATE TABLE a (k INT)')}ROLLBACK /* added by mysqlbinlog */;\n/*!50003 SET COMPLETION_TYPE=@OLD_COMPLETION_TYPE*/;\nDELIMITER /*!*/;\nUPDATE a SET k = 1\n/*!*/;\n`;
    expect(scan(twoFiles)).toMatchObject({ statement: 'UPDATE a SET k = 1' });
    // A database whose name needs quoting.
    expect(scan(frame('use `we``ird`/*!*/;\nDELETE FROM t'), 'we`ird')).toMatchObject({ statement: 'DELETE FROM t' });
  });

  it('StatementScan finds a DROP, CREATE or ALTER DATABASE of the database itself (a replay would apply it to the source), in any spelling; not of another, nor an ALTER of the default database', () => {
    const scan = (statement: string, source = 'shop') => {
      const s = new StatementScan(source);
      s.feed(`DELIMITER /*!*/;\nuse \`shop\`/*!*/;\n${statement}\n/*!*/;\nDELIMITER ;\n`);
      return s.end();
    };
    for (const st of ['DROP DATABASE shop', 'drop schema if exists `shop`', 'CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4', 'CREATE OR REPLACE DATABASE `shop`', 'ALTER DATABASE shop COMMENT \'x\'']) {
      expect(scan(st), st).toMatchObject({ statement: st, why: expect.stringContaining('on the database "shop" itself'), fix: expect.stringContaining('reachable from the first backup run after it') });
    }
    expect(scan('DROP DATABASE `my shop`', 'my shop')).toMatchObject({ statement: 'DROP DATABASE `my shop`' });
    for (const st of ['DROP DATABASE shopping', 'CREATE DATABASE `shop2`', 'ALTER DATABASE CHARACTER SET utf8mb4', 'DROP TABLE shop_old']) expect(scan(st), st).toBeNull();
  });

  it('DatabaseStatementScan finds the databases a DROP or CREATE DATABASE of a log file names, read in any cut, passing over other events and statements', () => {
    const event = (type: number, body: Buffer) => {
      const h = Buffer.alloc(19);
      h.writeUInt32LE(1, 0);
      h[4] = type;
      h.writeUInt32LE(1, 5);
      h.writeUInt32LE(19 + body.length + 4, 9);
      return Buffer.concat([h, body, Buffer.alloc(4, 0xab)]); // + CRC32
    };
    const query = (db: string, text: string) => {
      const post = Buffer.alloc(13);
      post[8] = Buffer.byteLength(db);
      post.writeUInt16LE(3, 11);
      return event(2, Buffer.concat([post, Buffer.from([1, 2, 3]), Buffer.from(db), Buffer.from([0]), Buffer.from(text)]));
    };
    const file = Buffer.concat([
      Buffer.from([0xfe, 0x62, 0x69, 0x6e]),
      event(15, Buffer.alloc(100, 0x44)),
      query('shop', 'BEGIN'),
      event(30, Buffer.from(' DROP DATABASE inrow '.repeat(2000))), // row data is never read as a statement
      query('shop', 'INSERT INTO t VALUES (\'DROP DATABASE x\')'),
      query('cycle', 'DROP DATABASE cycle'),
      query('', '/* app */ create schema if not exists `My ``db```'),
      query('shop', 'ALTER DATABASE shop COMMENT \'x\''),
    ]);
    for (const cut of [1, 7, 1000, file.length]) {
      const scan = new DatabaseStatementScan();
      scan.startFile('binlog.000007');
      for (let i = 0; i < file.length; i += cut) scan.feed(file.subarray(i, i + cut));
      expect([...scan.databases], `cut ${cut}`).toEqual(['cycle', 'My `db`']);
      // The file's first event's time: when the server began it.
      expect(scan.begunAt).toEqual({ 'binlog.000007': '1970-01-01T00:00:01.000Z' });
    }
  });

  it('DatabaseStatementScan reads compressed Query events (log_bin_compress) as MariaDB 10.11 writes them, whatever the cut, checksum or statement length', () => {
    // A real event from MariaDB 10.11 (log_bin_compress=ON, binlog_checksum=NONE): CREATE TABLE cycle.item …, type 165.
    const real = Buffer.from(
      '480f166ba5010000008c000000a403000000000700000000000000000000230000000000010100002054000000000603737464042d002d00080081090000000000000000813e789c730e72750c7155087174f2715548ae4cce49d5cb2c49cd55d0c84c51f0f40b510808f2f4750c8a54f0768dd451c84bcc4d5508730c72f6700cd23032d0d404003fd811a7',
      'hex',
    );
    // Its statement: a byte whose low 3 bits size the big-endian uncompressed length that follows, then zlib.
    const statementOf = (event: Buffer) => event.subarray(19 + 13 + event.readUInt16LE(19 + 11) + event[19 + 8]! + 1);
    const packed = (text: string) => {
      const raw = Buffer.from(text);
      const size = raw.length < 256 ? Buffer.from([raw.length]) : Buffer.from([raw.length >> 16, (raw.length >> 8) & 0xff, raw.length & 0xff]);
      return Buffer.concat([Buffer.from([0x80 | size.length]), size, deflateSync(raw)]);
    };
    expect(statementOf(real)).toEqual(packed('CREATE TABLE cycle.item (id INT PRIMARY KEY, name VARCHAR(20))'));
    const compressed = (db: string, text: string, checksum: boolean) => {
      const post = Buffer.alloc(13);
      post[8] = Buffer.byteLength(db);
      const body = Buffer.concat([post, Buffer.from(db), Buffer.from([0]), packed(text), checksum ? Buffer.alloc(4, 0xab) : Buffer.alloc(0)]);
      const h = Buffer.alloc(19);
      h[4] = 165;
      h.writeUInt32LE(19 + body.length, 9);
      return Buffer.concat([h, body]);
    };
    for (const checksum of [false, true]) {
      const file = Buffer.concat([
        Buffer.from([0xfe, 0x62, 0x69, 0x6e]),
        real,
        compressed('', 'DROP DATABASE cycle', checksum),
        compressed('shop', `CREATE DATABASE \`long\` /* ${'x'.repeat(300_000)} */`, checksum), // longer than the 64 KiB head looked at
        compressed('shop', `INSERT INTO t VALUES ('${'DROP DATABASE no '.repeat(50)}')`, checksum),
      ]);
      for (const cut of [1, 13, 4096, file.length]) {
        const scan = new DatabaseStatementScan();
        scan.startFile('binlog.000002');
        for (let i = 0; i < file.length; i += cut) scan.feed(file.subarray(i, i + cut));
        expect([...scan.databases], `checksum ${checksum}, cut ${cut}`).toEqual(['cycle', 'long']);
      }
    }
  });

  it('dumpFileReplaced: a file of the dump\'s name begun after its snapshot is another file (the log numbered anew); begun before, or not recorded, tells nothing', () => {
    const position = { binlogFile: 'binlog.000003', snapshotAt: '2026-12-06T10:00:00.500Z' };
    expect(dumpFileReplaced(position, [{ binlogFilesBegunAt: { 'binlog.000003': '2026-12-06T10:00:00.000Z' } }])).toBe(false);
    expect(dumpFileReplaced(position, [{ binlogFiles: ['binlog.000003'] }, { binlogFilesBegunAt: { 'binlog.000004': '2026-12-06T11:00:00.000Z' } }])).toBe(false);
    expect(dumpFileReplaced(position, [{}, { binlogFilesBegunAt: { 'binlog.000003': '2026-12-06T10:05:00.000Z' } }])).toBe(true);
  });

  it('StatementScan reads a log with very long lines in linear time: a 48 MB row written as a literal (its #Q> annotation) and a 16 MB statement in 64 KiB pieces', () => {
    // The unfinished line was re-joined with every piece: 16 MB took 3 s, 64 MB ~50 s, 256 MB ~14 min.
    const literal = 'ab'.repeat(24 * 1024 * 1024);
    const statement = `INSERT INTO t VALUES (X'${'cd'.repeat(8 * 1024 * 1024)}')`; // another database's, logged as a statement
    const log = `DELIMITER /*!*/;\nuse \`shop\`/*!*/;\nSTART TRANSACTION\n/*!*/;\n#Q> INSERT INTO item VALUES (1, X'${literal}')\nCOMMIT\n/*!*/;\nuse \`other\`/*!*/;\n${statement}\n/*!*/;\nuse \`shop\`/*!*/;\nUPDATE item SET price = 2\n/*!*/;\n`;
    const s = new StatementScan('shop');
    const started = performance.now();
    for (let i = 0; i < log.length; i += 65536) s.feed(log.slice(i, i + 65536));
    const found = s.end();
    expect(performance.now() - started).toBeLessThan(2000); // linear: ~0.1 s; before: over a minute
    // The long lines were read through: the statement after them is still judged.
    expect(found).toMatchObject({ statement: 'UPDATE item SET price = 2' });
  }, 120_000);
});

describe('the binary log database filter', () => {
  it('logFilterOf reads SHOW MASTER STATUS\'s columns; unloggedReason leaves out what binlog_ignore_db names (any case) and what binlog_do_db does not name exactly (as MariaDB compares with lower_case_table_names=0)', () => {
    expect(logFilterOf('', '')).toBeNull();
    expect(logFilterOf(undefined, undefined)).toBeNull();
    const ignore = logFilterOf('', 'quiet,Scratch')!;
    expect(ignore).toEqual({ doDb: [], ignoreDb: ['quiet', 'Scratch'] });
    expect(unloggedReason(ignore, 'shop')).toBeNull();
    expect(unloggedReason(ignore, 'quiet')).toMatch(/^the server's binlog_ignore_db leaves "quiet" out of the binary log .*remove it from binlog_ignore_db/);
    expect(unloggedReason(ignore, 'scratch')).not.toBeNull();
    const only = logFilterOf('Loud,other', '')!;
    expect(unloggedReason(only, 'Loud')).toBeNull();
    expect(unloggedReason(only, 'other')).toBeNull();
    expect(unloggedReason(only, 'loud')).toMatch(/^the server's binlog_do_db \(Loud, other\) does not name "loud".*add binlog_do_db=loud/);
    expect(unloggedReason(null, 'loud')).toBeNull();
    expect(logFilterWarning(only, 'MariaDB server x')).toMatch(/^The MariaDB server x leaves databases out of its binary log \(binlog_do_db=Loud,other\): every database but "Loud", "other" re-dump .*remove binlog_do_db from/);
    expect(logFilterWarning(null, 'x')).toBeNull();
  });

  it('leftOutOfReads: a read that left the database out, from the newest read before the dump on (its filter may hold until a later restart), ends what the reads hold before it', () => {
    const read = (at: string, ignoreDb: string[] = []) => ({ binlogEndAt: `2026-12-07T0${at}:00:00.000Z`, ...(ignoreDb.length ? { binlogFilter: { doDb: [], ignoreDb } } : {}) });
    const dumpAt = '2026-12-07T02:30:00.000Z';
    expect(leftOutOfReads('shop', dumpAt, [read('1'), read('2'), read('3'), read('4')])).toBeNull();
    // Set at a restart after the dump: what the reads hold ends with the read before.
    expect(leftOutOfReads('shop', dumpAt, [read('4', ['shop']), read('2'), read('3')])).toEqual({ why: expect.stringContaining('binlog_ignore_db leaves "shop" out'), heldUntil: '2026-12-07T03:00:00.000Z' });
    // Left out when the read before the dump was taken (removed at a restart since, perhaps after the dump): nothing after the dump is held.
    expect(leftOutOfReads('shop', dumpAt, [read('2', ['shop']), read('3'), read('4')])).toMatchObject({ heldUntil: null });
    // Reads older than that one, or another database left out, do not count.
    expect(leftOutOfReads('shop', dumpAt, [read('1', ['shop']), read('2'), read('3', ['other'])])).toBeNull();
    // No read before the dump (a new chain): the first read is judged.
    expect(leftOutOfReads('shop', '2026-12-07T00:30:00.000Z', [read('1', ['shop'])])).toMatchObject({ heldUntil: null });
  });
});

describe('rewriteRefusal', () => {
  it('refuses names mariadb-binlog --rewrite-db splits, trims or cuts (a "->" in the source, a leading space, ASCII white space in the new name), passes every other name', () => {
    expect(rewriteRefusal('ar->row', 'copy')).toMatchObject({ name: 'source', why: expect.stringContaining('holds "->"') });
    expect(rewriteRefusal(' lead', 'copy')).toMatchObject({ name: 'source', why: expect.stringContaining('starts with a space') });
    expect(rewriteRefusal('\tlead', 'copy')).toMatchObject({ name: 'source' });
    expect(rewriteRefusal('shop', ' copy')).toMatchObject({ name: 'target', why: expect.stringContaining('new name starts with a space') });
    // A space, tab or line break inside the new name: the tool keeps the first word only (into the source itself, or another database).
    expect(rewriteRefusal('shop', 'shop copy')).toEqual({
      name: 'target',
      why: `the new name holds a space, and mariadb-binlog's --rewrite-db keeps only the part before it ("shop"), so the replay would apply the log's changes to the source database "shop" itself (on its own server), not to the new one`,
    });
    expect(rewriteRefusal('crm', 'old crm')).toMatchObject({ name: 'target', why: expect.stringContaining('("old"), so the replay would apply the log\'s changes to the database "old", not to the new one') });
    expect(rewriteRefusal('shop', 'a\tb')).toMatchObject({ name: 'target', why: expect.stringContaining('holds a tab or line break') });
    // "->" in the new name is fine: the tool splits at the first one; a space inside the source name and a no-break or ideographic space in the new one too.
    for (const [source, target] of [['shop', 'copy->2'], ['shop-2024 eu', 'ab'], ['Grüße `x`', 'ü-copy'], ['a>b', 'c-d'], ['shop', 'x\u00a0y'], ['shop', 'ab\u3000cd'], ['shop', 'voilà']]) {
      expect(rewriteRefusal(source!, target!)).toBeNull();
    }
  });
});
