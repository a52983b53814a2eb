/**
 * Auth runtime throughput: password sign-ins/s (argon2id at the runtime's setting, printed), refresh-token
 * exchanges/s (each a rotation), and the cost of an end-user token on a data request (with vs without, side by
 * side), plus the first-sight ES256 verification cost measured in-process.
 *   DATABASE_URL=postgres://… npm run bench -- test/bench/auth.bench.ts   (a fresh database is created per run)
 *
 * "Per core" three ways, since the load generator and Postgres share this machine's cores with the server:
 *  - req/s ÷ available cores (everything on the machine counted, the most conservative);
 *  - CPU per request: the server's and its Postgres backends' CPU time (/proc) over the requests served, and
 *    1000 ms ÷ that = requests/s one core sustains (insensitive to other work on the machine);
 *  - the server pinned to CPU 0 (`taskset`), the load generator to another core, Postgres unpinned.
 */
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { jwtVerify, SignJWT } from 'jose';
import { Client } from 'pg';
import { hashPassword, PASSWORD_HASH_PARAMS, verifyPassword } from '@plinth/common';
import { benchDatabaseUrl, post, requireAll2xx, signup, startServer } from './support';

interface Run {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** CPU ms per request, server + its Postgres backends, when /proc shows them. */
  cpuMs?: { server: number; pg: number };
}

function run(opts: autocannon.Options): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon({ pipelining: 1, ...opts }, (err, r) => {
      if (err) return reject(err);
      try {
        resolve(requireAll2xx(`${opts.method ?? 'GET'} ${String(opts.url)}`, { rps: r.requests.average, total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx }));
      } catch (e) {
        reject(e);
      }
    });
  });
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** User + system CPU ms of a process (all its threads), from /proc; undefined once it has exited. */
function cpuOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** The pid listening on a local TCP port (the bench server). */
function listenerPid(port: number): number | null {
  try {
    const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`]).toString();
    const m = /pid=(\d+)/.exec(out);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Runs `fn` and charges the CPU the server and its database backends spent to each of its `count()` requests. */
async function withCpu(server: number | null, db: Client | null, fn: () => Promise<Run>): Promise<Run> {
  const backends = async () =>
    db ? ((await db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows as Array<{ pid: number }>).map((r) => r.pid) : [];
  const start = new Map((await backends()).map((pid) => [pid, cpuOf(pid) ?? 0]));
  const s0 = server ? cpuOf(server) : undefined;
  const r = await fn();
  const s1 = server ? cpuOf(server) : undefined;
  // Backends opened during the run started from 0; one that closed during it counts what it had at the start.
  let pg = 0;
  for (const pid of new Set([...start.keys(), ...(await backends())])) pg += (cpuOf(pid) ?? start.get(pid) ?? 0) - (start.get(pid) ?? 0);
  if (s0 === undefined || s1 === undefined || !r.total) return r;
  return { ...r, cpuMs: { server: (s1 - s0) / r.total, pg: pg / r.total } };
}

function setAffinity(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

async function json<T>(url: string, init: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function main(): Promise<void> {
  const duration = Number(process.env.BENCH_SECONDS ?? 8);
  const base = process.env.DATABASE_URL;
  const extra: NodeJS.ProcessEnv = { RATE_LIMITS_ENABLED: 'false', METERING_ENABLED: 'true' };
  if (base) {
    const u = new URL(base);
    u.pathname = `/plinth_bench_auth_${Date.now()}`;
    extra.DATABASE_URL = u.toString();
  }
  // argon2id alone at the runtime's setting (@plinth/common's password hashing), one at a time, in this process.
  const hashed = await hashPassword('Bench-Passw0rd!');
  for (let i = 0; i < 5; i++) await verifyPassword(hashed, 'Bench-Passw0rd!');
  const verifies = 100;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < verifies; i++) await verifyPassword(hashed, 'Bench-Passw0rd!');
  const argonMs = (performance.now() - t0) / verifies;
  const argonCpu = process.cpuUsage(c0);
  const argonCpuMs = (argonCpu.user + argonCpu.system) / 1000 / verifies;

  const port = Number(process.env.BENCH_PORT ?? 3957);
  const server = await startServer(port, extra);
  const serverPid = listenerPid(port);
  const cores = availableParallelism();
  let db: Client | null = new Client({ connectionString: extra.DATABASE_URL ?? benchDatabaseUrl() });
  await db.connect().catch(() => (db = null));
  try {
    const { token, orgId } = await signup(server.base);
    const p = await post<{ ref: string; keys: { publishable: string } }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: 'auth-bench' }, token);
    const relaxed = 10_000;
    await json(`${server.base}/v1/projects/${p.ref}/auth/config`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        email_confirm_required: false,
        rate_limits: { sign_in_per_ip: relaxed, password_per_account: relaxed, token_refresh_per_ip: relaxed, verify_per_ip: relaxed },
      }),
    });
    const auth = `${server.base}/p/${p.ref}/auth/v1`;
    const headers = { apikey: p.keys.publishable, 'content-type': 'application/json' };
    const email = `bench-user-${Date.now()}@example.com`;
    const password = 'Bench-Passw0rd!';
    const session = await json<{ access_token: string; refresh_token: string }>(`${auth}/signup`, { method: 'POST', headers, body: JSON.stringify({ email, password }) });

    console.log(
      `\nAuth runtime, ${duration}s per run, ${cores} cores available (server, Postgres and load generator share them), load average ${loadavg()[0].toFixed(2)}, ` +
        `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'} on the server, password hashes argon2id ${PASSWORD_HASH_PARAMS}`,
    );
    console.log('what                                         conns     req/s  ÷cores   p50 ms  p99 ms  non-2xx   CPU ms/req (server+pg)  → req/s per core of CPU');
    const line = (name: string, c: number, r: Run, perCore = r.rps / cores) => {
      const cpu = r.cpuMs
        ? `${r.cpuMs.server.toFixed(2).padStart(7)} + ${r.cpuMs.pg.toFixed(2).padStart(5)}  ${(1000 / (r.cpuMs.server + r.cpuMs.pg)).toFixed(0).padStart(20)}`
        : '';
      console.log(
        `${name.padEnd(44)} ${String(c).padStart(5)}  ${r.rps.toFixed(0).padStart(8)}  ${perCore.toFixed(0).padStart(6)}  ${String(r.p50).padStart(7)}  ${String(r.p99).padStart(6)}  ${String(r.non2xx).padStart(7)}   ${cpu}`,
      );
    };

    const signIn = { url: `${auth}/token?grant_type=password`, method: 'POST' as const, headers, body: JSON.stringify({ email, password }) };
    await run({ ...signIn, connections: 2, duration: 2 });
    const signIns: Run[] = [];
    for (const c of [1, 2, 4, 16]) {
      signIns.push(await withCpu(serverPid, db, () => run({ ...signIn, connections: c, duration })));
      line('POST /token?grant_type=password', c, signIns[signIns.length - 1]);
    }
    const serverCpu = signIns.flatMap((r) => (r.cpuMs ? [r.cpuMs.server] : []));
    if (serverCpu.length) {
      const low = Math.min(...serverCpu);
      console.log(`${''.padEnd(44)} server CPU per sign-in ≥ ${low.toFixed(1)} ms, of which argon2 verify ≈ ${argonCpuMs.toFixed(1)} ms (measured alone)`);
    }
    if (serverPid && cores > 1) {
      // The server on CPU 0 alone, this process (the load generator) on the others; Postgres goes where it likes.
      setAffinity(serverPid, '0');
      setAffinity(process.pid, `1-${cores - 1}`);
      try {
        for (const c of [4, 16]) {
          const r = await withCpu(serverPid, db, () => run({ ...signIn, connections: c, duration }));
          line('  … server pinned to CPU 0 (per core = req/s)', c, r, r.rps);
        }
      } finally {
        setAffinity(serverPid, `0-${cores - 1}`);
        setAffinity(process.pid, `0-${cores - 1}`);
      }
    }

    // Refresh: each worker chains its own session (a refresh token is single-use).
    for (const c of [1, 16]) {
      const tokens = await Promise.all(
        Array.from({ length: c }, () => json<{ refresh_token: string }>(`${auth}/token?grant_type=password`, { method: 'POST', headers, body: JSON.stringify({ email, password }) })),
      );
      const refreshes = async (): Promise<Run> => {
        let done = 0;
        let failed = 0;
        const lat: number[] = [];
        const until = Date.now() + duration * 1000;
        await Promise.all(
          tokens.map(async (t) => {
            let rt = t.refresh_token;
            while (Date.now() < until) {
              const start = performance.now();
              const res = await fetch(`${auth}/token?grant_type=refresh_token`, { method: 'POST', headers, body: JSON.stringify({ refresh_token: rt }) });
              lat.push(performance.now() - start);
              if (!res.ok) {
                failed++;
                break;
              }
              rt = ((await res.json()) as { refresh_token: string }).refresh_token;
              done++;
            }
          }),
        );
        lat.sort((x, y) => x - y);
        return requireAll2xx('POST /token?grant_type=refresh_token', { rps: done / duration, total: done, p50: Math.round(lat[Math.floor(lat.length / 2)]), p99: Math.round(lat[Math.floor(lat.length * 0.99)]), non2xx: failed });
      };
      line('POST /token?grant_type=refresh_token', c, await withCpu(serverPid, db, refreshes));
    }

    // Token verification on a data request: the same route with and without the user's access token, in alternating
    // slices so that other load on the machine falls on both alike; summed per side.
    const rest = `${server.base}/p/${p.ref}/rest/v1/`;
    const withToken = { apikey: p.keys.publishable, authorization: `Bearer ${session.access_token}` };
    await run({ url: rest, headers: withToken, connections: 10, duration: 2 });
    const slices = 4;
    const slice = Math.max(1, Math.round(duration / slices));
    const sum = (rs: Run[]): Run => {
      const total = rs.reduce((a, r) => a + r.total, 0);
      const cpu = (k: 'server' | 'pg') => rs.reduce((a, r) => a + (r.cpuMs?.[k] ?? 0) * r.total, 0) / total;
      return {
        rps: total / (slice * rs.length),
        total,
        p50: Math.max(...rs.map((r) => r.p50)),
        p99: Math.max(...rs.map((r) => r.p99)),
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        cpuMs: rs.every((r) => r.cpuMs) ? { server: cpu('server'), pg: cpu('pg') } : undefined,
      };
    };
    for (const c of [10, 50]) {
      const anon: Run[] = [];
      const user: Run[] = [];
      for (let i = 0; i < slices; i++) {
        anon.push(await withCpu(serverPid, db, () => run({ url: rest, headers: { apikey: p.keys.publishable }, connections: c, duration: slice })));
        user.push(await withCpu(serverPid, db, () => run({ url: rest, headers: withToken, connections: c, duration: slice })));
      }
      const a = sum(anon);
      const u = sum(user);
      line('GET /rest/v1/ publishable key only (anon)', c, a);
      line('GET /rest/v1/ + user access token', c, u);
      const cpuCost = a.cpuMs && u.cpuMs ? `, ${((u.cpuMs.server + u.cpuMs.pg - a.cpuMs.server - a.cpuMs.pg) * 1000).toFixed(0)} µs CPU per request` : '';
      console.log(`${''.padEnd(44)} token cost: ${((1 - u.rps / a.rps) * 100).toFixed(1)} % of throughput${cpuCost} (max p50/p99 of ${slices} slices)`);
    }
  } finally {
    await (db as Client | null)?.end();
    await server.stop();
  }

  console.log(
    `argon2id verify alone (${PASSWORD_HASH_PARAMS}), in-process before the server started: ${argonMs.toFixed(1)} ms wall, ${argonCpuMs.toFixed(1)} ms CPU → at most ${(1000 / argonCpuMs).toFixed(0)} sign-ins/s per core`,
  );

  // First sight of a token (not yet in the verified-token cache): one ES256 signature check.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwt = await new SignJWT({ aud: 'authenticated', session_id: 'x' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setSubject('u').setIssuer('i').setExpirationTime('1h').sign(privateKey);
  const n = 5000;
  for (let i = 0; i < 500; i++) await jwtVerify(jwt, publicKey, { algorithms: ['ES256'], audience: 'authenticated', issuer: 'i' });
  const start = performance.now();
  for (let i = 0; i < n; i++) await jwtVerify(jwt, publicKey, { algorithms: ['ES256'], audience: 'authenticated', issuer: 'i' });
  console.log(`ES256 jwtVerify (first sight, uncached): ${(((performance.now() - start) / n) * 1000).toFixed(1)} µs per token, in-process`);
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
