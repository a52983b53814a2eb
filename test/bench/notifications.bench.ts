/**
 * Notifications: webhook deliveries/s through Plinth (send → outbox → fan-out job → delivery job: signing, SSRF-guarded
 * POST, attempt log) against a bare loop POSTing the same payloads to the same receiver with the same concurrency
 * (the floor), alternating, side by side; then send → in-app SSE receipt latency with 1,000 open streams, and the
 * api's memory per open stream.
 *   DATABASE_URL=postgres://… npm run bench -- test/bench/notifications.bench.ts
 * The server runs its jobs in-process (no REDIS_URL), as the embedded default does; JOBS_CONCURRENCY (default 50)
 * is both its job concurrency and the bare loop's.
 */
import { readFileSync } from 'node:fs';
import { createServer, get, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { benchDatabaseUrl, percentile, post, signup, startServer, useBenchPlan } from './support';

const ENDPOINTS = 10;
const SENDS = Number(process.env.NOTIFY_BENCH_SENDS ?? 300);
const LISTENERS = Number(process.env.NOTIFY_BENCH_LISTENERS ?? 1000);
const PROBES = Number(process.env.NOTIFY_BENCH_PROBES ?? 200);
const CONCURRENCY = Number(process.env.JOBS_CONCURRENCY ?? 50);

function rssKb(pid: number | null): number {
  if (pid === null) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function call(url: string, init: RequestInit & { expect?: number }): Promise<Response> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res;
}

async function main(): Promise<void> {
  // The receiver: counts deliveries, answers 200 at once.
  let received = 0;
  let waiter: (() => void) | undefined;
  let target = Infinity;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200).end('ok');
      if (++received >= target) waiter?.();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const untilReceived = (n: number) =>
    new Promise<void>((resolve) => {
      target = n;
      waiter = resolve;
      if (received >= n) resolve();
    });

  // A free port of our own (other benches on this machine use the fixed ones).
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const server = await startServer(port, { REDIS_URL: '', JOBS_POLL_MS: '10', JOBS_CONCURRENCY: String(CONCURRENCY), OUTBOUND_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'error' });
  try {
    const base = server.base;
    const owner = await signup(base);
    await useBenchPlan(benchDatabaseUrl(), owner.orgId);
    // The bench plan names no send rate: lift it (the plan-based send limit would refuse the delivery rounds' sends).
    const sql = new Client({ connectionString: benchDatabaseUrl() });
    await sql.connect();
    await sql.query(`UPDATE control.plans SET limits = limits || '{"notification_sends_per_minute": 100000000}'::jsonb WHERE id = 'bench'`);
    await sql.end();
    const project = await post<{ ref: string; keys: { publishable: string; secret: string } }>(`${base}/v1/orgs/${owner.orgId}/projects`, { name: 'notify bench' }, owner.token);
    const { ref } = project;
    const sk = project.keys.secret;
    const pk = project.keys.publishable;
    const auth = { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' };
    for (let i = 0; i < ENDPOINTS; i++) {
      await call(`${base}/v1/projects/${ref}/webhooks`, { method: 'POST', headers: auth, body: JSON.stringify({ url: hookUrl, events: ['notification.sent'] }) });
    }
    const send = (body: object) => call(`${base}/p/${ref}/notifications/v1/send`, { method: 'POST', headers: { apikey: sk, 'content-type': 'application/json' }, body: JSON.stringify(body) });

    // ── webhook deliveries/s ──
    const payload = JSON.stringify({ type: 'notification.sent', timestamp: new Date().toISOString(), data: { message_id: '00000000-0000-0000-0000-000000000000', to: { user_id: '00000000-0000-0000-0000-000000000001' }, content: { title: 'bench' }, data: { n: 1 } } });
    const bare = async (n: number): Promise<number> => {
      const start = received;
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < n) {
            next++;
            const r = await fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'msg_x', 'webhook-timestamp': '0', 'webhook-signature': 'v1,x' }, body: payload });
            if (!r.ok) throw new Error(`bare POST: ${r.status}`);
            await r.text();
          }
        }),
      );
      if (received - start !== n) throw new Error('bare loop lost deliveries');
      return n / ((performance.now() - t0) / 1000);
    };
    const plinth = async (sends: number): Promise<number> => {
      const n = sends * ENDPOINTS;
      const goal = untilReceived(received + n);
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next < sends) {
            next++;
            await send({ to: { user_id: '00000000-0000-0000-0000-000000000001' }, content: { title: 'bench' }, data: { n: next }, channels: ['webhook'] });
          }
        }),
      );
      await goal;
      return n / ((performance.now() - t0) / 1000);
    };
    await bare(200);
    await plinth(20); // warm-up
    const rounds: Array<{ bare: number; plinth: number }> = [];
    for (let r = 0; r < 2; r++) rounds.push({ bare: await bare(SENDS * ENDPOINTS), plinth: await plinth(SENDS) });
    const avg = (k: 'bare' | 'plinth') => rounds.reduce((s, x) => s + x[k], 0) / rounds.length;
    console.log(`webhook deliveries (${SENDS} sends × ${ENDPOINTS} endpoints, concurrency ${CONCURRENCY}, 2 alternating rounds)`);
    for (const [i, x] of rounds.entries()) console.log(`  round ${i + 1}: bare loop ${x.bare.toFixed(0)}/s   through Plinth ${x.plinth.toFixed(0)}/s   ratio ${((x.plinth / x.bare) * 100).toFixed(1)} %`);
    console.log(`  mean: bare ${avg('bare').toFixed(0)}/s, Plinth ${avg('plinth').toFixed(0)}/s, ${((avg('plinth') / avg('bare')) * 100).toFixed(1)} % of the floor (target ≥ 50 %)`);

    // ── SSE: 1,000 listeners, send → receipt latency, memory per stream ──
    await call(`${base}/v1/projects/${ref}/auth/config`, {
      method: 'PATCH',
      headers: auth,
      body: JSON.stringify({ anonymous_sign_ins: true, rate_limits: { anonymous_per_ip_per_hour: 100_000, sign_in_per_ip: 100_000, token_refresh_per_ip: 100_000 } }),
    });
    const users: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < LISTENERS; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, LISTENERS - i) }, async () => {
          const r = (await (await call(`${base}/p/${ref}/auth/v1/signup`, { method: 'POST', headers: { apikey: pk, 'content-type': 'application/json' }, body: '{}' })).json()) as { access_token: string; user: { id: string } };
          return { id: r.user.id, token: r.access_token };
        }),
      );
      users.push(...batch);
    }
    console.log(`  ${users.length} end users signed up (anonymous); opening their streams…`);
    await new Promise((r) => setTimeout(r, 2000));
    const rssBefore = rssKb(server.pid);
    const arrivals = new Map<string, (at: number, wall: number, entryCreatedAt: string | undefined) => void>();
    const streams: IncomingMessage[] = [];
    const url = new URL(`${base}/p/${ref}/notifications/v1/inbox/stream`);
    const openStream = (u: { id: string; token: string }) =>
      new Promise<void>((resolve, reject) => {
            const req = get({ host: url.hostname, port: url.port, path: url.pathname, agent: false, headers: { apikey: pk, authorization: `Bearer ${u.token}` } }, (res) => {
              req.setTimeout(0); // open: from now on only the server's heartbeats keep it busy
              if (res.statusCode !== 200) return reject(new Error(`stream: ${res.statusCode}`));
              streams.push(res);
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                if (!chunk.includes('event: notification')) return;
                const at = performance.now();
                const wall = Date.now();
                const data = /^data: (.*)$/m.exec(chunk)?.[1];
                arrivals.get(u.id)?.(at, wall, data ? (JSON.parse(data) as { created_at: string }).created_at : undefined);
              });
              resolve();
            });
            req.on('error', reject);
            req.setTimeout(15_000, () => req.destroy(new Error('stream did not open within 15 s')));
          });
    // In batches, as clients arrive in practice (and so the load generator doesn't flood the accept queue).
    for (let i = 0; i < users.length; i += 50) await Promise.all(users.slice(i, i + 50).map(openStream));
    await new Promise((r) => setTimeout(r, 3000));
    const rssAfter = rssKb(server.pid);
    const latencies: number[] = [];
    // Where each probe's time went (wall clock, ms; server and bench share the machine's clock): the send request
    // until its message was stamped, until the 202 arrived, from the message until its inbox entry was stamped (a
    // job system pick-up when a job writes the entry; 0 when the send does), and from there until the stream
    // delivered it (the writing transaction's commit, NOTIFY, the stream's read and write).
    const stages = { 'request → message': [] as number[], 'message → 202': [] as number[], 'message → entry': [] as number[], 'entry → SSE receipt': [] as number[] };
    for (let i = 0; i < PROBES; i++) {
      const u = users[Math.floor(Math.random() * users.length)];
      const got = new Promise<{ at: number; wall: number; entryAt: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`probe ${i}: no event within 10 s`)), 10_000);
        arrivals.set(u.id, (at, wall, entryCreatedAt) => {
          clearTimeout(timer);
          resolve({ at, wall, entryAt: entryCreatedAt ? Date.parse(entryCreatedAt) : NaN });
        });
      });
      const t0 = performance.now();
      const wall0 = Date.now();
      const res = await send({ to: { user_id: u.id }, content: { title: `probe ${i}` } });
      const wall202 = Date.now();
      const messageAt = Date.parse(((await res.json()) as { created_at: string }).created_at);
      const r = await got;
      latencies.push(r.at - t0);
      stages['request → message'].push(messageAt - wall0);
      stages['message → 202'].push(wall202 - messageAt);
      stages['message → entry'].push(r.entryAt - messageAt);
      stages['entry → SSE receipt'].push(r.wall - r.entryAt);
      arrivals.delete(u.id);
    }
    latencies.sort((a, b) => a - b);
    console.log(`send → SSE receipt with ${streams.length} open streams (${PROBES} probes, one at a time)`);
    console.log(`  p50 ${percentile(latencies, 50).toFixed(1)} ms   p99 ${percentile(latencies, 99).toFixed(1)} ms   max ${latencies[latencies.length - 1].toFixed(1)} ms (target p99 < 100 ms)`);
    for (const [name, xs] of Object.entries(stages)) {
      xs.sort((a, b) => a - b);
      console.log(`    ${name.padEnd(24)} p50 ${percentile(xs, 50).toFixed(0)} ms   p99 ${percentile(xs, 99).toFixed(0)} ms   max ${xs[xs.length - 1].toFixed(0)} ms`);
    }
    console.log(`  api RSS ${(rssBefore / 1024).toFixed(1)} MiB → ${(rssAfter / 1024).toFixed(1)} MiB with the streams open: ${((rssAfter - rssBefore) / streams.length).toFixed(1)} KiB per stream`);
    for (const s of streams) s.destroy();
  } finally {
    await server.stop();
    receiver.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
