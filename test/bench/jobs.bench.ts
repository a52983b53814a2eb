/**
 * Job throughput: N no-op jobs written to the outbox (transactions of 100) with processing paused, then the drain is
 * timed until every row is done.
 * With REDIS_URL: outbox → relay → BullMQ → worker → handler; always also the embedded in-process runner.
 *   DATABASE_URL=postgres://… [REDIS_URL=redis://…/5] node -r @swc-node/register test/bench/jobs.bench.ts
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { loadConfig } from '@plinth/config';
import { ensureDatabase, runMigrations } from '@plinth/database';
import { BullWorkers, JobHandler, JobRegistry, OutboxRelay, OutboxRunner, OutboxService, QUEUES } from '@plinth/jobs';
import { WorkerModule } from '../../apps/worker/src/worker.module';

const noop: JobHandler<{ orgId: null; i: number }> = { queue: QUEUES.maintenance, name: 'bench-noop', handle: async () => undefined };

async function bench(mode: 'redis' | 'embedded', databaseUrl: string, n: number): Promise<void> {
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    REDIS_URL: mode === 'redis' ? process.env.REDIS_URL : '',
    REDIS_PREFIX: 'plinth-bench',
    JOBS_CONCURRENCY: process.env.JOBS_CONCURRENCY ?? '50',
    JOBS_POLL_MS: '20',
    METERING_ENABLED: 'false',
  });
  const ctx = await NestFactory.createApplicationContext(WorkerModule.register(config, databaseUrl), { logger: ['warn', 'error'] });
  ctx.get(JobRegistry).register(noop);
  const db = ctx.get<DataSource>(getDataSourceToken());
  const outbox = ctx.get(OutboxService);
  await db.query(`DELETE FROM control.outbox WHERE name = 'bench-noop'`);
  // Enqueue first with processing paused, then time the drain on its own.
  await Promise.all([ctx.get(OutboxRunner).stop(), ctx.get(OutboxRelay).stop(), ctx.get(BullWorkers).stop()]);
  const started = Date.now();
  for (let i = 0; i < n; i += 100) {
    await db.transaction(async (m) => {
      for (let j = i; j < Math.min(n, i + 100); j++) await outbox.enqueue(m, { queue: QUEUES.maintenance, name: 'bench-noop', data: { orgId: null, i: j } });
    });
  }
  const enqueued = Date.now();
  if (mode === 'redis') {
    ctx.get(BullWorkers).start();
    ctx.get(OutboxRelay).start();
  } else {
    ctx.get(OutboxRunner).start();
  }
  for (;;) {
    const [{ n: done }] = (await db.query(`SELECT count(*)::int AS n FROM control.outbox WHERE name = 'bench-noop' AND status = 'done'`)) as Array<{ n: number }>;
    if (done >= n) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const finished = Date.now();
  console.log(
    `${mode.padEnd(9)} ${String(n).padStart(6)} jobs  enqueue ${((n / (enqueued - started)) * 1000).toFixed(0).padStart(6)} jobs/s   ` +
      `drain (relay/run → handler → done) ${((n / (finished - enqueued)) * 1000).toFixed(0).padStart(6)} jobs/s (${finished - enqueued} ms)`,
  );
  await ctx.close();
}

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('set DATABASE_URL (a server where a database can be created) for this benchmark');
  const url = new URL(base);
  url.pathname = '/plinth_bench_jobs';
  await ensureDatabase(url.toString());
  await runMigrations(url.toString());
  const n = Number(process.env.BENCH_JOBS ?? 5000);
  console.log(`\nOutbox job throughput (no-op handler, concurrency ${process.env.JOBS_CONCURRENCY ?? 50})`);
  if (process.env.REDIS_URL) await bench('redis', url.toString(), n);
  await bench('embedded', url.toString(), n);
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
