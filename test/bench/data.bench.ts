/**
 * Data runtime throughput: Plinth's `/p/:ref/rest/v1/items` (publishable key, one read rule) against a bare
 * node:http + pg server doing the same transaction, role switch and statements (the floor), at 10 and 50
 * connections. Both servers run in their own processes on the same Postgres; autocannon drives them from here.
 *   npm run bench -- test/bench/data.bench.ts            (embedded Postgres under .plinth/bench)
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/plinth_bench npm run bench -- test/bench/data.bench.ts
 * Targets: Plinth ≥ 50 % of bare. Parse Server (third column, target Plinth ≥ 4×) needs `parse-server` as a dev
 * dependency, which is not installed yet: the column prints as a TODO.
 */
import autocannon from 'autocannon';
import { ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tenantLoginUrl } from '../../libs/database/src/tenant-login';
import { post, signup, startServer } from './support';

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  path: () => string;
  body?: () => string;
}

const ROWS = 10_000;
const CATEGORIES = 50;

function run(base: string, headers: Record<string, string>, s: Scenario, connections: number, duration: number): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    autocannon(
      {
        url: base,
        connections,
        duration,
        pipelining: 1,
        requests: [
          {
            method: s.method,
            setupRequest: (req) => ({
              ...req,
              path: s.path(),
              headers: { ...headers, ...(s.body ? { 'content-type': 'application/json' } : {}) },
              ...(s.body ? { body: s.body() } : {}),
            }),
          },
        ],
      },
      (err, r) => (err ? reject(err) : resolveRun({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx })),
    );
  });
}

function startBare(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(resolve(__dirname, 'bare-data-server.ts'), [], { execArgv: ['-r', '@swc-node/register'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((res, rej) => {
    child.once('message', () => res(child));
    child.once('exit', (code) => rej(new Error(`bare server exited ${code}`)));
  });
}

async function main(): Promise<void> {
  const duration = Number(process.env.BENCH_SECONDS ?? 5);
  const root = resolve(__dirname, '../..');
  const controlUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:54370/plinth';
  const server = await startServer(3950, { RATE_LIMITS_ENABLED: 'false' });
  let bare: ChildProcess | undefined;
  try {
    const { token, orgId } = await signup(server.base);
    const p = await post<{ ref: string; keys: { publishable: string; secret: string } }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: 'bench' }, token);
    await post(
      `${server.base}/v1/projects/${p.ref}/tables`,
      {
        name: 'items',
        columns: [
          { name: 'id', type: 'int8', primary_key: true, default: 'identity' },
          { name: 'category', type: 'text', nullable: false },
          { name: 'name', type: 'text', nullable: false },
          { name: 'price', type: 'numeric(10,2)' },
        ],
        indexes: [{ columns: ['category'] }],
      },
      token,
    );
    const rules = await fetch(`${server.base}/v1/projects/${p.ref}/tables/items/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([
        { role: 'anon', action: 'read', where: { category: { $ne: 'hidden' } } },
        { role: 'anon', action: 'create' },
      ]),
    });
    if (!rules.ok) throw new Error(`rules: ${rules.status} ${await rules.text()}`);
    for (let i = 0; i < ROWS; i += 1000) {
      const batch = Array.from({ length: 1000 }, (_, j) => ({ category: `c${(i + j) % CATEGORIES}`, name: `item ${i + j}`, price: ((i + j) % 997) / 10 }));
      const r = await fetch(`${server.base}/p/${p.ref}/rest/v1/items`, { method: 'POST', headers: { apikey: p.keys.secret, 'content-type': 'application/json' }, body: JSON.stringify(batch) });
      if (r.status !== 201) throw new Error(`seed: ${r.status} ${await r.text()}`);
    }

    const secret = readFileSync(`${root}/.plinth/bench/secret`, 'utf8').trim();
    const dbUrl = new URL(controlUrl);
    if (!process.env.DATABASE_URL) dbUrl.pathname = '/plinth';
    bare = await startBare({
      BARE_DB_URL: tenantLoginUrl(dbUrl.toString(), process.env.PLINTH_SECRET ?? secret),
      BARE_SCHEMA: `t_${p.ref}`,
      BARE_ROLE: `t_${p.ref}_data`,
      BARE_PORT: '3951',
      BARE_POOL_MAX: process.env.TENANT_POOL_MAX ?? '10',
    });

    const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
    const scenarios: Scenario[] = [
      { name: 'GET ?id=eq.N', method: 'GET', path: () => `items?id=eq.${rnd(ROWS)}` },
      { name: 'GET ?category=eq.X&limit=20', method: 'GET', path: () => `items?category=eq.c${rnd(CATEGORIES) - 1}&limit=20` },
      { name: 'POST one row', method: 'POST', path: () => 'items', body: () => JSON.stringify({ category: `c${rnd(CATEGORIES) - 1}`, name: 'bench', price: 1.5 }) },
    ];
    const plinth = (s: Scenario): Scenario => ({ ...s, path: () => `/p/${p.ref}/rest/v1/${s.path()}` });
    const floor = (s: Scenario): Scenario => ({ ...s, path: () => `/${s.path()}` });
    const key = { apikey: p.keys.publishable };
    const bareBase = 'http://127.0.0.1:3951';
    // Warm-up: JIT, pools, caches.
    for (const s of scenarios) {
      await run(server.base, key, plinth(s), 10, 2);
      await run(bareBase, {}, floor(s), 10, 2);
    }
    console.log(`\nData runtime, ${duration}s per run, ${ROWS} rows, autocannon in a separate process from both servers`);
    console.log('conns  scenario                       server        req/s   p50 ms  p99 ms  non-2xx');
    for (const connections of [10, 50]) {
      for (const s of scenarios) {
        const b = await run(bareBase, {}, floor(s), connections, duration);
        const pl = await run(server.base, key, plinth(s), connections, duration);
        const line = (who: string, r: Run) =>
          console.log(`${String(connections).padEnd(6)} ${s.name.padEnd(30)} ${who.padEnd(10)} ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${r.non2xx}`);
        line('bare', b);
        line('plinth', pl);
        console.log(`${''.padEnd(38)}Plinth/bare ${(pl.rps / b.rps).toFixed(2)} (target ≥ 0.50)   Plinth/Parse: TODO (parse-server not installed)`);
      }
    }
  } finally {
    bare?.kill('SIGTERM');
    await server.stop();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
