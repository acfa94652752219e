/**
 * Keeps every secret value the process has seen out of logs and error text.
 *
 * Contract: the secret store registers each value it reads or writes; `scrub` replaces
 * every occurrence of a registered value (length ≥ 4) with `[redacted]`. Values are held
 * only in memory for the life of the process.
 */
export class Redactor {
  private readonly values = new Set<string>();

  register(value: string): void {
    if (value.length >= 4) this.values.add(value);
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('[redacted]');
    return out;
  }
}
