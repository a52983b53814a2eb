/**
 * Cost of metering + rate limiting on the gateway: two api processes on the same database, one with
 * METERING_ENABLED/RATE_LIMITS_ENABLED on and one with both off, hit alternately with the same load so both see
 * the same machine state. Target: < 5 % fewer requests/s with them on.
 *   DATABASE_URL=postgres://… [REDIS_URL=redis://…/5] [BENCH_SECONDS=6] [BENCH_ROUNDS=2] node -r @swc-node/register test/bench/metering.bench.ts
 * With REDIS_URL the rate limits go through Redis (one Lua call per batch of concurrent requests); without, in memory.
 *
 * Requests/s on a busy machine swing by more than the effect measured, so it also reports the CPU each server
 * spent per request (Linux /proc; user + system), and with Redis the Redis server's CPU per request of the "on"
 * runs less its idle rate in the "off" runs (it includes any other traffic to that Redis). Other load disturbs
 * that less, not nothing: on a shared machine run it a few times. Rounds alternate off/on and on/off, so a
 * drift in machine load weighs on both alike.
 */
import autocannon from 'autocannon';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { post, signup, startServer, useBenchPlan } from './support';

interface Run {
  rps: number;
  p99: number;
  sent: number;
  completed: number;
  /** Server CPU seconds used during the run (null when /proc isn't there). */
  cpu: number | null;
  /** Redis server CPU seconds used during the run (null without REDIS_URL). */
  redisCpu: number | null;
  seconds: number;
}

function load(url: string, headers: Record<string, string>, connections: number, duration: number) {
  return new Promise<{ rps: number; p99: number; sent: number; completed: number }>((resolve, reject) => {
    // autocannon ships no types; its result shape is documented in its README.
    type Result = { requests: { average: number; total: number; sent: number }; latency: { p99: number } };
    autocannon({ url, headers, connections, duration }, (err: Error | null, r: Result) => {
      if (err) return reject(err);
      resolve({ rps: r.requests.average, p99: r.latency.p99, sent: r.requests.sent, completed: r.requests.total });
    });
  });
}

/** The api process this benchmark started on `port` (a child of ours whose environment has PORT=port). */
function serverPid(port: number): number | null {
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid !== process.pid) continue;
        if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`PORT=${port}`)) return Number(d);
      } catch {
        /* gone, or not ours */
      }
    }
  } catch {
    /* no /proc */
  }
  return null;
}

/** User + system CPU seconds a process has used (fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

async function redisCpuSeconds(redis: Redis | null): Promise<number | null> {
  if (!redis) return null;
  const info = await redis.info('cpu');
  const get = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return get('used_cpu_sys') + get('used_cpu_user');
}

async function run(url: string, headers: Record<string, string>, connections: number, duration: number, pid: number | null, redis: Redis | null): Promise<Run> {
  const [cpu0, r0, t0] = [cpuSeconds(pid), await redisCpuSeconds(redis), performance.now()];
  const r = await load(url, headers, connections, duration);
  const [cpu1, r1, t1] = [cpuSeconds(pid), await redisCpuSeconds(redis), performance.now()];
  return {
    ...r,
    cpu: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
    redisCpu: r0 === null || r1 === null ? null : r1 - r0,
    seconds: (t1 - t0) / 1000,
  };
}

const sum = (runs: Run[], f: (r: Run) => number | null) => runs.reduce((n, r) => n + (f(r) ?? NaN), 0);

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('set DATABASE_URL (a server where a database can be created) for this benchmark');
  const url = new URL(databaseUrl);
  url.pathname = '/plinth_bench_metering';
  const env = { DATABASE_URL: url.toString(), METERING_FLUSH_MS: '2000' };
  const duration = Number(process.env.BENCH_SECONDS ?? 6);
  const on = await startServer(3961, { ...env, METERING_ENABLED: 'true', RATE_LIMITS_ENABLED: 'true' });
  const off = await startServer(3962, { ...env, METERING_ENABLED: 'false', RATE_LIMITS_ENABLED: 'false' });
  const sql = new Client({ connectionString: url.toString() });
  await sql.connect();
  try {
    const { token, orgId } = await signup(on.base);
    // A plan whose rate limits the load can't reach: we measure the cost of checking, not of refusing.
    await useBenchPlan(url.toString(), orgId);
    const p = await post<{ id: string; ref: string; keys: { publishable: string } }>(`${on.base}/v1/orgs/${orgId}/projects`, { name: 'bench' }, token);
    const key = { apikey: p.keys.publishable };
    const routes = [
      { name: 'gateway only (404 after checks)', path: `/p/${p.ref}/functions/v1/none` },
      { name: 'data root (GET /rest/v1/)', path: `/p/${p.ref}/rest/v1/` },
    ];
    const onPid = serverPid(3961);
    const offPid = serverPid(3962);
    const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : null;
    let onSent = 0;
    let onCompleted = 0;
    for (const s of [on, off]) {
      for (const r of routes) {
        const w = await load(s.base + r.path, key, 10, 2); // warm-up
        if (s === on) [onSent, onCompleted] = [onSent + w.sent, onCompleted + w.completed];
      }
    }
    const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
    console.log(`\nMetering + rate limiting cost, ${rounds} × ${duration}s per side, ${redis ? 'Redis' : 'in-memory'} rate limits`);
    console.log(
      'route                              conns  off req/s  on req/s   cost   off p99  on p99 | server CPU µs/req: off     on  +redis   cost',
    );
    for (const r of routes) {
      for (const connections of [10, 50]) {
        const offRuns: Run[] = [];
        const onRuns: Run[] = [];
        for (let i = 0; i < rounds; i++) {
          const offFirst = i % 2 === 0;
          for (const side of offFirst ? [off, on] : [on, off]) {
            const x = await run(side.base + r.path, key, connections, duration, side === on ? onPid : offPid, redis);
            (side === on ? onRuns : offRuns).push(x);
          }
        }
        onSent += sum(onRuns, (x) => x.sent);
        onCompleted += sum(onRuns, (x) => x.completed);
        const offRps = sum(offRuns, (x) => x.rps) / rounds;
        const onRps = sum(onRuns, (x) => x.rps) / rounds;
        const offCpu = (sum(offRuns, (x) => x.cpu) / sum(offRuns, (x) => x.completed)) * 1e6;
        const onCpu = (sum(onRuns, (x) => x.cpu) / sum(onRuns, (x) => x.completed)) * 1e6;
        // Redis: what the "on" runs used beyond the background rate seen during the "off" runs.
        const idleRate = sum(offRuns, (x) => x.redisCpu) / sum(offRuns, (x) => x.seconds);
        const redisCpu = redis ? (Math.max(0, sum(onRuns, (x) => x.redisCpu) - idleRate * sum(onRuns, (x) => x.seconds)) / sum(onRuns, (x) => x.completed)) * 1e6 : 0;
        const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1).padStart(5)} %`;
        const num = (n: number, w: number) => (Number.isFinite(n) ? n.toFixed(0) : '-').padStart(w);
        console.log(
          `${r.name.padEnd(35)}${String(connections).padStart(5)}  ${num(offRps, 9)}  ${num(onRps, 8)}  ${pct(onRps, offRps)}  ${String(Math.max(...offRuns.map((x) => x.p99))).padStart(7)}  ${String(Math.max(...onRuns.map((x) => x.p99))).padStart(6)} |` +
            `                 ${num(offCpu, 6)} ${num(onCpu, 6)}  ${num(redisCpu, 6)}  ${pct(offCpu, onCpu + redisCpu)}`,
        );
      }
    }
    redis?.disconnect();
    await new Promise((r) => setTimeout(r, 2500)); // one flush
    const counted = await sql.query(`SELECT sum(quantity)::bigint AS n FROM control.usage_minute WHERE project_id = $1 AND meter LIKE 'requests:%'`, [p.id]);
    // Requests still in flight when a run ends are answered (and metered) but not counted as completed by the client.
    const n = Number(counted.rows[0].n);
    console.log(`\nrequests metered by the "on" server: ${n} (load generator: ${onCompleted} answered, ${onSent} sent) ${n >= onCompleted && n <= onSent ? 'ok' : 'MISMATCH'}`);
  } finally {
    await sql.end();
    await on.stop();
    await off.stop();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
