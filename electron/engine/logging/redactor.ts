/**
 * Keeps every secret value the process has seen out of logs and error text.
 *
 * Contract: the secret store registers each value it reads or writes; `scrub` replaces
 * every occurrence of a registered value (length ≥ 4), as given or URL-encoded, with
 * `[redacted]`. A value that is a
 * JSON object (a destination's secret: `{"password":…}`, `{"accessKeyId":…,"secretAccessKey":…}`)
 * registers each of its string fields too (but an S3 access key id, an identifier AWS
 * itself prints), since a library's error quotes the field, never the JSON. Values are held
 * only in memory for the life of the process.
 */
/** Fields of a stored secret that identify rather than authenticate. */
const NOT_SECRET = new Set(['accessKeyId']);

export class Redactor {
  private readonly values = new Set<string>();

  register(value: string): void {
    if (value.length < 4) return;
    this.values.add(value);
    this.values.add(encodeURIComponent(value)); // as a URL carries it (a webhook token, a password in a query)
    if (!value.startsWith('{')) return;
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed && typeof parsed === 'object') {
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string' && !NOT_SECRET.has(k)) this.register(v);
      }
    } catch {
      // not JSON: the value alone is registered
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('[redacted]');
    return out;
  }
}
