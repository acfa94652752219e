/**
 * grants.sql text: the client's batch escapes undone field by field, and the stored stream
 * split into statements by their `;` outside quotes (names with newlines, `;`, quotes), with
 * a stream whose quote never closes read line by line as before.
 */
import { describe, expect, it } from 'vitest';
import { accountName, accountsScript, parseAccounts } from '../../../electron/engine/servers/mysql/accounts.ts';
import { unescapeBatchField } from '../../../electron/engine/servers/mysql/connector.ts';

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();
const mark = (kind: string, user: string, host: string) => `-- backstop-account ${kind} ${hex(user)} ${hex(host)}`;

describe('unescapeBatchField', () => {
  it('undoes the batch escapes and keeps everything else as sent', () => {
    expect(unescapeBatchField('a\\tb\\nc\\0d\\\\e')).toBe('a\tb\nc\0d\\e');
    // SHOW GRANTS writes `shop\_db`; batch mode sends it as shop\\_db.
    expect(unescapeBatchField('GRANT SELECT ON `shop\\\\_db`.* TO `u`@`%`')).toBe('GRANT SELECT ON `shop\\_db`.* TO `u`@`%`');
    expect(unescapeBatchField('\\\\t')).toBe('\\t');
    expect(unescapeBatchField('no escapes')).toBe('no escapes');
    expect(unescapeBatchField('odd \\x kept')).toBe('odd \\x kept');
  });
});

describe('parseAccounts', () => {
  it('keeps a statement whole when a name in it holds a newline, a `;` or a quote', () => {
    const user = { kind: 'user' as const, user: "nl\nhere;x'", host: 'h\tst' };
    const role = { kind: 'role' as const, user: 'r;"o`le', host: '' };
    const script = accountsScript([
      [mark('role', role.user, '')],
      [`CREATE ROLE ${accountName(role)}`],
      [`GRANT SELECT ON \`shop\\_db\`.* TO ${accountName(role)}`],
      [mark('user', user.user, user.host)],
      [`CREATE USER ${accountName(user)} IDENTIFIED BY PASSWORD '*AB;CD\\'x'`],
      [`GRANT ${accountName(role)} TO ${accountName(user)}`],
    ]);
    expect(parseAccounts(script)).toEqual([
      { ...role, statements: [`CREATE ROLE ${accountName(role)};`, `GRANT SELECT ON \`shop\\_db\`.* TO ${accountName(role)};`] },
      { ...user, statements: [`CREATE USER ${accountName(user)} IDENTIFIED BY PASSWORD '*AB;CD\\'x';`, `GRANT ${accountName(role)} TO ${accountName(user)};`] },
    ]);
  });

  it('reads a stream of plain names as before, blank lines and a last statement without `;` included', () => {
    const script = `${mark('user', 'web', '%')}\nCREATE USER \`web\`@\`%\`;\n\nGRANT USAGE ON *.* TO \`web\`@\`%\`;\n${mark('role', 'ro', '')}\nCREATE ROLE \`ro\``;
    expect(parseAccounts(script)).toEqual([
      { kind: 'user', user: 'web', host: '%', statements: ['CREATE USER `web`@`%`;', 'GRANT USAGE ON *.* TO `web`@`%`;'] },
      { kind: 'role', user: 'ro', host: '', statements: ['CREATE ROLE `ro`'] },
    ]);
  });

  it('reads a stream whose quote never closes line by line, so one cut statement cannot swallow the accounts after it', () => {
    // What an earlier version stored for a user name with a tab: the statement cut at the tab.
    const script = `${mark('user', 'a\tb', '%')}\nCREATE USER \`a;\n${mark('user', 'web', '%')}\nCREATE USER \`web\`@\`%\`;\n`;
    expect(parseAccounts(script).map((a) => [a.user, a.statements])).toEqual([
      ['a\tb', ['CREATE USER `a;']],
      ['web', ['CREATE USER `web`@`%`;']],
    ]);
  });
});
