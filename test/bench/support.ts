import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Benchmarks run the real server in its own process (as `npm start` does) so the load generator doesn't
 * share its event loop. DATABASE_URL is used when set; otherwise an embedded Postgres under .plinth/bench.
 */
export interface BenchServer {
  base: string;
  stop(): Promise<void>;
}

export async function startServer(port = 3950, extraEnv: NodeJS.ProcessEnv = {}): Promise<BenchServer> {
  const root = resolve(__dirname, '../..');
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('build failed');
  mkdirSync(`${root}/.plinth/bench`, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    EMBEDDED_PG_DIR: `${root}/.plinth/bench/pg`,
    EMBEDDED_PG_PORT: '54370',
    PLINTH_SECRET_FILE: `${root}/.plinth/bench/secret`,
    ...extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, ['dist/apps/api/src/main.js'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    base,
    stop: () =>
      new Promise((res) => {
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

export async function post<T>(url: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function signup(base: string): Promise<{ token: string; orgId: string }> {
  const r = await post<{ access_token: string; org: { id: string } }>(`${base}/v1/auth/signup`, {
    email: `bench-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`,
    password: 'Bench-Passw0rd!',
  });
  return { token: r.access_token, orgId: r.org.id };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
