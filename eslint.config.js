// ESLint flat config. Besides the usual recommended rules it enforces the import
// direction of the architecture (docs/ARCHITECTURE.md):
//   shared ← engine ← worker, cli, main;  preload → shared;  renderer → shared (via @shared).
// Nothing imports renderer; engine never imports electron, main, worker or renderer.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';
import globals from 'globals';

const NODE_BUILTINS =
  'assert|async_hooks|buffer|child_process|cluster|console|crypto|dgram|dns|events|fs|fs/promises|http|http2|https|inspector|module|net|os|path|perf_hooks|process|querystring|readline|stream|stream/promises|string_decoder|timers|tls|tty|url|util|v8|vm|worker_threads|zlib';

/** A no-restricted-imports rule from [regex, message] pairs. */
function forbid(...rules) {
  return ['error', { patterns: rules.map(([regex, message]) => ({ regex, message })) }];
}

const intoRenderer = ['(^|/)renderer(/|$)', 'Nothing imports renderer code.'];
const electronModule = ['^electron(/|$)', 'Only electron/main and electron/preload may import electron.'];

export default tseslint.config(
  {
    ignores: ['node_modules/', 'out/', 'dist/', 'release/', 'coverage/', 'test-results/', 'playwright-report/', '.tmp/', 'resources/', 'scratch/', 'scripts/bench/.build/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'vue/multi-word-component-names': 'off',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      'vue/attributes-order': 'off',
    },
  },
  {
    files: ['electron/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(
        ['^(?!zod$|\\.{1,2}/)', 'electron/shared runs in every process and imports nothing but zod.'],
        ['(^|/)(engine|main|worker|preload|cli|renderer)(/|$)', 'electron/shared must not import other layers.'],
      ),
    },
  },
  {
    files: ['electron/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(electronModule, intoRenderer, [
        '(^|/)(main|worker|preload|cli)(/|$)',
        'The engine is a plain Node library: it never imports main, worker, preload or cli (spawn workers via runtime/worker-entry).',
      ]),
    },
  },
  {
    files: ['electron/worker/**/*.ts', 'electron/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(electronModule, intoRenderer, ['(^|/)(main|preload)(/|$)', 'worker and cli import engine and shared only.']),
    },
  },
  {
    files: ['electron/serve/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(electronModule, intoRenderer, ['(^|/)(main|worker|preload|cli)(/|$)', 'serve imports engine and shared only.']),
    },
  },
  {
    files: ['electron/agent/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(electronModule, intoRenderer, ['(^|/)(main|worker|preload|cli)(/|$)', 'agent (the control endpoint and its client) imports engine, serve and shared only.']),
    },
  },
  {
    // The browser bridge of `backstop serve`: a classic script, served as is.
    files: ['renderer/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },
  {
    files: ['electron/main/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(intoRenderer, ['(^|/)(worker|preload|cli)(/|$)', 'main imports engine and shared; workers are spawned by path.']),
    },
  },
  {
    files: ['electron/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': forbid(
        ['^(?!electron$|\\.{1,2}/)', 'The sandboxed preload imports only electron and shared.'],
        ['(^|/)(engine|main|worker|cli|renderer)(/|$)', 'The preload imports only electron and shared.'],
      ),
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.vue'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': forbid(
        [`^(node:|(${NODE_BUILTINS})$)`, 'The renderer is sandboxed web code: no Node modules.'],
        electronModule,
        ['(^|/)electron/', 'The renderer imports shared code through @shared only (types, schemas, channel names).'],
        ['^@shared/(?!.*\\.ts$)|^@shared$', 'Import @shared files by their .ts path.'],
      ),
    },
  },
  {
    // src/api is the only code that talks to the bridge; everything else goes through stores.
    files: ['renderer/**/*.ts', 'renderer/**/*.vue'],
    ignores: ['renderer/src/api/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='window'][property.name='backstop']", message: 'Only renderer/src/api may use window.backstop; call a store action instead.' },
      ],
    },
  },
  {
    files: ['tests/**/*.ts', 'scripts/**/*.{ts,mjs}', '*.config.{ts,js}', 'bin/**/*.mjs'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
