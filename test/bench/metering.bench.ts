/**
 * Cost of metering + rate limiting on the gateway: api processes on the same database, one with
 * METERING_ENABLED/RATE_LIMITS_ENABLED on ("on") and one with both off ("off"), plus by default a second "off"
 * process ("off′", an A/A control that shows how far two identical servers differ on this machine). Every round
 * loads each side in turn with the same load, in a different order each round (all orders every six rounds), so a
 * drift in machine load weighs on every side alike. Short runs and many rounds: load on this machine drifts within
 * seconds, so sides compared within a few seconds of each other see much the same machine. Target: < 5 % cost.
 *   DATABASE_URL=postgres://… [REDIS_URL=redis://…/6] [BENCH_SECONDS=3] [BENCH_ROUNDS=12] [BENCH_ROUTES=read,root,404] [BENCH_CONNECTIONS=10,50]
 *   [BENCH_CONTROL=0] npm run -s bench -- test/bench/metering.bench.ts
 * With REDIS_URL the rate limits go through Redis (one Lua call per batch of concurrent requests); without, in memory.
 *
 * Requests/s on a busy 2-core machine swing by more than the effect measured, so the primary figure is the CPU
 * each server process spent per request (Linux /proc: user + system, all threads), which other load disturbs far
 * less. With Redis, the Redis server's CPU per request is added: what it used during an "on" run beyond the rate
 * it used during the same round's "off" run (that rate is its background: other clients, the servers' job queues).
 * Each figure is the median over rounds of that round's value; costs are (on − off) / off of CPU per request and
 * (off − on) / off of requests/s, each computed within a round, then the median taken.
 */
import autocannon from 'autocannon';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { BenchServer, post, signup, startServer, useBenchPlan } from './support';

interface Side {
  name: string;
  server: BenchServer;
  pid: number | null;
}

interface Run {
  rps: number;
  p99: number;
  sent: number;
  completed: number;
  /** Server CPU seconds used during the run (null when /proc isn't there). */
  cpu: number | null;
  /** Redis server CPU seconds used during the run, and EVALSHA calls made (null without REDIS_URL). */
  redisCpu: number | null;
  redisCalls: number | null;
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

async function redisStats(redis: Redis | null): Promise<{ cpu: number; calls: number } | null> {
  if (!redis) return null;
  const [cpu, commands] = await Promise.all([redis.info('cpu'), redis.info('commandstats')]);
  const get = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? NaN);
  return { cpu: get('used_cpu_sys') + get('used_cpu_user'), calls: Number(/cmdstat_evalsha:calls=(\d+)/.exec(commands)?.[1] ?? 0) };
}

async function run(url: string, headers: Record<string, string>, connections: number, duration: number, pid: number | null, redis: Redis | null): Promise<Run> {
  const [cpu0, r0, t0] = [cpuSeconds(pid), await redisStats(redis), performance.now()];
  const r = await load(url, headers, connections, duration);
  const [cpu1, r1, t1] = [cpuSeconds(pid), await redisStats(redis), performance.now()];
  return {
    ...r,
    cpu: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
    redisCpu: r0 && r1 ? r1.cpu - r0.cpu : null,
    redisCalls: r0 && r1 ? r1.calls - r0.calls : null,
    seconds: (t1 - t0) / 1000,
  };
}

/** Server CPU µs per request of a run. */
const cpuPerReq = (x: Run) => ((x.cpu ?? NaN) / x.completed) * 1e6;
/** Redis CPU µs per request of a run, beyond the background rate seen in `background` (a run with no limiter calls). */
const redisPerReq = (x: Run, background: Run) => {
  if (x.redisCpu === null || background.redisCpu === null) return 0;
  return (Math.max(0, x.redisCpu - (background.redisCpu / background.seconds) * x.seconds) / x.completed) * 1e6;
};

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Every order of `xs` (used round-robin, so six rounds of three sides try each order once). */
function orders<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => orders([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('set DATABASE_URL (a server where a database can be created) for this benchmark');
  const url = new URL(databaseUrl);
  url.pathname = '/plinth_bench_metering';
  const env = { DATABASE_URL: url.toString(), METERING_FLUSH_MS: '2000' };
  const duration = Number(process.env.BENCH_SECONDS ?? 3);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 12);
  const routeNames = (process.env.BENCH_ROUTES ?? 'read,root,404').split(',');
  const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '10,50').split(',').map(Number);
  const control = process.env.BENCH_CONTROL !== '0';
  const onServer = await startServer(3961, { ...env, METERING_ENABLED: 'true', RATE_LIMITS_ENABLED: 'true' });
  const offEnv = { ...env, METERING_ENABLED: 'false', RATE_LIMITS_ENABLED: 'false' };
  const on: Side = { name: 'on', server: onServer, pid: serverPid(3961) };
  const off: Side = { name: 'off', server: await startServer(3962, offEnv), pid: serverPid(3962) };
  const off2: Side | null = control ? { name: "off'", server: await startServer(3963, offEnv), pid: serverPid(3963) } : null;
  const sides = off2 ? [off, on, off2] : [off, on];
  const sql = new Client({ connectionString: url.toString() });
  await sql.connect();
  const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : null;
  try {
    const { token, orgId } = await signup(on.server.base);
    // A plan whose rate limits the load can't reach: we measure the cost of checking, not of refusing.
    await useBenchPlan(url.toString(), orgId);
    const p = await post<{ id: string; ref: string; keys: { publishable: string; secret: string } }>(`${on.server.base}/v1/orgs/${orgId}/projects`, { name: 'bench' }, token);
    const key = { apikey: p.keys.publishable };
    // A typical data request too: one row by primary key from a declared table with an anonymous read rule.
    await post(`${on.server.base}/v1/projects/${p.ref}/tables`, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'name', type: 'text' }] }, token);
    const rules = await fetch(`${on.server.base}/v1/projects/${p.ref}/tables/items/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ role: 'anon', action: 'read' }]),
    });
    if (!rules.ok) throw new Error(`rules: ${rules.status} ${await rules.text()}`);
    const seed = await fetch(`${on.server.base}/p/${p.ref}/rest/v1/items`, {
      method: 'POST',
      headers: { apikey: p.keys.secret, 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ id: i + 1, name: `item ${i + 1}` }))),
    });
    if (seed.status !== 201) throw new Error(`seed: ${seed.status} ${await seed.text()}`);
    const routes = [
      { id: 'read', name: 'data read (GET items?id=eq.)', path: `/p/${p.ref}/rest/v1/items?id=eq.42` },
      { id: 'root', name: 'data root (GET /rest/v1/)', path: `/p/${p.ref}/rest/v1/` },
      { id: '404', name: 'gateway 404 (after checks)', path: `/p/${p.ref}/functions/v1/none` },
    ].filter((r) => routeNames.includes(r.id));
    let onSent = 0;
    let onCompleted = 0;
    for (const s of sides) {
      for (const r of routes) {
        const w = await load(s.server.base + r.path, key, 10, 2); // warm-up: JIT, pools, caches
        if (s === on) [onSent, onCompleted] = [onSent + w.sent, onCompleted + w.completed];
      }
    }
    const sequence = orders(sides);
    console.log(
      `\nMetering + rate limiting cost: ${rounds} rounds × ${duration}s per side, sides in a new order each round, ` +
        `${redis ? 'Redis' : 'in-memory'} rate limits. Medians over rounds.`,
    );
    console.log(
      `${'route'.padEnd(29)} conns |  req/s: off     on   cost |  CPU µs/req: off     on  +redis  cost  cost+redis` +
        `${redis ? ' | req/call' : ''}${off2 ? " | A/A off'/off: req/s  CPU" : ''}`,
    );
    const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '-').padStart(7);
    const num = (n: number, w: number) => (Number.isFinite(n) ? n.toFixed(0) : '-').padStart(w);
    for (const r of routes) {
      for (const connections of connectionCounts) {
        const rows: Array<Record<string, Run>> = [];
        for (let i = 0; i < rounds; i++) {
          // Redis is read around every run, "off" ones included, for its background rate (see redisPerReq).
          const row: Record<string, Run> = {};
          for (const side of sequence[i % sequence.length]) {
            row[side.name] = await run(side.server.base + r.path, key, connections, duration, side.pid, redis);
          }
          rows.push(row);
        }
        for (const row of rows) [onSent, onCompleted] = [onSent + row.on.sent, onCompleted + row.on.completed];
        const offRps = median(rows.map((x) => x.off.rps));
        const onRps = median(rows.map((x) => x.on.rps));
        const rpsCost = median(rows.map((x) => (x.off.rps - x.on.rps) / x.off.rps));
        const offCpu = median(rows.map((x) => cpuPerReq(x.off)));
        const onCpu = median(rows.map((x) => cpuPerReq(x.on)));
        const redisCpu = median(rows.map((x) => redisPerReq(x.on, x.off)));
        const cpuCost = median(rows.map((x) => (cpuPerReq(x.on) - cpuPerReq(x.off)) / cpuPerReq(x.off)));
        const cpuCostRedis = median(rows.map((x) => (cpuPerReq(x.on) + redisPerReq(x.on, x.off) - cpuPerReq(x.off)) / cpuPerReq(x.off)));
        const perCall = median(rows.map((x) => (x.on.redisCalls ? x.on.completed / x.on.redisCalls : NaN)));
        let line =
          `${r.name.padEnd(29)} ${String(connections).padStart(5)} | ${num(offRps, 10)} ${num(onRps, 6)} ${pct(rpsCost)} |` +
          ` ${num(offCpu, 15)} ${num(onCpu, 6)} ${num(redisCpu, 7)} ${pct(cpuCost)} ${pct(cpuCostRedis)}`;
        if (redis) line += ` | ${(Number.isFinite(perCall) ? perCall.toFixed(1) : '-').padStart(8)}`;
        if (off2) {
          const aaRps = median(rows.map((x) => (x.off.rps - x["off'"].rps) / x.off.rps));
          const aaCpu = median(rows.map((x) => (cpuPerReq(x["off'"]) - cpuPerReq(x.off)) / cpuPerReq(x.off)));
          line += ` |               ${pct(aaRps)} ${pct(aaCpu)}`;
        }
        console.log(line);
        // The middle half of the rounds' costs: how far one round's figure can be trusted.
        const quartiles = (f: (x: Record<string, Run>) => number) => {
          const xs = rows.map(f).filter(Number.isFinite).sort((a, b) => a - b);
          const at = (q: number) => xs[Math.min(xs.length - 1, Math.max(0, Math.round(q * (xs.length - 1))))] * 100;
          return xs.length ? `${at(0.25).toFixed(1)} … ${at(0.75).toFixed(1)}` : '-';
        };
        const cpuOf = (x: Record<string, Run>, side: string) => (cpuPerReq(x[side]) - cpuPerReq(x.off)) / cpuPerReq(x.off);
        const rpsOf = (x: Record<string, Run>, side: string) => (x.off.rps - x[side].rps) / x.off.rps;
        let spread = `${''.padEnd(33)}middle half of rounds: req/s cost ${quartiles((x) => rpsOf(x, 'on'))} %, CPU cost ${quartiles((x) => cpuOf(x, 'on'))} %`;
        if (off2) spread += `; A/A req/s ${quartiles((x) => rpsOf(x, "off'"))} %, CPU ${quartiles((x) => cpuOf(x, "off'"))} %`;
        console.log(spread);
      }
    }
    await new Promise((r) => setTimeout(r, 2500)); // one flush
    const counted = await sql.query(`SELECT sum(quantity)::bigint AS n FROM control.usage_minute WHERE project_id = $1 AND meter LIKE 'requests:%'`, [p.id]);
    // Requests still in flight when a run ends are answered (and metered) but not counted as completed by the client.
    const n = Number(counted.rows[0].n);
    console.log(`\nrequests metered by the "on" server: ${n} (load generator: ${onCompleted} answered, ${onSent} sent) ${n >= onCompleted && n <= onSent ? 'ok' : 'MISMATCH'}`);
  } finally {
    redis?.disconnect();
    await sql.end();
    for (const s of sides) await s.server.stop();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
