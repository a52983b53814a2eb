/**
 * Cost of metering + rate limiting on the gateway: api apps on the same database, one with
 * METERING_ENABLED/RATE_LIMITS_ENABLED on ("on") and one with both off ("off"), plus by default a second "off"
 * ("off′", an A/A control that shows how far two identical sides differ on this machine). Every round loads each
 * side in turn with the same load, in a different order each round (all orders every six rounds), so a drift in
 * machine load weighs on every side alike. Short runs and many rounds: load on this machine drifts within
 * seconds, so sides compared within a few seconds of each other see much the same machine. Target: < 5 % cost.
 *   DATABASE_URL=postgres://… [REDIS_URL=redis://…/6] [BENCH_SECONDS=3] [BENCH_ROUNDS=12] [BENCH_RESTART_EVERY=3]
 *   [BENCH_ROUTES=read,root,404] [BENCH_CONNECTIONS=10,50] [BENCH_CONTROL=0] [BENCH_SPLIT=1] [BENCH_TWIN=0]
 *   [BENCH_SERVER_CPUS=1 taskset -c 0] npm run -s bench -- test/bench/metering.bench.ts
 * By default every side's app runs in one server process (test/bench/twin-server.ts), loaded in turn: the sides
 * then share that process's JIT state, heap and CPU placement. Two identical processes can differ by 10–17 % for
 * their whole life, which drowned a cost of a few %; in one process the A/A control stays within about 2 %.
 * BENCH_TWIN=0 gives each side its own process (as `npm start` runs). Every BENCH_RESTART_EVERY rounds the
 * server process(es) start afresh, so the medians span several processes. BENCH_SPLIT=1 adds a side with only
 * metering on and one with only rate limits on, to show which costs what. BENCH_SERVER_CPUS pins the server to
 * those CPUs (run the bench itself, the load generator, on another with `taskset`).
 * With REDIS_URL the rate limits go through Redis (leased tokens; one Lua call per batch of requests that need
 * one); without, in memory. BENCH_TOGETHER=1 (with BENCH_TWIN=0) loads all sides at once instead of in turn, each
 * with its own connections: they then share the machine moment by moment, and load from elsewhere weighs on each alike.
 *
 * Requests/s on a busy 2-core machine swing by more than the effect measured, so the figures also give the CPU
 * the server process spent per request (Linux /proc: user + system, all threads; sides loaded in turn), which other load disturbs
 * less. With Redis, Redis's own time per request inside the rate limiter's script (INFO commandstats, EVALSHA
 * usec) is added. Each figure is the median over rounds of that round's value; costs are (on − off) / off of CPU
 * per request and (off − on) / off of requests/s, each computed within a round, then the median taken.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { post, requireAll2xx, signup, startServer, startTwinServer, useBenchPlan } from './support';

interface Side {
  name: string;
  port: number;
  env: NodeJS.ProcessEnv;
  base: string;
  pid: number | null;
}

const makeSide = (name: string, port: number, env: NodeJS.ProcessEnv): Side => ({ name, port, env, base: '', pid: null });

/** The sides' server processes: one holding every side's app, or with BENCH_TWIN=0 one per side. */
class Servers {
  private stops: Array<() => Promise<void>> = [];

  constructor(
    private readonly sides: Side[],
    private readonly twin: boolean,
  ) {}

  async start(): Promise<void> {
    if (this.twin) {
      const t = await startTwinServer(this.sides.map((s) => ({ port: s.port, env: s.env })));
      this.sides.forEach((s, i) => Object.assign(s, { base: t.bases[i], pid: t.pid }));
      this.stops = [t.stop];
      return;
    }
    this.stops = [];
    for (const s of this.sides) {
      const server = await startServer(s.port, s.env);
      Object.assign(s, { base: server.base, pid: server.pid });
      this.stops.push(server.stop);
    }
  }

  async stop(): Promise<void> {
    for (const stop of this.stops) await stop();
    this.stops = [];
  }
}

interface Run {
  rps: number;
  p99: number;
  sent: number;
  completed: number;
  /** Server CPU seconds used during the run (null when /proc isn't there). */
  cpu: number | null;
  /** EVALSHA calls made (the rate limiter's), and Redis's µs inside them (null without REDIS_URL). */
  redisCalls: number | null;
  redisUsec: number | null;
}

function load(url: string, headers: Record<string, string>, connections: number, duration: number) {
  return new Promise<{ rps: number; p99: number; sent: number; completed: number }>((resolve, reject) => {
    // autocannon ships no types; its result shape is documented in its README.
    type Result = { requests: { average: number; total: number; sent: number }; latency: { p99: number }; non2xx: number };
    autocannon({ url, headers, connections, duration }, (err: Error | null, r: Result) => {
      if (err) return reject(err);
      try {
        requireAll2xx(`GET ${url}`, r);
      } catch (e) {
        return reject(e);
      }
      resolve({ rps: r.requests.average, p99: r.latency.p99, sent: r.requests.sent, completed: r.requests.total });
    });
  });
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

/** EVALSHA calls so far and Redis's µs inside them (INFO commandstats): the rate limiter's work in Redis. */
async function redisStats(redis: Redis | null): Promise<{ calls: number; usec: number } | null> {
  if (!redis) return null;
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await redis.info('commandstats'));
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) };
}

async function run(url: string, headers: Record<string, string>, connections: number, duration: number, pid: number | null, redis: Redis | null): Promise<Run> {
  return (await runTogether([{ url, pid }], headers, connections, duration, redis))[0];
}

/**
 * Loads several servers at once, each with its own autocannon and `connections`: they share the machine moment by
 * moment, so load from elsewhere weighs on each alike. Redis figures go to every run (only the "on" side calls it).
 */
async function runTogether(
  targets: Array<{ url: string; pid: number | null }>,
  headers: Record<string, string>,
  connections: number,
  duration: number,
  redis: Redis | null,
): Promise<Run[]> {
  const [cpu0, r0] = [targets.map((t) => cpuSeconds(t.pid)), await redisStats(redis)];
  const results = await Promise.all(targets.map((t) => load(t.url, headers, connections, duration)));
  const [cpu1, r1] = [targets.map((t) => cpuSeconds(t.pid)), await redisStats(redis)];
  return results.map((r, i) => ({
    ...r,
    cpu: cpu0[i] === null || cpu1[i] === null ? null : cpu1[i]! - cpu0[i]!,
    redisCalls: r0 && r1 ? r1.calls - r0.calls : null,
    redisUsec: r0 && r1 ? r1.usec - r0.usec : null,
  }));
}

/** Server CPU µs per request of a run. */
const cpuPerReq = (x: Run) => ((x.cpu ?? NaN) / x.completed) * 1e6;
/** Redis µs per request spent in the rate limiter's script during a run of the "on" side. */
const redisPerReq = (x: Run) => ((x.redisUsec ?? 0) / x.completed);

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
  const together = process.env.BENCH_TOGETHER === '1';
  // Fresh processes every BENCH_RESTART_EVERY rounds (0: never): one process can run a few % faster or slower
  // than an identical one for its whole life (JIT, memory layout), which rounds on the same processes can't average out.
  const restartEvery = Number(process.env.BENCH_RESTART_EVERY ?? 3);
  const twin = process.env.BENCH_TWIN !== '0';
  if (twin && together) throw new Error('BENCH_TWIN (the default) measures CPU per side from one process: load the sides in turn, or set BENCH_TWIN=0');
  const on = makeSide('on', 3961, { ...env, METERING_ENABLED: 'true', RATE_LIMITS_ENABLED: 'true' });
  const offEnv = { ...env, METERING_ENABLED: 'false', RATE_LIMITS_ENABLED: 'false' };
  const off = makeSide('off', 3962, offEnv);
  const off2: Side | null = control ? makeSide("off'", 3963, offEnv) : null;
  const split =
    process.env.BENCH_SPLIT === '1'
      ? [
          makeSide('metering only', 3964, { ...env, METERING_ENABLED: 'true', RATE_LIMITS_ENABLED: 'false' }),
          makeSide('limits only', 3965, { ...env, METERING_ENABLED: 'false', RATE_LIMITS_ENABLED: 'true' }),
        ]
      : [];
  const sides = [off, on, ...(off2 ? [off2] : []), ...split];
  const servers = new Servers(sides, twin);
  await servers.start();
  const sql = new Client({ connectionString: url.toString() });
  await sql.connect();
  const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : null;
  try {
    const { token, orgId } = await signup(on.base);
    // A plan whose rate limits the load can't reach: we measure the cost of checking, not of refusing.
    await useBenchPlan(url.toString(), orgId);
    const p = await post<{ id: string; ref: string; keys: { publishable: string; secret: string } }>(`${on.base}/v1/orgs/${orgId}/projects`, { name: 'bench' }, token);
    const key = { apikey: p.keys.publishable };
    // A typical data request too: one row by primary key from a declared table with an anonymous read rule.
    await post(`${on.base}/v1/projects/${p.ref}/tables`, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'name', type: 'text' }] }, token);
    const rules = await fetch(`${on.base}/v1/projects/${p.ref}/tables/items/rules`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ role: 'anon', action: 'read' }]),
    });
    if (!rules.ok) throw new Error(`rules: ${rules.status} ${await rules.text()}`);
    const seed = await fetch(`${on.base}/p/${p.ref}/rest/v1/items`, {
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
    /** Adds a run's requests to what the sides with metering on should have counted. */
    const metered = (side: Side, r: { sent: number; completed: number }) => {
      if (side.env.METERING_ENABLED !== 'true') return;
      onSent += r.sent;
      onCompleted += r.completed;
    };
    for (const s of sides) {
      for (const r of routes) {
        metered(s, await load(s.base + r.path, key, 10, 2)); // warm-up: JIT, pools, caches
      }
    }
    const sequence = orders(sides);
    console.log(
      `\nMetering + rate limiting cost: ${rounds} rounds × ${duration}s per side, ${together ? 'all sides loaded at once' : 'sides in a new order each round'}, ` +
        `${redis ? 'Redis' : 'in-memory'} rate limits, ${twin ? 'all sides in one server process' : 'a server process per side'}` +
        `${process.env.BENCH_SERVER_CPUS ? ` pinned to CPU ${process.env.BENCH_SERVER_CPUS}` : ''}. Medians over rounds.`,
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
          if (restartEvery > 0 && i > 0 && i % restartEvery === 0) {
            await servers.stop();
            await servers.start();
            for (const side of sides) {
              metered(side, await load(side.base + r.path, key, connections, 2)); // warm-up
            }
          }
          const row: Record<string, Run> = {};
          if (together) {
            const runs = await runTogether(sides.map((side) => ({ url: side.base + r.path, pid: side.pid })), key, connections, duration, redis);
            sides.forEach((side, j) => (row[side.name] = runs[j]));
          } else {
            for (const side of sequence[i % sequence.length]) {
              row[side.name] = await run(side.base + r.path, key, connections, duration, side.pid, redis);
            }
          }
          rows.push(row);
        }
        for (const row of rows) for (const side of sides) metered(side, row[side.name]);
        const offRps = median(rows.map((x) => x.off.rps));
        const onRps = median(rows.map((x) => x.on.rps));
        const rpsCost = median(rows.map((x) => (x.off.rps - x.on.rps) / x.off.rps));
        const offCpu = median(rows.map((x) => cpuPerReq(x.off)));
        const onCpu = median(rows.map((x) => cpuPerReq(x.on)));
        const redisCpu = median(rows.map((x) => redisPerReq(x.on)));
        const cpuCost = median(rows.map((x) => (cpuPerReq(x.on) - cpuPerReq(x.off)) / cpuPerReq(x.off)));
        const cpuCostRedis = median(rows.map((x) => (cpuPerReq(x.on) + redisPerReq(x.on) - cpuPerReq(x.off)) / cpuPerReq(x.off)));
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
        for (const side of split) {
          const rps = median(rows.map((x) => rpsOf(x, side.name)));
          const cpu = median(rows.map((x) => cpuOf(x, side.name)));
          console.log(
            `${''.padEnd(33)}${side.name}: req/s ${num(median(rows.map((x) => x[side.name].rps)), 0)}, cost ${pct(rps).trim()} [${quartiles((x) => rpsOf(x, side.name))}];` +
              ` CPU µs/req ${num(median(rows.map((x) => cpuPerReq(x[side.name]))), 0)}, cost ${pct(cpu).trim()} [${quartiles((x) => cpuOf(x, side.name))}]`,
          );
        }
      }
    }
    await new Promise((r) => setTimeout(r, 2500)); // one flush
    const counted = await sql.query(`SELECT sum(quantity)::bigint AS n FROM control.usage_minute WHERE project_id = $1 AND meter LIKE 'requests:%'`, [p.id]);
    // Requests still in flight when a run ends are answered (and metered) but not counted as completed by the client;
    // the seeding POST above was metered too.
    const n = Number(counted.rows[0].n);
    console.log(`\nrequests metered by the servers with metering on: ${n} (load generator: ${onCompleted} answered, ${onSent} sent) ${n >= onCompleted && n <= onSent + 1 ? 'ok' : 'MISMATCH'}`);
  } finally {
    redis?.disconnect();
    await sql.end();
    await servers.stop();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
