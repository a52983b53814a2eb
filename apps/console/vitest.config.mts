import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Component and logic tests of the console (`*.test.ts(x)` under src), in jsdom; `npm test` runs them after jest.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  oxc: { jsx: { runtime: 'automatic' } },
  test: { environment: 'jsdom', include: ['src/**/*.test.{ts,tsx}'] },
});
