/**
 * What became of an alert not delivered, in words (the engine's notification-failed alert and the
 * window's Settings alike): "not delivered after 1 attempt" / "… after 5 attempts", or "not sent"
 * when nothing was tried (an earlier answer's Retry-After asked to wait longer than Backstop waits).
 * `sentence`: starting a sentence ("Not …").
 */
import { plural } from './plural.ts';

export function notDelivered(attempts: number, sentence = false): string {
  return `${sentence ? 'N' : 'n'}ot ${attempts > 0 ? `delivered after ${plural(attempts, 'attempt')}` : 'sent'}`;
}
