/**
 * Project provisioning: creates 200 projects one after another through the API (schema, two roles, two keys,
 * audit entry in one transaction), prints p50/p95/max, then deletes them. Target: p95 < 100 ms.
 *   npm run bench -- test/bench/provisioning.bench.ts
 */
import { percentile, post, signup, startServer } from './support';

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_PROJECTS ?? 200);
  const server = await startServer();
  try {
    const { token, orgId } = await signup(server.base);
    // The free plan holds 2 projects per org; enterprise holds 1000.
    const plan = await fetch(`${server.base}/v1/orgs/${orgId}/billing/plan`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ plan: 'enterprise' }),
    });
    if (!plan.ok) throw new Error(`plan change: ${plan.status} ${await plan.text()}`);
    const times: number[] = [];
    const refs: string[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const p = await post<{ ref: string }>(`${server.base}/v1/orgs/${orgId}/projects`, { name: `bench-${i}` }, token);
      times.push(performance.now() - t0);
      refs.push(p.ref);
    }
    const deletes: number[] = [];
    for (const ref of refs) {
      const t0 = performance.now();
      const res = await fetch(`${server.base}/v1/projects/${ref}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 204) throw new Error(`delete ${ref}: ${res.status}`);
      deletes.push(performance.now() - t0);
    }
    const report = (label: string, xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      console.log(`${label.padEnd(8)} n=${s.length}  p50=${percentile(s, 50).toFixed(1)} ms  p95=${percentile(s, 95).toFixed(1)} ms  max=${s[s.length - 1].toFixed(1)} ms`);
      return percentile(s, 95);
    };
    console.log(`\nProject provisioning over HTTP (${process.env.DATABASE_URL ? 'external Postgres' : 'embedded Postgres'})`);
    const p95 = report('create', times);
    report('delete', deletes);
    console.log(`target p95 < 100 ms: ${p95 < 100 ? 'met' : 'MISSED'} (${(p95 / 100).toFixed(2)}× of budget)`);
  } finally {
    await server.stop();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
