/**
 * Data runtime throughput: Plinth's `/p/:ref/rest/v1/items` (publishable key, one read rule) against a bare
 * node:http + pg server doing the same transaction, role switch and statements (the floor), at 10 and 50
 * connections. Both servers run in their own processes on the same Postgres; autocannon drives them from here.
 *   npm run bench -- test/bench/data.bench.ts            (embedded Postgres under .plinth/bench)
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/plinth_bench npm run bench -- test/bench/data.bench.ts
 * Knobs: BENCH_SECONDS (per run, default 5); BENCH_SCENARIOS, a comma-separated list of words, keeps the scenarios
 * whose name contains one of them (`BENCH_SCENARIOS=POST`); BENCH_CONNECTIONS, e.g. `10` (default `10,50`).
 * Targets: Plinth ≥ 50 % of bare, and ≥ 4× Parse Server (parse-server on its Postgres adapter, in its own process, on
 * its own database `<db>_parse` on the same server: same 10 000 items in 50 categories, indexes on `id` and
 * `category`, public find/get/create class-level permissions like the anon read/create rules, called with the REST
 * API key as Plinth is with the publishable key).
 * The org is on a private plan whose rate limits the load can't reach: metering and rate limiting stay on (as in
 * production) and are measured, never refused.
 */
import autocannon from 'autocannon';
import { ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { tenantLoginUrl } from '../../libs/database/src/tenant-login';
import { Client } from 'pg';
import { PARSE_APP_ID, PARSE_MASTER_KEY, PARSE_REST_KEY } from './parse-server';
import { benchDatabaseUrl, post, requireAll2xx, signup, startServer, useBenchPlan } from './support';

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
      (err, r) => {
        if (err) return reject(err);
        try {
          resolveRun(requireAll2xx(`${s.method} ${base}${s.path()}`, { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx }));
        } catch (e) {
          reject(e);
        }
      },
    );
  });
}

/** Two runs as one: mean req/s, worst p50/p99, all non-2xx. */
function mean(a: Run, b: Run): Run {
  return { rps: (a.rps + b.rps) / 2, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99), non2xx: a.non2xx + b.non2xx };
}

function startChild(file: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(resolve(__dirname, file), [], { execArgv: ['-r', '@swc-node/register'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((res, rej) => {
    child.once('message', () => res(child));
    child.once('exit', (code) => rej(new Error(`${file} exited ${code}`)));
  });
}

/**
 * Parse Server on a fresh database next to the control one, with the `Item` class declared through its schema API
 * (fields, indexes on `id` and `category`, public find/get/count/create) and the same rows as Plinth's `items`. The
 * rows go straight into Parse's own table in its own format (what a REST create writes: no ACL, so publicly
 * readable): /parse/batch answered 500 here (TypeError in PromiseRouter.match, parse-server 9.10 on Express 5), and
 * 10 000 single creates would only slow the set-up.
 */
async function startParse(controlUrl: string, logs: string): Promise<ChildProcess> {
  const url = new URL(controlUrl);
  const admin = new Client({ connectionString: url.toString() });
  const name = `${url.pathname.slice(1) || 'postgres'}_parse`;
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  // PARSE_SERVER_LOGS_FOLDER: parse-server opens its default file logger (./logs) as it loads, before any option.
  const child = await startChild('parse-server.ts', { PARSE_DB_URL: url.toString(), PARSE_PORT: '3952', PARSE_LOGS: logs, PARSE_SERVER_LOGS_FOLDER: logs });
  const master = { 'x-parse-application-id': PARSE_APP_ID, 'x-parse-master-key': PARSE_MASTER_KEY, 'content-type': 'application/json' };
  const schema = await fetch('http://127.0.0.1:3952/parse/schemas/Item', {
    method: 'POST',
    headers: master,
    body: JSON.stringify({
      className: 'Item',
      fields: { id: { type: 'Number' }, category: { type: 'String' }, name: { type: 'String' }, price: { type: 'Number' } },
      indexes: { id_1: { id: 1 }, category_1: { category: 1 } },
      classLevelPermissions: { find: { '*': true }, get: { '*': true }, count: { '*': true }, create: { '*': true }, update: {}, delete: {}, addField: {}, protectedFields: {} },
    }),
  });
  if (!schema.ok) throw new Error(`parse schema: ${schema.status} ${await schema.text()}`);
  const sql = new Client({ connectionString: url.toString() });
  await sql.connect();
  try {
    await sql.query(
      `INSERT INTO "Item" ("objectId", "createdAt", "updatedAt", id, category, name, price)
       SELECT substr(md5(g::text || random()::text), 1, 10), now(), now(), g, 'c' || ((g - 1) % $2), 'item ' || (g - 1), ((g - 1) % 997) / 10.0
         FROM generate_series(1, $1::int) g`,
      [ROWS, CATEGORIES],
    );
    await sql.query('ANALYZE "Item"');
  } finally {
    await sql.end();
  }
  return child;
}

async function main(): Promise<void> {
  const duration = Number(process.env.BENCH_SECONDS ?? 5);
  const root = resolve(__dirname, '../..');
  const controlUrl = benchDatabaseUrl();
  const server = await startServer(3950);
  let bare: ChildProcess | undefined;
  let parse: ChildProcess | undefined;
  try {
    const { token, orgId } = await signup(server.base);
    await useBenchPlan(controlUrl, orgId);
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
    bare = await startChild('bare-data-server.ts', {
      BARE_DB_URL: tenantLoginUrl(controlUrl, process.env.PLINTH_SECRET ?? secret),
      BARE_SCHEMA: `t_${p.ref}`,
      BARE_ROLE: `t_${p.ref}_data`,
      BARE_PORT: '3951',
      BARE_POOL_MAX: process.env.TENANT_POOL_MAX ?? '10',
    });

    parse = await startParse(controlUrl, `${root}/.plinth/bench/parse-logs`);

    const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
    const scenarios: Array<Scenario & { parse: Scenario }> = [
      {
        name: 'GET ?id=eq.N',
        method: 'GET',
        path: () => `items?id=eq.${rnd(ROWS)}`,
        parse: { name: '', method: 'GET', path: () => `/parse/classes/Item?where=${encodeURIComponent(JSON.stringify({ id: rnd(ROWS) }))}` },
      },
      {
        name: 'GET ?category=eq.X&limit=20',
        method: 'GET',
        path: () => `items?category=eq.c${rnd(CATEGORIES) - 1}&limit=20`,
        parse: { name: '', method: 'GET', path: () => `/parse/classes/Item?where=${encodeURIComponent(JSON.stringify({ category: `c${rnd(CATEGORIES) - 1}` }))}&limit=20` },
      },
      {
        name: 'POST one row',
        method: 'POST',
        path: () => 'items',
        body: () => JSON.stringify({ category: `c${rnd(CATEGORIES) - 1}`, name: 'bench', price: 1.5 }),
        parse: { name: '', method: 'POST', path: () => '/parse/classes/Item', body: () => JSON.stringify({ category: `c${rnd(CATEGORIES) - 1}`, name: 'bench', price: 1.5 }) },
      },
    ];
    const only = (process.env.BENCH_SCENARIOS ?? '').split(',').filter(Boolean);
    if (only.length) scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => only.some((w) => s.name.includes(w))));
    const plinth = (s: Scenario): Scenario => ({ ...s, path: () => `/p/${p.ref}/rest/v1/${s.path()}` });
    const floor = (s: Scenario): Scenario => ({ ...s, path: () => `/${s.path()}` });
    const key = { apikey: p.keys.publishable };
    const parseKey = { 'x-parse-application-id': PARSE_APP_ID, 'x-parse-rest-api-key': PARSE_REST_KEY };
    const bareBase = 'http://127.0.0.1:3951';
    const parseBase = 'http://127.0.0.1:3952';
    // Warm-up: JIT, pools, caches.
    for (const s of scenarios) {
      await run(server.base, key, plinth(s), 10, 2);
      await run(bareBase, {}, floor(s), 10, 2);
      await run(parseBase, parseKey, s.parse, 10, 2);
    }
    console.log(`\nData runtime, ${duration}s per run, ${ROWS} rows, autocannon in a separate process from both servers`);
    console.log('conns  scenario                       server        req/s   p50 ms  p99 ms  non-2xx   (mean of 2 runs each)');
    for (const connections of (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number)) {
      for (const s of scenarios) {
        // Two rounds in mirrored order (bare, plinth, parse, parse, plinth, bare): the machine's load drifts.
        const b1 = await run(bareBase, {}, floor(s), connections, duration);
        const pl1 = await run(server.base, key, plinth(s), connections, duration);
        const pa1 = await run(parseBase, parseKey, s.parse, connections, duration);
        const pa = mean(pa1, await run(parseBase, parseKey, s.parse, connections, duration));
        const pl = mean(pl1, await run(server.base, key, plinth(s), connections, duration));
        const b = mean(b1, await run(bareBase, {}, floor(s), connections, duration));
        const line = (who: string, r: Run) =>
          console.log(`${String(connections).padEnd(6)} ${s.name.padEnd(30)} ${who.padEnd(10)} ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${r.non2xx}`);
        line('bare', b);
        line('plinth', pl);
        line('parse', pa);
        console.log(`${''.padEnd(38)}Plinth/bare ${(pl.rps / b.rps).toFixed(2)} (target ≥ 0.50)   Plinth/Parse ${(pl.rps / pa.rps).toFixed(2)} (target ≥ 4)`);
      }
    }
  } finally {
    bare?.kill('SIGTERM');
    parse?.kill('SIGTERM');
    await server.stop();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
