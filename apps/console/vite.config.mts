import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// No React plugin: Vite's own transform (oxc) compiles JSX with React's automatic runtime, and the build stays one
// tool. Output goes to dist/console, which the api serves at `/` (CONSOLE_DIR).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: 'public',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
    // The entry chunk is ~410 KiB raw, ~128 KiB gzipped (npm run console:size); the budget is on the gzipped size.
    chunkSizeWarningLimit: 600,
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // Radix marks its modules "use client" (a React Server Components hint), meaningless in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
