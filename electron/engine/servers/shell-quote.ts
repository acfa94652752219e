/**
 * One word for a POSIX shell, for commands Backstop shows a user to copy and run (repair,
 * start/stop a restored cluster): returned as-is when it holds only characters no shell
 * treats specially, otherwise in single quotes with each ' written as '\''. So a file or
 * folder name with spaces, quotes, `$` or backticks is pasted as exactly that name.
 */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
