/**
 * Functions runtime throughput: a hello-world function (JSON) and a function doing one `env.db` read by id, called at
 * `/p/:ref/functions/v1/:name` with the publishable key, against (1) the floor: the same answers from a bare
 * node:http server in its own process (hello: a constant JSON route; read: bare-data-server's transaction, the one
 * the data runtime runs), and (2) Parse Server Cloud Code (`Parse.Cloud.define`, called on /parse/functions/<name>,
 * in-process and unisolated) on the same Postgres, at 10 and 50 connections; then the first call after a deploy
 * (cold: a new isolate, its module compiled) against the next (warm), sequentially.
 *   npm run bench -- test/bench/functions.bench.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/plinth_bench npm run bench -- test/bench/functions.bench.ts
 * Knobs: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default `10,50`), BENCH_COLD_DEPLOYS (default 20).
 * Targets (issue 16): hello ≥ 50 % of the floor and ≥ 2× Parse Cloud Code; cold adds < 5 ms p50 over warm.
 */
import autocannon from 'autocannon';
import { ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { tenantLoginUrl } from '../../libs/database/src/tenant-login';
import { PARSE_APP_ID, PARSE_MASTER_KEY, PARSE_REST_KEY } from './parse-server';
import { benchDatabaseUrl, percentile, post, requireAll2xx, signup, startServer, useBenchPlan } from './support';

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

interface Target {
  base: string;
  method: 'GET' | 'POST';
  path: () => string;
  headers: Record<string, string>;
  body?: () => string;
}

const ROWS = 1000;

function run(t: Target, connections: number, duration: number): Promise<Run> {
  return new Promise((done, reject) => {
    autocannon(
      {
        url: t.base,
        connections,
        duration,
        requests: [{ method: t.method, setupRequest: (req) => ({ ...req, path: t.path(), headers: t.headers, ...(t.body ? { body: t.body() } : {}) }) }],
      },
      (err, r) => {
        if (err) return reject(err);
        try {
          done(requireAll2xx(`${t.method} ${t.base}${t.path()}`, { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx }));
        } catch (e) {
          reject(e);
        }
      },
    );
  });
}

const mean = (a: Run, b: Run): Run => ({ rps: (a.rps + b.rps) / 2, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99), non2xx: a.non2xx + b.non2xx });

function startChild(file: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(resolve(__dirname, file), [], { execArgv: ['-r', '@swc-node/register'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((res, rej) => {
    child.once('message', () => res(child));
    child.once('exit', (code) => rej(new Error(`${file} exited ${code}`)));
  });
}

/** Parse Server with the Cloud Code file, the `Item` class (public find) and the same rows as Plinth's `items`. */
async function startParse(controlUrl: string, logs: string): Promise<ChildProcess> {
  const url = new URL(controlUrl);
  const name = `${url.pathname.slice(1) || 'postgres'}_parse_fn`;
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  const child = await startChild('parse-server.ts', { PARSE_DB_URL: url.toString(), PARSE_PORT: '3952', PARSE_LOGS: logs, PARSE_SERVER_LOGS_FOLDER: logs, PARSE_CLOUD: resolve(__dirname, 'parse-cloud.js') });
  const schema = await fetch('http://127.0.0.1:3952/parse/schemas/Item', {
    method: 'POST',
    headers: { 'x-parse-application-id': PARSE_APP_ID, 'x-parse-master-key': PARSE_MASTER_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({
      className: 'Item',
      fields: { id: { type: 'Number' }, category: { type: 'String' }, name: { type: 'String' }, price: { type: 'Number' } },
      indexes: { id_1: { id: 1 } },
      classLevelPermissions: { find: { '*': true }, get: { '*': true }, count: { '*': true }, create: {}, update: {}, delete: {}, addField: {}, protectedFields: {} },
    }),
  });
  if (!schema.ok) throw new Error(`parse schema: ${schema.status} ${await schema.text()}`);
  const sql = new Client({ connectionString: url.toString() });
  await sql.connect();
  try {
    await sql.query(
      `INSERT INTO "Item" ("objectId", "createdAt", "updatedAt", id, category, name, price)
       SELECT substr(md5(g::text || random()::text), 1, 10), now(), now(), g, 'c' || (g % 50), 'item ' || g, g / 10.0 FROM generate_series(1, $1::int) g`,
      [ROWS],
    );
    await sql.query('ANALYZE "Item"');
  } finally {
    await sql.end();
  }
  return child;
}

async function deploy(base: string, ref: string, secret: string, name: string, source: string): Promise<void> {
  const r = await fetch(`${base}/v1/projects/${ref}/functions/${name}`, {
    method: 'PUT',
    headers: { apikey: secret, 'content-type': 'application/json' },
    body: JSON.stringify({ source, language: 'js', verify_jwt: false }),
  });
  if (!r.ok) throw new Error(`deploy ${name}: ${r.status} ${await r.text()}`);
}

async function timed(url: string, headers: Record<string, string>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await fetch(url, { headers });
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const duration = Number(process.env.BENCH_SECONDS ?? 5);
  const root = resolve(__dirname, '../..');
  const controlUrl = benchDatabaseUrl();
  // Concurrency well above the load: the bench measures serving, not 429s.
  const server = await startServer(3950, { FUNCTION_CONCURRENCY: '1000' });
  let bare: ChildProcess | undefined;
  let parse: ChildProcess | undefined;
  try {
    const { token, orgId } = await signup(server.base);
    await useBenchPlan(controlUrl, orgId);
    const p = await post<{ ref: string; keys: { publishable: string; secret: string } }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: 'fn-bench' }, token);
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
      },
      token,
    );
    const rules = await fetch(`${server.base}/v1/projects/${p.ref}/tables/items/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ role: 'anon', action: 'read', where: { category: { $ne: 'hidden' } } }]),
    });
    if (!rules.ok) throw new Error(`rules: ${rules.status} ${await rules.text()}`);
    const rows = Array.from({ length: ROWS }, (_, i) => ({ category: `c${i % 50}`, name: `item ${i + 1}`, price: i / 10 }));
    const seeded = await fetch(`${server.base}/p/${p.ref}/rest/v1/items`, { method: 'POST', headers: { apikey: p.keys.secret, 'content-type': 'application/json' }, body: JSON.stringify(rows) });
    if (seeded.status !== 201) throw new Error(`seed: ${seeded.status} ${await seeded.text()}`);

    await deploy(server.base, p.ref, p.keys.secret, 'hello', `export default { fetch() { return Response.json({ hello: 'world' }) } }`);
    await deploy(
      server.base,
      p.ref,
      p.keys.secret,
      'read',
      `export default { async fetch(req, env) { const id = new URL(req.url).searchParams.get('id'); const { data, error } = await env.db.from('items').select('id,category,name,price').eq('id', id); if (error) return Response.json(error, { status: 500 }); return Response.json(data); } }`,
    );

    const secret = readFileSync(`${root}/.plinth/bench/secret`, 'utf8').trim();
    bare = await startChild('bare-data-server.ts', {
      BARE_DB_URL: tenantLoginUrl(controlUrl, process.env.PLINTH_SECRET ?? secret),
      BARE_SCHEMA: `t_${p.ref}`,
      BARE_ROLE: `t_${p.ref}_data`,
      BARE_PORT: '3951',
      BARE_POOL_MAX: process.env.TENANT_POOL_MAX ?? '10',
    });
    parse = await startParse(controlUrl, `${root}/.plinth/bench/parse-logs`);

    const rnd = () => 1 + Math.floor(Math.random() * ROWS);
    const key = { apikey: p.keys.publishable };
    const parseHeaders = { 'x-parse-application-id': PARSE_APP_ID, 'x-parse-rest-api-key': PARSE_REST_KEY, 'content-type': 'application/json' };
    const scenarios: Array<{ name: string; plinth: Target; floor: Target; parse: Target }> = [
      {
        name: 'hello JSON',
        plinth: { base: server.base, method: 'GET', path: () => `/p/${p.ref}/functions/v1/hello`, headers: key },
        floor: { base: 'http://127.0.0.1:3951', method: 'GET', path: () => '/hello', headers: {} },
        parse: { base: 'http://127.0.0.1:3952', method: 'POST', path: () => '/parse/functions/hello', headers: parseHeaders, body: () => '{}' },
      },
      {
        name: 'one env.db read by id',
        plinth: { base: server.base, method: 'GET', path: () => `/p/${p.ref}/functions/v1/read?id=${rnd()}`, headers: key },
        floor: { base: 'http://127.0.0.1:3951', method: 'GET', path: () => `/items?id=eq.${rnd()}`, headers: {} },
        parse: { base: 'http://127.0.0.1:3952', method: 'POST', path: () => '/parse/functions/read', headers: parseHeaders, body: () => JSON.stringify({ id: rnd() }) },
      },
    ];
    // Each answers what it should before any load.
    for (const s of scenarios) {
      for (const t of [s.plinth, s.floor, s.parse]) {
        const r = await fetch(`${t.base}${t.path()}`, { method: t.method, headers: t.headers, body: t.body?.() });
        if (r.status !== 200) throw new Error(`${s.name} ${t.base}: ${r.status} ${await r.text()}`);
      }
    }
    for (const s of scenarios) for (const t of [s.plinth, s.floor, s.parse]) await run(t, 10, 2);

    console.log(`\nFunctions runtime, ${duration}s per run, autocannon in a separate process from every server`);
    console.log('conns  scenario                  server      req/s   p50 ms  p99 ms  non-2xx   (mean of 2 runs each)');
    for (const connections of (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number)) {
      for (const s of scenarios) {
        // Mirrored order (floor, plinth, parse, parse, plinth, floor): the machine's load drifts.
        const f1 = await run(s.floor, connections, duration);
        const pl1 = await run(s.plinth, connections, duration);
        const pa1 = await run(s.parse, connections, duration);
        const pa = mean(pa1, await run(s.parse, connections, duration));
        const pl = mean(pl1, await run(s.plinth, connections, duration));
        const f = mean(f1, await run(s.floor, connections, duration));
        const line = (who: string, r: Run) =>
          console.log(`${String(connections).padEnd(6)} ${s.name.padEnd(25)} ${who.padEnd(8)} ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${r.non2xx}`);
        line('floor', f);
        line('plinth', pl);
        line('parse', pa);
        console.log(`${''.padEnd(33)}Plinth/floor ${(pl.rps / f.rps).toFixed(2)} (target ≥ 0.50)   Plinth/Parse ${(pl.rps / pa.rps).toFixed(2)} (target ≥ 2)`);
      }
    }

    // Cold (first call after a deploy: new isolate, module compiled) against warm (the next call), sequentially.
    const deploys = Number(process.env.BENCH_COLD_DEPLOYS ?? 20);
    const cold: number[] = [];
    const warm: number[] = [];
    const floorHello: number[] = [];
    for (let i = 0; i < deploys; i++) {
      await deploy(server.base, p.ref, p.keys.secret, 'cold', `export default { fetch() { return Response.json({ hello: 'world', v: ${i} }) } }`);
      // The deploy invalidated the api's cache; the first call then finds the new version (a DB read) and its runner
      // compiles it; the second is warm.
      cold.push(await timed(`${server.base}/p/${p.ref}/functions/v1/cold`, key));
      warm.push(await timed(`${server.base}/p/${p.ref}/functions/v1/cold`, key));
      floorHello.push(await timed('http://127.0.0.1:3951/hello', {}));
    }
    const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
    console.log(`\nCold vs warm over ${deploys} deploys (sequential, one connection): cold p50 ${p50(cold).toFixed(2)} ms, warm p50 ${p50(warm).toFixed(2)} ms, floor p50 ${p50(floorHello).toFixed(2)} ms`);
    console.log(`  cold − warm ${(p50(cold) - p50(warm)).toFixed(2)} ms (target < 5)   warm − floor ${(p50(warm) - p50(floorHello)).toFixed(2)} ms (target < 1)`);
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
