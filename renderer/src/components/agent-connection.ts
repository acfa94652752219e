/** The window's line for "this window is a client of the Backstop agent" (Settings and the sidebar footer). */
import type { SchedulerOwnerInfo } from '@shared/domain.ts';

/** "Connected to the Backstop agent (pid 4242, since <local time>)", or '' while the window uses the app's own engine. */
export function agentConnectionText(s: SchedulerOwnerInfo): string {
  if (!s.connected || !s.owner) return '';
  return `Connected to the Backstop agent (pid ${s.owner.pid}, since ${new Date(s.owner.startedAt).toLocaleString()})`;
}
