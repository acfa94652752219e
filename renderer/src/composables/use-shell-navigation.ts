/**
 * Follows `app.navigate` events from the shell (a notification or tray item was clicked):
 * shows the asked-for view (unknown routes fall back like any other unknown URL).
 */
import { onBeforeUnmount } from 'vue';
import { useRouter } from 'vue-router';
import { onEvent } from '../api';

export function useShellNavigation(): void {
  const router = useRouter();
  const off = onEvent('app.navigate', ({ route }) => {
    if (typeof route === 'string' && route.startsWith('/')) void router.push(route);
  });
  onBeforeUnmount(off);
}
