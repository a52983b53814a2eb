/**
 * Density (issue 21): what serving many mostly idle projects costs. Projects are created through the API one after
 * another (each: project, one declared table `items`, an anon read rule, 5 rows), growing to each N of BENCH_N; at each
 * N the same load (BENCH_CONNECTIONS clients reading one row by key with the project's publishable key) runs against:
 *   ten     — 10 of the projects, at random (the baseline, measured again at every N in the same run),
 *   random  — any of the N projects, at random,
 *   skewed  — 1 % of the projects get 90 % of the requests, the rest share 10 %,
 * in mirrored order (ten, random, skewed, skewed, random, ten) so the machine's drift evens out.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/plinth_density BENCH_N=100,1000 npm run bench -- test/bench/density.bench.ts
 * The bench's database is dropped at the end (with the projects' roles, which live in the cluster, not the database)
 * unless BENCH_KEEP=1. It refuses the `postgres` and `test` databases.
 * Printed per N: provisioning p50/p95 (project create, table declare) over the projects created since the previous N;
 * req/s, p50, p99 per scenario and their ratios to `ten`; Postgres memory (sum of the private RSS, RssAnon, of this
 * database's backends — shared buffers are counted once, not per backend) and the api's RSS; control-plane lookups
 * per request (index and sequential scans of control.api_keys, control.projects, control.data_tables and
 * control.org_plans over the requests served: how often the api's caches missed) and the buffer hit rate.
 * Any non-2xx fails the bench.
 * Knobs: BENCH_N (default `100,1000`), BENCH_SECONDS (per run, default 8), BENCH_CONNECTIONS (default 16),
 * BENCH_SERVER_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`), BENCH_SERVER_ENV (JSON of extra server env),
 * BENCH_PROVISION_CONCURRENCY (projects created at once, default 1: latencies are then under that concurrency),
 * BENCH_KEEP=1 (keep the database and write the projects' keys to .plinth/bench/density-projects.json) and
 * BENCH_REUSE=1 (start from those projects instead of creating them again: for comparing server settings), and
 * BENCH_COMPARE (JSON of server env, e.g. `{"TENANT_STATEMENT_CACHE":"0"}`): a second app with those settings in the
 * same server process (twin-server.ts) on the same database; at each N the random load runs on both, alternating
 * (base, variant, variant, base), and the variant's ratio is printed: what one setting costs, measured side by side.
 * Measured (December 2026, 2 cores shared with 7 other test runs, load average 14–17: absolute figures swing 3×
 * between runs, so read the ratios within one run):
 *   before (main: keys and projects cached ≤ 5 s, catalog 30 s, every shape prepared), N=1000: random 0.51× of ten's
 *   req/s, p50 19 vs 5 ms, p99 1.89×; key and project lookups 0.06 each per request.
 *   after, N = 10 / 1000 / 4000 (provisioning 4 at a time): random 0.91× / 0.56× / 0.71×, skewed 1.40× / 0.58× /
 *   0.98×; key and project lookups ≤ 0.01 per request; Postgres private RSS 82 / 149 / 196 MiB, api RSS 190 / 221 /
 *   233 MiB. Side by side at N=1000 (BENCH_COMPARE, random load): KEY_CACHE_TTL_MS=5000 0.68× req/s;
 *   TENANT_STATEMENT_CACHE=0 1.01× (cold shapes already go unnamed); TENANT_POOL_MAX_USES=0 0.78× req/s, p99 2.2×;
 *   TENANT_POOL_MAX_USES=500 0.98×. In a quieter window (load 3–8): N=500 random 1.05× req/s, p99 1.32×; N=1000
 *   0.46×, p99 1.39×; N=2500 0.72×, p99 0.90×: beyond ~500 projects a connection no longer sees a shape twice within
 *   its window of 4 × TENANT_STATEMENT_CACHE recent shapes, so every random request is planned afresh. The api is ≥ 60 % idle under random load (CPU profile): what is left of the gap
 *   is Postgres planning unprepared shapes and filling each backend's catalog caches for every table it touches.
 */
import autocannon from 'autocannon';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { percentile, post, requireAll2xx, signup, startServer, startTwinServer, useBenchPlan } from './support';

interface Project {
  ref: string;
  key: string;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  requests: number;
}

const ROWS = 5;

function load(base: string, pick: () => Project, connections: number, duration: number): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    autocannon(
      {
        url: base,
        connections,
        duration,
        pipelining: 1,
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => {
              const p = pick();
              return { ...req, path: `/p/${p.ref}/rest/v1/items?id=eq.${1 + Math.floor(Math.random() * ROWS)}`, headers: { apikey: p.key } };
            },
          },
        ],
      },
      (err, r) => {
        if (err) return reject(err);
        try {
          resolveRun(requireAll2xx('density load', { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, requests: r.requests.total }));
        } catch (e) {
          reject(e);
        }
      },
    );
  });
}

function mean(a: Run, b: Run): Run {
  return { rps: (a.rps + b.rps) / 2, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99), non2xx: a.non2xx + b.non2xx, requests: a.requests + b.requests };
}

/** kB of a /proc/<pid>/status field, 0 when the process is gone. */
function procKb(pid: number, field: 'VmRSS' | 'RssAnon'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function postgresMemory(sql: Client): Promise<{ backends: number; anonMb: number; rssMb: number }> {
  const { rows } = await sql.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
  let anon = 0;
  let rss = 0;
  for (const { pid } of rows) {
    anon += procKb(pid, 'RssAnon');
    rss += procKb(pid, 'VmRSS');
  }
  return { backends: rows.length, anonMb: anon / 1024, rssMb: rss / 1024 };
}

/** Index + sequential scans of the control tables the request path reads when a cache misses. */
async function controlScans(sql: Client): Promise<Record<string, number>> {
  await new Promise((r) => setTimeout(r, 1500)); // backends report their table statistics at most once a second
  await sql.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await sql.query<{ relname: string; n: string }>(
    `SELECT relname, (coalesce(idx_scan, 0) + coalesce(seq_scan, 0))::text AS n FROM pg_stat_user_tables
      WHERE schemaname = 'control' AND relname IN ('api_keys', 'projects', 'data_tables', 'org_plans')`,
  );
  const hits = await sql.query<{ hit: string; read: string }>('SELECT blks_hit::text AS hit, blks_read::text AS read FROM pg_stat_database WHERE datname = current_database()');
  return { ...Object.fromEntries(rows.map((r) => [r.relname, Number(r.n)])), blks_hit: Number(hits.rows[0].hit), blks_read: Number(hits.rows[0].read) };
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('set DATABASE_URL to a database of the bench’s own, e.g. postgres://postgres@127.0.0.1:5432/plinth_density');
  const dbName = new URL(url).pathname.slice(1);
  if (!dbName || dbName === 'postgres' || dbName === 'test') throw new Error(`refusing to use (and drop) database "${dbName}"`);
  const steps = (process.env.BENCH_N ?? '100,1000').split(',').map(Number).sort((a, b) => a - b);
  const duration = Number(process.env.BENCH_SECONDS ?? 8);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
  const extraEnv = JSON.parse(process.env.BENCH_SERVER_ENV ?? '{}') as NodeJS.ProcessEnv;

  const compare = process.env.BENCH_COMPARE ? (JSON.parse(process.env.BENCH_COMPARE) as NodeJS.ProcessEnv) : undefined;
  const twin = compare ? await startTwinServer([{ port: 3960, env: extraEnv }, { port: 3961, env: { ...extraEnv, ...compare } }]) : undefined;
  const server = twin ? { base: twin.bases[0], pid: twin.pid, stop: twin.stop } : await startServer(3960, extraEnv);
  const sql = new Client({ connectionString: url });
  const projects: Project[] = [];
  const table: string[] = [];
  try {
    await sql.connect();
    const { token, orgId } = await signup(server.base);
    await useBenchPlan(url, orgId);
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    const saved = resolve(__dirname, '../../.plinth/bench/density-projects.json');
    if (process.env.BENCH_REUSE === '1' && existsSync(saved)) projects.push(...(JSON.parse(readFileSync(saved, 'utf8')) as Project[]));
    const concurrency = Number(process.env.BENCH_PROVISION_CONCURRENCY ?? 1);
    let prev = 0;
    for (const n of steps) {
      const createMs: number[] = [];
      const declareMs: number[] = [];
      let next = projects.length;
      const create = async (i: number) => {
        let t0 = performance.now();
        const p = await post<{ ref: string; keys: { publishable: string } }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: `d${i}` }, token);
        createMs.push(performance.now() - t0);
        t0 = performance.now();
        await post(`${server.base}/v1/projects/${p.ref}/tables`, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'body', type: 'text' }] }, token);
        declareMs.push(performance.now() - t0);
        const rules = await fetch(`${server.base}/v1/projects/${p.ref}/tables/items/rules`, { method: 'PUT', headers: auth, body: JSON.stringify([{ role: 'anon', action: 'read' }]) });
        if (!rules.ok) throw new Error(`rules: ${rules.status} ${await rules.text()}`);
        await sql.query(`INSERT INTO "t_${p.ref}".items SELECT g, 'row ' || g FROM generate_series(1, ${ROWS}) g`);
        projects.push({ ref: p.ref, key: p.keys.publishable });
        if (projects.length % 500 === 0) console.log(`  … ${projects.length} projects`);
      };
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) await create(next++);
        }),
      );
      if (createMs.length === 0) createMs.push(NaN);
      if (declareMs.length === 0) declareMs.push(NaN);
      if (process.env.BENCH_KEEP === '1') writeFileSync(saved, JSON.stringify(projects));
      const all = projects.slice(0, n);
      const ten = projects.slice(0, 10);
      const hot = projects.slice(0, Math.max(1, Math.floor(n / 100)));
      const pickTen = () => ten[Math.floor(Math.random() * ten.length)];
      const pickRandom = () => all[Math.floor(Math.random() * all.length)];
      const pickSkewed = () => (Math.random() < 0.9 ? hot[Math.floor(Math.random() * hot.length)] : all[Math.floor(Math.random() * all.length)]);
      // Warm-up: JIT, pools; every project touched once so cold start isn't what `random` measures.
      await load(server.base, pickTen, connections, 2);
      for (const base of twin ? twin.bases : [server.base]) {
        for (let i = 0; i < all.length; i += 50) {
          await Promise.all(all.slice(i, i + 50).map(async (p) => {
            const r = await fetch(`${base}/p/${p.ref}/rest/v1/items?id=eq.1`, { headers: { apikey: p.key } });
            if (r.status !== 200) throw new Error(`warm-up ${p.ref}: ${r.status}`);
            await r.arrayBuffer();
          }));
        }
      }
      const before = await controlScans(sql);
      const t1 = await load(server.base, pickTen, connections, duration);
      const r1 = await load(server.base, pickRandom, connections, duration);
      const mid = await controlScans(sql);
      const s1 = await load(server.base, pickSkewed, connections, duration);
      const s = mean(s1, await load(server.base, pickSkewed, connections, duration));
      const r = mean(r1, await load(server.base, pickRandom, connections, duration));
      const t = mean(t1, await load(server.base, pickTen, connections, duration));
      if (twin) {
        const variant = twin.bases[1];
        await load(variant, pickTen, connections, 2);
        const a1 = await load(server.base, pickRandom, connections, duration);
        const b1 = await load(variant, pickRandom, connections, duration);
        const b = mean(b1, await load(variant, pickRandom, connections, duration));
        const a = mean(a1, await load(server.base, pickRandom, connections, duration));
        console.log(`  compare random: base ${a.rps.toFixed(0)} req/s p50 ${a.p50} p99 ${a.p99}; variant ${JSON.stringify(compare)} ${b.rps.toFixed(0)} req/s p50 ${b.p50} p99 ${b.p99}; variant/base ${(b.rps / a.rps).toFixed(2)}× req/s, p99 ${(b.p99 / Math.max(1, a.p99)).toFixed(2)}×`);
      }
      const pg = await postgresMemory(sql);
      const apiMb = server.pid ? procKb(server.pid, 'VmRSS') / 1024 : 0;
      const after = await controlScans(sql);
      const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
      const c = sorted(createMs);
      const d = sorted(declareMs);
      // Lookups per request in the first ten+random pair (mostly random's misses: ten's projects stay cached).
      const reqs = t1.requests + r1.requests;
      const per = (k: string) => ((mid[k] - before[k]) / reqs).toFixed(3);
      const hitRate = (after.blks_hit - before.blks_hit) / Math.max(1, after.blks_hit - before.blks_hit + after.blks_read - before.blks_read);
      console.log(`\nN=${n} (projects ${prev + 1}–${n} created now), ${connections} connections, ${duration}s per run, mean of 2 runs each`);
      console.log(`  provisioning: create p50 ${percentile(c, 50).toFixed(1)} ms p95 ${percentile(c, 95).toFixed(1)} ms; declare table p50 ${percentile(d, 50).toFixed(1)} ms p95 ${percentile(d, 95).toFixed(1)} ms`);
      for (const [name, x] of [['ten', t], ['random', r], ['skewed', s]] as const) {
        console.log(`  ${name.padEnd(7)} ${x.rps.toFixed(0).padStart(6)} req/s  p50 ${String(x.p50).padStart(4)} ms  p99 ${String(x.p99).padStart(4)} ms   vs ten: ${(x.rps / t.rps).toFixed(2)}× req/s, p99 ${(x.p99 / Math.max(1, t.p99)).toFixed(2)}×`);
      }
      console.log(`  postgres: ${pg.backends} backends, private RSS ${pg.anonMb.toFixed(0)} MiB (RSS incl. shared ${pg.rssMb.toFixed(0)} MiB); api RSS ${apiMb.toFixed(0)} MiB`);
      console.log(`  control lookups per request (ten+random): api_keys ${per('api_keys')}, projects ${per('projects')}, data_tables ${per('data_tables')}, org_plans ${per('org_plans')}; buffer hit rate ${(hitRate * 100).toFixed(2)} %`);
      table.push(`| ${n} | ${percentile(c, 50).toFixed(0)}/${percentile(c, 95).toFixed(0)} | ${t.rps.toFixed(0)} ${t.p50}/${t.p99} | ${r.rps.toFixed(0)} (${(r.rps / t.rps).toFixed(2)}×) ${r.p50}/${r.p99} | ${s.rps.toFixed(0)} (${(s.rps / t.rps).toFixed(2)}×) ${s.p50}/${s.p99} | ${pg.anonMb.toFixed(0)} | ${apiMb.toFixed(0)} |`);
      prev = n;
    }
    console.log('\n| N | create p50/p95 ms | ten req/s p50/p99 | random req/s (vs ten) p50/p99 | skewed req/s (vs ten) p50/p99 | PG private MiB | api MiB |');
    console.log('|---|---|---|---|---|---|---|');
    for (const line of table) console.log(line);
  } finally {
    await server.stop();
    await sql.end().catch(() => undefined);
    if (process.env.BENCH_KEEP !== '1') await dropBenchDatabase(url, dbName);
  }
}

/** Drops the bench's database, then the projects' roles (cluster-wide: they outlive the database). */
async function dropBenchDatabase(url: string, dbName: string): Promise<void> {
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const db = new Client({ connectionString: url });
  let roles: string[] = [];
  try {
    await db.connect();
    const { rows } = await db.query<{ rolname: string }>(
      `SELECT r.rolname FROM pg_roles r JOIN control.projects p ON r.rolname IN ('t_' || p.ref || '_owner', 't_' || p.ref || '_data', 't_' || p.ref || '_auth')`,
    );
    roles = rows.map((r) => r.rolname);
  } catch {
    /* database already gone */
  } finally {
    await db.end().catch(() => undefined);
  }
  const admin = new Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${dbName.replace(/"/g, '""')}" WITH (FORCE)`);
    for (let i = 0; i < roles.length; i += 500) {
      await admin.query(roles.slice(i, i + 500).map((r) => `DROP ROLE IF EXISTS "${r}";`).join('\n'));
    }
    console.log(`dropped database ${dbName} and ${roles.length} project roles`);
  } finally {
    await admin.end();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
