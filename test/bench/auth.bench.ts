/**
 * Auth runtime throughput: password sign-ins/s (argon2id m=19 MiB, t=2, p=1), refresh-token exchanges/s (each a
 * rotation), and the cost of an end-user token on a data request (with vs without, side by side), plus the
 * first-sight ES256 verification cost measured in-process.
 *   DATABASE_URL=postgres://… npm run bench -- test/bench/auth.bench.ts   (a fresh database is created per run)
 */
import { Algorithm, hash, verify } from '@node-rs/argon2';
import autocannon from 'autocannon';
import { generateKeyPairSync } from 'node:crypto';
import { cpus } from 'node:os';
import { jwtVerify, SignJWT } from 'jose';
import { post, signup, startServer } from './support';

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

function run(opts: autocannon.Options): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon({ pipelining: 1, ...opts }, (err, r) => {
      if (err) return reject(err);
      resolve({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx });
    });
  });
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
  const server = await startServer(Number(process.env.BENCH_PORT ?? 3957), extra);
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

    console.log(`\nAuth runtime, ${duration}s per run, ${cpus().length} CPUs, UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'} on the server`);
    console.log('what                                         conns     req/s   p50 ms  p99 ms  non-2xx');
    const line = (name: string, c: number, r: Run) =>
      console.log(`${name.padEnd(44)} ${String(c).padStart(5)}  ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${r.non2xx}`);

    const signIn = { url: `${auth}/token?grant_type=password`, method: 'POST' as const, headers, body: JSON.stringify({ email, password }) };
    await run({ ...signIn, connections: 2, duration: 2 });
    for (const c of [1, 4, 16]) line('POST /token?grant_type=password', c, await run({ ...signIn, connections: c, duration }));

    // Refresh: each worker chains its own session (a refresh token is single-use).
    for (const c of [1, 16]) {
      const tokens = await Promise.all(
        Array.from({ length: c }, () => json<{ refresh_token: string }>(`${auth}/token?grant_type=password`, { method: 'POST', headers, body: JSON.stringify({ email, password }) })),
      );
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
      line('POST /token?grant_type=refresh_token', c, { rps: done / duration, p50: Math.round(lat[Math.floor(lat.length / 2)]), p99: Math.round(lat[Math.floor(lat.length * 0.99)]), non2xx: failed });
    }

    // Token verification on a data request: the same route with and without the user's access token, alternately.
    const rest = `${server.base}/p/${p.ref}/rest/v1/`;
    const withToken = { apikey: p.keys.publishable, authorization: `Bearer ${session.access_token}` };
    await run({ url: rest, headers: withToken, connections: 10, duration: 2 });
    for (const c of [10, 50]) {
      const anon = await run({ url: rest, headers: { apikey: p.keys.publishable }, connections: c, duration });
      const user = await run({ url: rest, headers: withToken, connections: c, duration });
      line('GET /rest/v1/ publishable key only (anon)', c, anon);
      line('GET /rest/v1/ + user access token', c, user);
      console.log(`${''.padEnd(44)} token cost: ${((1 - user.rps / anon.rps) * 100).toFixed(1)} % of throughput`);
    }
  } finally {
    await server.stop();
  }

  // argon2id alone at the runtime's setting (libs/runtime-auth/src/password.ts), sequential on one core.
  const hashed = await hash('Bench-Passw0rd!', { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
  for (let i = 0; i < 5; i++) await verify(hashed, 'Bench-Passw0rd!');
  const runs = 100;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await verify(hashed, 'Bench-Passw0rd!');
  const perMs = (performance.now() - t0) / runs;
  console.log(`argon2id verify (m=19456, t=2, p=1): ${perMs.toFixed(1)} ms → ${(1000 / perMs).toFixed(0)} sign-ins/s per core (target ≥ 50)`);

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
