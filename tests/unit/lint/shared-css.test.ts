/**
 * Styles shared by several views live once, in renderer/src/styles/main.css: a component may
 * add to a shared class (a width, a margin of its own) but never declares again what main.css
 * already declares for it, and the choices under a notice ("changed elsewhere", "deleted
 * elsewhere") are one shared class, not a copy per view. Reads the sources as text.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../..', import.meta.url).pathname;
const src = join(root, 'renderer/src');

function vueFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? vueFiles(join(dir, e.name)) : e.name.endsWith('.vue') ? [join(dir, e.name)] : []));
}

/** Each top-level rule of a style sheet: its selectors and the properties it declares (at-rule blocks left out). */
function rules(css: string): { selectors: string[]; properties: string[] }[] {
  const text = css.replace(/\/\*[\s\S]*?\*\//g, '').replace(/@[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}/g, '');
  return [...text.matchAll(/([^{}]+)\{([^{}]*)\}/g)].map((m) => ({
    selectors: m[1]!.split(',').map((s) => s.trim().replace(/\s+/g, ' ')),
    properties: m[2]!.split(';').map((d) => d.split(':')[0]!.trim()).filter(Boolean),
  }));
}

const styleOf = (file: string): string => [...readFileSync(file, 'utf8').matchAll(/<style[^>]*>([\s\S]*?)<\/style>/g)].map((m) => m[1]).join('\n');
const mainCss = readFileSync(join(src, 'styles/main.css'), 'utf8');

describe('shared styles', () => {
  it('a component never declares again what main.css declares for the same class', () => {
    const shared = new Map<string, Set<string>>();
    for (const r of rules(mainCss)) {
      for (const s of r.selectors) if (/^\.[\w-]+$/.test(s)) shared.set(s, new Set([...(shared.get(s) ?? []), ...r.properties]));
    }
    const repeated: string[] = [];
    for (const file of vueFiles(src)) {
      for (const r of rules(styleOf(file))) {
        for (const s of r.selectors) {
          const again = r.properties.filter((p) => shared.get(s)?.has(p));
          if (again.length > 0) repeated.push(`${relative(root, file)}: ${s} { ${again.join(', ')} }`);
        }
      }
    }
    expect(repeated).toEqual([]);
  });

  it('the choices under a notice are one class in main.css, used by the task editor and the server form', () => {
    expect(rules(mainCss).some((r) => r.selectors.includes('.notice-choices'))).toBe(true);
    for (const view of ['views/TaskEditorView.vue', 'views/ServersView.vue']) {
      expect(readFileSync(join(src, view), 'utf8')).toContain('class="notice-choices"');
    }
    const copies = vueFiles(src).filter((f) => rules(styleOf(f)).some((r) => r.selectors.some((s) => /^\.(notice-choices|changed-actions)\b/.test(s))));
    expect(copies.map((f) => relative(root, f))).toEqual([]);
  });
});
