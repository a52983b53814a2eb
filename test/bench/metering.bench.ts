/**
 * Cost of metering + rate limiting on the gateway: two api processes on the same database, one with
 * METERING_ENABLED/RATE_LIMITS_ENABLED on and one with both off, hit alternately with the same load so both see
 * the same machine state. Target: < 5 % fewer requests/s with them on.
 *   DATABASE_URL=postgres://… [REDIS_URL=redis://…/5] node -r @swc-node/register test/bench/metering.bench.ts
 * With REDIS_URL the rate limits go through Redis (one Lua call per request); without, in memory.
 */
import autocannon from 'autocannon';
import { Client } from 'pg';
import { post, signup, startServer } from './support';

interface Run {
  rps: number;
  p99: number;
  non2xx: number;
}

function run(url: string, headers: Record<string, string>, connections: number, duration: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    // autocannon ships no types; its result shape is documented in its README.
    autocannon({ url, headers, connections, duration }, (err: Error | null, r: { requests: { average: number }; latency: { p99: number }; non2xx: number }) => {
      if (err) return reject(err);
      resolve({ rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx });
    });
  });
}

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
    await sql.query(
      `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
       VALUES ('bench', 'bench', false, 99, 0, true, '{"requests": 1e12, "egress_bytes": 1e15}', '{}',
               '{"project": {"limit": 1000000, "window_s": 1}, "key": {"limit": 1000000, "window_s": 1}, "anon_ip": {"limit": 1000000, "window_s": 1}}', '{}')
       ON CONFLICT (id) DO NOTHING`,
    );
    await sql.query(`INSERT INTO control.org_plans (org_id, plan_id) VALUES ($1, 'bench')`, [orgId]);
    const p = await post<{ ref: string; keys: { publishable: string } }>(`${on.base}/v1/orgs/${orgId}/projects`, { name: 'bench' }, token);
    const key = { apikey: p.keys.publishable };
    const routes = [
      { name: 'gateway only (404 after checks)', path: `/p/${p.ref}/functions/v1/none` },
      { name: 'data root (GET /rest/v1/)', path: `/p/${p.ref}/rest/v1/` },
    ];
    for (const s of [on, off]) for (const r of routes) await run(s.base + r.path, key, 10, 2); // warm-up
    console.log(`\nMetering + rate limiting cost, ${duration}s per run, ${process.env.REDIS_URL ? 'Redis' : 'in-memory'} rate limits`);
    console.log('route                              conns  off req/s  on req/s   cost    off p99  on p99');
    for (const r of routes) {
      for (const connections of [10, 50]) {
        const a = await run(off.base + r.path, key, connections, duration);
        const b = await run(on.base + r.path, key, connections, duration);
        const a2 = await run(off.base + r.path, key, connections, duration);
        const b2 = await run(on.base + r.path, key, connections, duration);
        const offRps = (a.rps + a2.rps) / 2;
        const onRps = (b.rps + b2.rps) / 2;
        const cost = ((offRps - onRps) / offRps) * 100;
        console.log(
          `${r.name.padEnd(35)}${String(connections).padStart(5)}  ${offRps.toFixed(0).padStart(9)}  ${onRps.toFixed(0).padStart(8)}  ${cost.toFixed(1).padStart(5)} %  ${String(Math.max(a.p99, a2.p99)).padStart(7)}  ${String(Math.max(b.p99, b2.p99)).padStart(6)}`,
        );
      }
    }
    await new Promise((r) => setTimeout(r, 2500)); // one flush
    const counted = await sql.query(`SELECT sum(quantity)::bigint AS n FROM control.usage_minute WHERE meter LIKE 'requests:%'`);
    console.log(`\nrequests metered by the "on" server: ${counted.rows[0].n}`);
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
