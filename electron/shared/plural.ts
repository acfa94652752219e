/** "1 point", "2 points": a count with its noun, singular or plural (main, engine and window alike). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
