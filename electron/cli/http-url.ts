/** Whether a text given on the command line or in the environment is an http:// or https:// URL (the one check the CLI uses for endpoints and webhook URLs). */
export function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
