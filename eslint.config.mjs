// Lint: TypeScript recommended rules, no import cycles, no deep imports into another lib's internals
// (import from `@plinth/<lib>` only; relative paths may not climb into another lib or app), and the raw
// DataSource/EntityManager injected only in repositories.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.plinth/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: false }],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@plinth/*/*'], message: 'Import from the lib entry point (@plinth/<lib>), not its internals.' },
            { regex: '^(\\.\\./)+(libs|apps)/', message: 'Use the @plinth/<lib> alias instead of a relative path into another lib or app.' },
            { regex: '^\\.\\./\\.\\./\\.\\./', message: 'Relative imports may not leave the current lib; use @plinth/<lib>.' },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // One owner per table: SQL lives in repositories (`*.repository.ts`), which other classes and libs call.
    files: ['**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportSpecifier[imported.name=/^Inject(DataSource|EntityManager)$/]",
          message: 'Only repositories (*.repository.ts) take the raw DataSource/EntityManager; call the owning lib\'s repository methods instead.',
        },
        {
          selector: "MemberExpression[property.name=/^Inject(DataSource|EntityManager)$/]",
          message: 'Only repositories (*.repository.ts) take the raw DataSource/EntityManager; call the owning lib\'s repository methods instead.',
        },
      ],
    },
  },
  {
    // Repositories, and the control database's transaction opener that services use instead of the DataSource.
    files: ['**/*.repository.ts', 'libs/database/src/control-transactions.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // Tests and benchmarks may reach into apps to boot them, and into lib internals for setup.
    files: ['test/**/*.ts', '**/*.spec.ts', '**/*.e2e-spec.ts'],
    rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off' },
  },
);
