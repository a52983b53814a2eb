import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { REPO_ROOT } from './markdown';

/** Debian's Chromium, which the browser suites drive through playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';
/** The built console the test app serves (the same folder `npm start` serves). */
export const CONSOLE_DIST = join(REPO_ROOT, 'dist/console');
/** Screenshots of every console page the browser suite visits (git-ignored; CI keeps them as artifacts). */
export const SCREENSHOT_DIR = join(REPO_ROOT, '.plinth/console-screenshots');

/**
 * Whether the browser suites can run: Chromium present. Absent locally, they are skipped with a message; absent in
 * CI (`CI=true`), that is a failure (`.ci/run` installs it).
 */
export function chromiumAvailable(suite: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (env.CI === 'true') throw new Error(`${suite}: ${CHROMIUM} is missing, and CI must run the browser tests (apt-get install chromium)`);
  process.stderr.write(`\n  SKIPPED ${suite}: ${CHROMIUM} is not installed (apt-get install chromium); CI runs it.\n\n`);
  return false;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the console (Vite) unless dist/console is newer than every source file of apps/console. */
export function ensureConsoleBuilt(): void {
  const index = join(CONSOLE_DIST, 'index.html');
  const sources = join(REPO_ROOT, 'apps/console');
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(sources)) return;
  execFileSync(process.execPath, [join(dirname(require.resolve('vite/package.json')), 'bin/vite.js'), 'build', '--config', join(sources, 'vite.config.mts'), '--logLevel', 'warn'], {
    cwd: REPO_ROOT,
    // Jest runs with NODE_ENV=test, which would make Vite build React's development bundle (1.6x the size, slower).
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, `${name}.png`);
}
