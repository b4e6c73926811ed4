// ESLint flat config: the recommended JavaScript and typescript-eslint rules, Node globals.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'data/',
      'tmp/',
      'shared/db/migrations/',
      // Vendored verbatim from the MCP conformance suite.
      'bench/fixtures/conformance/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // The dashboard's sources run in the browser (bundled by server/dashboard/build.ts).
  { files: ['server/dashboard/ui/**/*.{ts,tsx}'], languageOptions: { globals: globals.browser } },
);
