/**
 * Gateway overhead: requests/s and p99 of `GET /p/:ref/rest/v1/` with a valid key (route, key resolution, admission,
 * the OpenAPI handler from its cached document) versus a CORS preflight of the same URL, which takes the same path
 * up to the edge's CORS step (the same listener, request id and log line) and stops there: the difference is what the
 * edge adds after CORS. (`/healthz`, the former baseline, goes through Express and Nest, which tenant requests never
 * touch.) Run alternately (preflight, gateway, gateway, preflight; req/s averaged, worst p50/p99) so both see the same
 * machine state. Target: < 15 %. The org is on a plan whose limits the load can't reach; any non-2xx fails the run.
 *   npm run bench -- test/bench/gateway.bench.ts
 */
import autocannon from 'autocannon';
import { benchDatabaseUrl, post, requireAll2xx, signup, startServer, useBenchPlan } from './support';

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

function run(url: string, headers: Record<string, string>, connections: number, duration: number, method: 'GET' | 'OPTIONS' = 'GET'): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon({ url, headers, method, connections, duration, pipelining: 1 }, (err, r) => {
      if (err) return reject(err);
      try {
        resolve(requireAll2xx(`${method} ${url}`, { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx }));
      } catch (e) {
        reject(e);
      }
    });
  });
}

function mean(a: Run, b: Run): Run {
  return { rps: (a.rps + b.rps) / 2, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99), non2xx: a.non2xx + b.non2xx };
}

async function main(): Promise<void> {
  const duration = Number(process.env.BENCH_SECONDS ?? 8);
  const server = await startServer();
  try {
    const { token, orgId } = await signup(server.base);
    // The free plan allows 20 anonymous requests/s per IP: measure the cost of the checks, not of 429s.
    await useBenchPlan(benchDatabaseUrl(), orgId);
    const p = await post<{ ref: string; keys: { publishable: string } }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: 'bench' }, token);
    const gateway = `${server.base}/p/${p.ref}/rest/v1/`;
    const key = { apikey: p.keys.publishable };
    const preflight = { origin: 'https://app.example', 'access-control-request-method': 'GET' };
    const baseline = (connections: number, seconds: number) => run(gateway, preflight, connections, seconds, 'OPTIONS');
    await run(gateway, key, 10, 2); // warm-up: JIT, pools, caches
    await baseline(10, 2);
    console.log(`\nGateway overhead, ${duration}s per run, autocannon in a separate process from the server`);
    console.log('conns  route                          req/s     p50 ms  p99 ms  non-2xx   (mean of 2 runs each)');
    for (const connections of [10, 50]) {
      // Alternate (h g g h): the machine's load drifts, and the target is a ratio.
      const h1 = await baseline(connections, duration);
      const g1 = await run(gateway, key, connections, duration);
      const g2 = await run(gateway, key, connections, duration);
      const h2 = await baseline(connections, duration);
      const h = mean(h1, h2);
      const g = mean(g1, g2);
      const line = (name: string, r: Run) =>
        console.log(`${String(connections).padEnd(6)} ${name.padEnd(30)} ${r.rps.toFixed(0).padStart(8)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${r.non2xx}`);
      line('OPTIONS (preflight, baseline)', h);
      line('GET /p/:ref/rest/v1/ + key', g);
      const cost = 1 - g.rps / h.rps;
      console.log(`       route + key + admission + handler cost: ${(cost * 100).toFixed(1)} % of throughput (ratio ${(g.rps / h.rps).toFixed(3)}; target < 15 %)`);
    }
  } finally {
    await server.stop();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
