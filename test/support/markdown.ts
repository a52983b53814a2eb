import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The repository's root, for reading README.md and docs/ as a reader sees them. */
export const REPO_ROOT = join(__dirname, '../..');

/**
 * The fenced blocks of one language (`''` for fences without one) in a markdown file of the repository, in order,
 * as a reader copies them.
 */
export function fencedBlocks(file: string, lang: string, text = readFileSync(join(REPO_ROOT, file), 'utf8')): string[] {
  const blocks: string[] = [];
  let open: { lang: string; lines: string[] } | null = null;
  for (const line of text.split('\n')) {
    if (open === null) {
      const fence = /^```(\S*)$/.exec(line);
      if (fence) open = { lang: fence[1], lines: [] };
    } else if (line === '```') {
      if (open.lang === lang) blocks.push(open.lines.map((l) => `${l}\n`).join(''));
      open = null;
    } else {
      open.lines.push(line);
    }
  }
  return blocks;
}

/** Fails the suite with a clear message where curl is missing (the examples are curl commands). */
export function requireCurl(): void {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('the documentation examples are curl commands: install curl to run this test');
  }
}

/**
 * Runs `script` under `bash -euo pipefail` with `B` pointing at the test app, as a reader would paste it (an unset
 * variable or a failing step fails it). Asynchronous, since the app answering it runs in this process.
 */
export async function runBash(script: string, baseUrl: string, what: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], {
      env: { ...process.env, B: baseUrl },
      cwd: REPO_ROOT,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${what} failed: ${err.message.split('\n')[0]}\nstdout:\n${err.stdout}\nstderr:\n${err.stderr}`);
  }
}
