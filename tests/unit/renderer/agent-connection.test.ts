/** The "Connected to the Backstop agent (pid, since)" line: its text, and the sidebar footer showing it. */
import { describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import { createMemoryHistory, createRouter } from 'vue-router';
import AppSidebar from '../../../renderer/src/components/AppSidebar.vue';
import { agentConnectionText } from '../../../renderer/src/components/agent-connection.ts';
import { routes } from '../../../renderer/src/router/index.ts';

const agent = { who: 'agent' as const, pid: 4242, startedAt: '2026-12-05T01:00:00.000Z', host: 'db1' };

describe('agentConnectionText', () => {
  it('names the agent pid and since when while the window is its client; nothing otherwise', () => {
    expect(agentConnectionText({ owner: agent, self: false, connected: true })).toBe(`Connected to the Backstop agent (pid 4242, since ${new Date(agent.startedAt).toLocaleString()})`);
    expect(agentConnectionText({ owner: agent, self: false, connected: false })).toBe('');
    expect(agentConnectionText({ owner: agent, self: false })).toBe('');
    expect(agentConnectionText({ owner: null, self: false, connected: true })).toBe('');
  });
});

describe('AppSidebar footer', () => {
  async function sidebar(props: { version?: string | null; agent?: string | null }) {
    const router = createRouter({ history: createMemoryHistory(), routes });
    await router.push('/tasks');
    await router.isReady();
    const wrapper = mount(AppSidebar, { props, global: { plugins: [router] } });
    await flushPromises();
    return wrapper;
  }

  it('shows the agent connection above the version while connected, and no line when not', async () => {
    const text = agentConnectionText({ owner: agent, self: false, connected: true });
    const on = await sidebar({ version: '1.2.3', agent: text });
    expect(on.get('[data-testid="agent-connection"]').text()).toBe(text);
    expect(on.get('[data-testid="app-version"]').text()).toBe('Version 1.2.3');
    const off = await sidebar({ version: '1.2.3', agent: null });
    expect(off.find('[data-testid="agent-connection"]').exists()).toBe(false);
  });
});
