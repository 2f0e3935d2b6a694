// ESLint flat config. The boundary blocks below enforce the folder boundaries of
// docs/ARCHITECTURE.md ("Folders and boundaries"): who may import whom — for static imports
// (`no-restricted-imports`), dynamic `import('…')` and `typeof import('…')` types alike.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** A forbidden import: a regular expression over the specifier, and why it is forbidden. */
const forbid = (regex, message) => ({ regex, message });
const nodeBuiltins = forbid('^node:', 'This folder must not use Node built-ins.');
const electron = forbid('^electron(/|$)', 'Only src-main/electron may import electron.');
/** One of our folders, reached by any relative path ("../../src-main/…"). */
const ours = (folder, why) => forbid(`(^|/)${folder}(/|$)`, why);
const ui = (who) => forbid('^(react|react-dom|zustand)(/|$)', `${who} has no UI.`);

/**
 * A boundary: `files` must not import anything `forbidden` names. `no-restricted-imports` sees
 * import/export declarations only, so `no-restricted-syntax` applies the same expressions to
 * `import('…')` calls and `typeof import('…')` types.
 */
function boundary(files, forbidden, extra = {}) {
  const selectorRegex = (regex) => `/${regex.replaceAll('/', '\\/')}/i`;
  return {
    files,
    ...extra,
    rules: {
      'no-restricted-imports': ['error', { patterns: forbidden.map(({ regex, message }) => ({ regex, message })) }],
      'no-restricted-syntax': [
        'error',
        ...forbidden.flatMap(({ regex, message }) => [
          { selector: `ImportExpression[source.value=${selectorRegex(regex)}]`, message },
          { selector: `TSImportType[source.value=${selectorRegex(regex)}]`, message },
        ]),
      ],
    },
  };
}

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
  boundary(
    ['src-shared/**'],
    [
      nodeBuiltins,
      electron,
      ours('src-main', 'src-shared imports nothing of ours.'),
      ours('src-node', 'src-shared imports nothing of ours (it has no Node).'),
      ours('src-emulator', 'src-shared imports nothing of ours.'),
      ours('src-renderer', 'src-shared imports nothing of ours.'),
      ui('src-shared'),
    ],
  ),
  boundary(
    ['src-node/**'],
    [
      electron,
      ours('src-main', 'src-node imports only src-shared and node:* (main-side code imports it, not the reverse).'),
      ours(
        'src-emulator',
        'src-node imports only src-shared and node:* (engine-side code imports it, not the reverse).',
      ),
      ours('src-renderer', 'src-node imports only src-shared and node:*.'),
      forbid('^(?!node:|\\.)', 'src-node imports only src-shared and node:* (no packages).'),
    ],
  ),
  boundary(
    ['src-emulator/**'],
    [
      electron,
      ours('src-main', 'src-emulator never imports main-side code.'),
      ours('src-renderer', 'src-emulator never imports the UI.'),
      ui('src-emulator'),
    ],
  ),
  boundary(
    ['src-main/services/**', 'src-main/server/**', 'src-main/cli/**'],
    [
      electron,
      ours('src-renderer', 'Main-side code never imports the UI.'),
      ours('electron', 'Plain-Node code never imports the Electron glue.'),
    ],
  ),
  boundary(
    ['src-renderer/**'],
    [
      nodeBuiltins,
      electron,
      ours('src-main', 'The renderer reaches main only through the control contract.'),
      ours('src-node', 'The renderer has no Node: src-node is for main-side and engine-side code.'),
      ours('src-emulator', 'The renderer reaches engines only over RFB.'),
    ],
    { languageOptions: { globals: { ...globals.browser } } },
  ),
);
