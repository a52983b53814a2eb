import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';

/**
 * Benchmarks run the real server in its own process (as `npm start` does) so the load generator doesn't
 * share its event loop. DATABASE_URL is used when set; otherwise an embedded Postgres under .plinth/bench.
 */
export interface BenchServer {
  base: string;
  /** The server's process id (its CPU time is in /proc/<pid>/stat). */
  pid: number | null;
  stop(): Promise<void>;
}

let built = false;

export async function startServer(port = 3950, extraEnv: NodeJS.ProcessEnv = {}): Promise<BenchServer> {
  const { pid, stop } = await spawnServer(['dist/apps/api/src/main.js'], { PORT: String(port), ...extraEnv }, [port]);
  return { base: `http://127.0.0.1:${port}`, pid, stop };
}

/**
 * Several api apps in one server process (test/bench/twin-server.ts), each on its port with its own settings on
 * top of the bench's: apps in one process share its JIT state, heap and CPU placement, so a comparison between
 * them isn't blurred by how far two identical processes differ. `pid` is the process's.
 */
export async function startTwinServer(apps: Array<{ port: number; env: NodeJS.ProcessEnv }>): Promise<{ bases: string[]; pid: number | null; stop(): Promise<void> }> {
  const ports = apps.map((a) => a.port);
  const { pid, stop } = await spawnServer(['-r', '@swc-node/register', 'test/bench/twin-server.ts'], { TWIN_APPS: JSON.stringify(apps) }, ports);
  return { bases: ports.map((p) => `http://127.0.0.1:${p}`), pid, stop };
}

/** Starts node with `script` (after a build, once per bench) and waits until every port answers /healthz. */
async function spawnServer(script: string[], extraEnv: NodeJS.ProcessEnv, ports: number[]): Promise<{ pid: number | null; stop(): Promise<void> }> {
  const root = resolve(__dirname, '../..');
  if (!built) {
    if (spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' }).status !== 0) throw new Error('build failed');
    built = true; // once per bench: servers started again later run the same build
  }
  mkdirSync(`${root}/.plinth/bench`, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LOG_LEVEL: 'warn',
    EMBEDDED_PG_DIR: `${root}/.plinth/bench/pg`,
    EMBEDDED_PG_PORT: '54370',
    PLINTH_SECRET_FILE: `${root}/.plinth/bench/secret`,
    ...extraEnv,
  };
  // BENCH_SERVER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) goes to the server only, for profiling.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // BENCH_SERVER_CPUS (e.g. `1`) pins the server to those CPUs with taskset (run the bench itself under `taskset -c 0`).
  const cpus = process.env.BENCH_SERVER_CPUS;
  const [command, args] = cpus ? ['taskset', ['-c', cpus, process.execPath]] : [process.execPath, []];
  const child: ChildProcess = spawn(command, [...args, ...nodeArgs, ...script], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  child.once('exit', () => (exited = true));
  for (const port of ports) {
    for (let i = 0; i < 120 && !exited; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  if (exited) throw new Error(`bench server ${script.join(' ')} exited while starting`);
  return {
    pid: child.pid ?? null,
    stop: () =>
      new Promise((res) => {
        if (exited) return res();
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

/**
 * The database the bench server uses: DATABASE_URL as given (the server creates it if missing), otherwise the
 * embedded Postgres startServer() sets up under .plinth/bench.
 */
export function benchDatabaseUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:54370/plinth';
}

/**
 * Puts an org on a private 'bench' plan whose quotas and rate limits the load can't reach, so a benchmark measures
 * the cost of checking them, not of refusing (the free plan allows 20 anonymous requests/s per IP). Call it before
 * the org's first tenant request: plans and an org's plan are cached on the request path.
 */
export async function useBenchPlan(databaseUrl: string, orgId: string): Promise<void> {
  const sql = new Client({ connectionString: databaseUrl });
  await sql.connect();
  try {
    await sql.query(
      `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
       VALUES ('bench', 'bench', false, 99, 0, true, '{"requests": 1e12, "egress_bytes": 1e15}', '{}',
               '{"project": {"limit": 1000000, "window_s": 1}, "key": {"limit": 1000000, "window_s": 1}, "anon_ip": {"limit": 1000000, "window_s": 1}}', '{}')
       ON CONFLICT (id) DO NOTHING`,
    );
    await sql.query(
      `INSERT INTO control.org_plans (org_id, plan_id) VALUES ($1, 'bench') ON CONFLICT (org_id) DO UPDATE SET plan_id = 'bench', updated_at = now()`,
      [orgId],
    );
  } finally {
    await sql.end();
  }
}

/**
 * A bench measures served requests only: any non-2xx answer (a 401 from a bad key, a 429, a 500) fails the run, so a
 * regression can't pass as a speed-up. Call it on every load run's result, warm-ups included.
 */
export function requireAll2xx<T extends { non2xx: number }>(what: string, r: T): T {
  if (r.non2xx > 0) throw new Error(`${what}: ${r.non2xx} non-2xx responses; a bench run must be all 2xx`);
  return r;
}
