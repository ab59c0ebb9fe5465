import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const nodeBuiltins = [
  'node:*',
  'fs',
  'fs/*',
  'path',
  'os',
  'http',
  'https',
  'net',
  'crypto',
  'child_process',
  'url',
  'events',
  'stream',
  'util',
];

export default tseslint.config(
  {
    ignores: ['out/**', 'dist/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'bench/results*.json', 'examples/*/.next/**', 'examples/*/next-env.d.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron', ...nodeBuiltins], message: 'The renderer sees only the bridge: no electron or Node modules.' },
            { group: ['**/core/**', '**/main/**', '**/server/**', '**/emulator/**'], message: 'The renderer imports only src/shared and its own code.' },
          ],
        },
      ],
    },
  },
  {
    // The contract is compiled into every process: it must stay free of platform imports.
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron', 'react', 'react-dom', ...nodeBuiltins], message: 'src/shared imports nothing platform-specific.' },
            { group: ['**/core/**', '**/main/**', '**/renderer/**', '**/server/**', '**/emulator/**', '**/preload/**'], message: 'src/shared imports only src/shared.' },
          ],
        },
      ],
    },
  },
  {
    // The engine runs in Electron main, the headless server and the CLI alike.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron', 'electron-store', 'react', 'react-dom'], message: 'src/core imports neither electron nor react.' },
            { group: ['**/main/**', '**/renderer/**', '**/preload/**', '**/server/**'], message: 'src/core must not depend on an adapter.' },
          ],
        },
      ],
    },
  },
  {
    // The library entry (`qb-token-desk`) runs inside the user's app: no desktop, UI or emulator code,
    // and not bootstrap.ts, whose demo mode loads the emulator.
    files: ['src/lib/**/*.ts'],
    ignores: ['src/lib/**/*.test.ts', 'src/lib/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['electron', 'electron-store', 'react', 'react-dom', 'next', 'next/*'], message: 'The library imports no Electron, React or Next.js.' },
            { group: ['**/main/**', '**/renderer/**', '**/preload/**', '**/emulator/**', '**/emulator', '**/core/bootstrap'], message: 'The library reaches neither an adapter nor the emulator (bootstrap.ts starts it in demo mode).' },
          ],
        },
      ],
    },
  },
  {
    // electron-builder's hooks are CommonJS modules it requires.
    files: ['build/**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['src/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: [...nodeBuiltins], message: 'The sandboxed preload has no Node modules.' },
            { group: ['**/core/**', '**/main/**', '**/renderer/**', '**/server/**', '**/emulator/**'], message: 'The preload imports only src/shared.' },
          ],
        },
      ],
    },
  },
);
