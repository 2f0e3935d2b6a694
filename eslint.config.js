// ESLint flat config. The `no-restricted-imports` blocks below enforce the folder
// boundaries of docs/ARCHITECTURE.md §3: who may import whom.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const nodeBuiltins = { group: ['node:*'], message: 'This folder must not use Node built-ins.' };
const electron = { group: ['electron', 'electron/*'], message: 'Only src-main/electron may import electron.' };
const ours = (folder, why) => ({ group: [`**/${folder}/**`, `**/${folder}`], message: why });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'tests/fixtures/build/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Benchmarks hand functions to the browser (page.evaluate): both sets of globals.
    files: ['bench/**'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  {
    files: ['src-shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeBuiltins,
            electron,
            ours('src-main', 'src-shared imports nothing of ours.'),
            ours('src-emulator', 'src-shared imports nothing of ours.'),
            ours('src-renderer', 'src-shared imports nothing of ours.'),
            { group: ['react', 'react-dom', 'zustand'], message: 'src-shared has no UI.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src-emulator/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            electron,
            ours('src-main', 'src-emulator never imports main-side code.'),
            ours('src-renderer', 'src-emulator never imports the UI.'),
            { group: ['react', 'react-dom', 'zustand'], message: 'src-emulator has no UI.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src-main/services/**', 'src-main/server/**', 'src-main/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            electron,
            ours('src-renderer', 'Main-side code never imports the UI.'),
            ours('electron', 'Plain-Node code never imports the Electron glue.'),
          ],
        },
      ],
    },
  },
  {
    files: ['src-renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeBuiltins,
            electron,
            ours('src-main', 'The renderer reaches main only through the control contract.'),
            ours('src-emulator', 'The renderer reaches engines only over RFB.'),
          ],
        },
      ],
    },
  },
);
