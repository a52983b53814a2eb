import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { BullWorkers, JobContext, JobData, JobHandler, JobRegistry, OutboxRelay, OutboxRunner, OutboxService, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { WorkerModule } from '../../apps/worker/src/worker.module';
import { bootTestApp, TestApp, testRedisPrefix } from '../support/test-app';
import { TestClock } from '../support/test-clock';

/**
 * The outbox end to end, in both modes: with Redis (relay → BullMQ → worker process) when REDIS_URL is set,
 * and always embedded (in-process runner straight from the outbox, no Redis).
 */

interface EffectData extends JobData {
  tag: string;
  /** The handler throws until this attempt. */
  succeedOnAttempt?: number;
}

/** Test job: records one effect per outbox id (idempotent), and counts every run. */
class EffectJob implements JobHandler<EffectData> {
  readonly queue = QUEUES.maintenance;
  readonly name = 'test-effect';
  /** Tags whose jobs fail regardless of the attempt (until removed). */
  readonly failing = new Set<string>();
  /** A pool (the app's data source): job handlers run concurrently, and one pg Client would queue them (deprecated). */
  constructor(private readonly sql: Pick<DataSource, 'query'>) {}

  async handle(data: EffectData, ctx: JobContext): Promise<void> {
    await this.sql.query(`INSERT INTO public.test_job_runs (job_id, tag) VALUES ($1, $2)`, [ctx.id, data.tag]);
    if (this.failing.has(data.tag) || (data.succeedOnAttempt !== undefined && ctx.attempt < data.succeedOnAttempt)) {
      throw new Error(`planned failure of ${data.tag} on attempt ${ctx.attempt}`);
    }
    await this.sql.query(`INSERT INTO public.test_job_effects (job_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [ctx.id, data.tag]);
  }
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const redisUrl = process.env.REDIS_URL;

/** Deletes the keys matching `pattern` (SCAN, not KEYS, so a shared Redis isn't blocked); how many there were. */
async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let n = 0;
  for await (const keys of redis.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) {
    if (keys.length) n += await redis.del(...keys);
  }
  return n;
}
const modes = redisUrl ? (['redis', 'embedded'] as const) : (['embedded'] as const);

describe.each(modes)('jobs and the outbox (%s mode)', (mode) => {
  const env = {
    JOBS_POLL_MS: '20',
    JOBS_BACKOFF_MS: '20',
    JOBS_MAX_ATTEMPTS: '3',
    JOBS_LEASE_MS: '5000',
    REDIS_PREFIX: testRedisPrefix('jobs'),
    ...(mode === 'embedded' ? { REDIS_URL: '' } : {}),
  };
  let api: TestApp;
  let worker: INestApplicationContext | undefined;
  let effect: EffectJob;
  let db: DataSource;
  /** The process running jobs: the api itself when embedded, the worker app with Redis. */
  let runner: INestApplicationContext;

  /** The time of the process running jobs (the worker's own clock with Redis, the api's when embedded). */
  let runnerClock: TestClock;

  async function startWorker(): Promise<INestApplicationContext> {
    runnerClock = new TestClock();
    const ctx = await Test.createTestingModule({ imports: [WorkerModule.register(api.config, process.env.PLINTH_TEST_DATABASE_URL!)] })
      .overrideProvider(Clock)
      .useValue(runnerClock)
      .compile();
    ctx.useLogger(false);
    ctx.get(JobRegistry).register(effect);
    await ctx.init();
    return ctx;
  }

  beforeAll(async () => {
    api = await bootTestApp(env, undefined, { withWorker: mode === 'embedded' });
    await api.sql.query(`
      CREATE TABLE IF NOT EXISTS public.test_job_runs (job_id bigint NOT NULL, tag text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE TABLE IF NOT EXISTS public.test_job_effects (job_id bigint PRIMARY KEY, tag text NOT NULL);
    `);
    db = api.app.get<DataSource>(getDataSourceToken());
    effect = new EffectJob(db);
    api.app.get(JobRegistry).register(effect);
    if (mode === 'redis') {
      worker = await startWorker();
      runner = worker;
    } else {
      runner = api.app;
      runnerClock = api.clock;
    }
  });

  afterAll(async () => {
    await worker?.close();
    await api.close();
  });

  const tag = (name: string) => `${mode}-${name}-${Date.now().toString(36)}`;
  const enqueue = (t: string, n: number, extra: Partial<EffectData> = {}) =>
    db.transaction(async (m) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        ids.push((await api.app.get(OutboxService).enqueue<EffectData>(m, { queue: QUEUES.maintenance, name: 'test-effect', data: { orgId: null, tag: t, ...extra } }))!);
      }
      return ids;
    });
  const count = async (table: 'test_job_runs' | 'test_job_effects', t: string) =>
    Number((await api.sql.query(`SELECT count(*) AS n FROM public.${table} WHERE tag = $1`, [t])).rows[0].n);
  const statuses = async (t: string) =>
    (await api.sql.query(`SELECT status, count(*)::int AS n FROM control.outbox WHERE data->>'tag' = $1 GROUP BY status`, [t])).rows.reduce(
      (acc: Record<string, number>, r: { status: string; n: number }) => ({ ...acc, [r.status]: r.n }),
      {},
    );

  it('runs jobs committed with their transaction exactly once, and never those rolled back', async () => {
    const committed = tag('commit');
    const rolledBack = tag('rollback');
    await enqueue(committed, 20);
    await expect(
      db.transaction(async (m) => {
        await api.app.get(OutboxService).enqueue<EffectData>(m, { queue: QUEUES.maintenance, name: 'test-effect', data: { orgId: null, tag: rolledBack } });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await waitFor('20 effects', async () => (await count('test_job_effects', committed)) === 20);
    await waitFor('all done', async () => (await statuses(committed)).done === 20);
    expect(await count('test_job_runs', committed)).toBe(20);
    expect(await count('test_job_runs', rolledBack)).toBe(0);
    expect((await api.sql.query(`SELECT count(*)::int AS n FROM control.outbox WHERE data->>'tag' = $1`, [rolledBack])).rows[0].n).toBe(0);
  });

  it('deduplicates enqueues by key', async () => {
    const t = tag('dedupe');
    const ids = await db.transaction(async (m) => {
      const outbox = api.app.get(OutboxService);
      const job = { queue: QUEUES.maintenance, name: 'test-effect', data: { orgId: null, tag: t }, dedupeKey: t };
      return [await outbox.enqueue<EffectData>(m, job), await outbox.enqueue<EffectData>(m, job)];
    });
    expect(ids[0]).not.toBeNull();
    expect(ids[1]).toBeNull();
    await waitFor('effect', async () => (await count('test_job_effects', t)) === 1);
  });

  it('retries failures with backoff, and succeeds within the attempts', async () => {
    const t = tag('flaky');
    await enqueue(t, 1, { succeedOnAttempt: 3 });
    await waitFor('effect after retries', async () => (await count('test_job_effects', t)) === 1);
    expect(await count('test_job_runs', t)).toBe(3);
    const runs = (await api.sql.query(`SELECT at FROM public.test_job_runs WHERE tag = $1 ORDER BY at`, [t])).rows as Array<{ at: Date }>;
    // Backoff: each retry waits at least ~75 % of base·2^(n-1) (base 20 ms).
    expect(runs[1].at.getTime() - runs[0].at.getTime()).toBeGreaterThanOrEqual(10);
    await waitFor('done', async () => (await statuses(t)).done === 1);
  });

  it('parks a job that keeps failing as dead, visible with its error, and re-drives it', async () => {
    const t = tag('dead');
    effect.failing.add(t);
    const [id] = await enqueue(t, 1);
    const outbox = api.app.get(OutboxService);
    await waitFor('dead', async () => (await statuses(t)).dead === 1);
    expect(await count('test_job_runs', t)).toBe(3);
    const dead = await outbox.listDead();
    expect(dead).toEqual(expect.arrayContaining([expect.objectContaining({ id, status: 'dead', attempts: 3, last_error: expect.stringContaining('planned failure') })]));
    expect(await count('test_job_effects', t)).toBe(0);

    effect.failing.delete(t);
    expect(await outbox.redrive(id)).toBe(true);
    expect(await outbox.redrive(id)).toBe(false); // no longer dead
    await waitFor('re-driven job done', async () => (await statuses(t)).done === 1);
    expect(await count('test_job_effects', t)).toBe(1);
    expect((await outbox.get(id))?.generation).toBe(1);
  });

  if (mode === 'redis') {
    it('a relay killed mid-batch (after pushing to Redis, before marking) loses nothing and runs every effect once', async () => {
      const relay = runner.get(OutboxRelay);
      await relay.stop();
      const t = tag('relay-crash');
      await enqueue(t, 30);
      relay.beforeCommit = async () => {
        throw new Error('relay killed');
      };
      await expect(relay.tick()).rejects.toThrow('relay killed');
      relay.beforeCommit = undefined;
      // The rows are still pending (the transaction never committed), though BullMQ got the jobs.
      expect((await statuses(t)).relayed ?? 0).toBe(0);
      relay.start(); // "restart": relays the same rows again under the same job ids
      await waitFor('all done', async () => (await statuses(t)).done === 30);
      expect(await count('test_job_effects', t)).toBe(30);
      expect(await count('test_job_runs', t)).toBe(30); // BullMQ deduplicated the second push
    });

    it('re-relays every undelivered job after Redis is flushed', async () => {
      const relay = runner.get(OutboxRelay);
      const workers = runner.get(BullWorkers);
      await workers.stop();
      await relay.stop();
      const t = tag('flushed');
      await enqueue(t, 25);
      expect(await relay.tick()).toBeGreaterThanOrEqual(25);
      expect((await statuses(t)).relayed).toBe(25);

      // Redis loses everything of this app's (its REDIS_PREFIX), and nothing of anyone else's in that database.
      const redis = new Redis(redisUrl!);
      const lost = await deleteKeys(redis, `${env.REDIS_PREFIX}:*`);
      await redis.quit();
      expect(lost).toBeGreaterThan(0);

      // Nothing to find in Redis any more; after the lease the sweep sends the rows round again.
      runnerClock.travel(6000);
      const swept = await relay.sweep();
      expect(swept.requeued).toBeGreaterThanOrEqual(25);
      workers.start();
      relay.start();
      await waitFor('all done', async () => (await statuses(t)).done === 25, 20_000);
      expect(await count('test_job_effects', t)).toBe(25);
    });
  } else {
    it('a runner killed mid-batch leaves its claimed jobs to be taken back after the lease; effects once', async () => {
      const loop = runner.get(OutboxRunner);
      await loop.stop();
      const t = tag('runner-crash');
      await enqueue(t, 12);
      // A runner claims the batch and "dies" without running it.
      const claimed = await loop.claim(100);
      expect(claimed.filter((j) => (j.data as EffectData).tag === t)).toHaveLength(12);
      expect((await statuses(t)).running).toBe(12);
      loop.start();
      await new Promise((r) => setTimeout(r, 200));
      expect(await count('test_job_runs', t)).toBe(0); // still leased
      runnerClock.travel(6000); // past JOBS_LEASE_MS
      await waitFor('all done', async () => (await statuses(t)).done === 12);
      expect(await count('test_job_effects', t)).toBe(12);
      expect(await count('test_job_runs', t)).toBe(12);
      runnerClock.travel(-6000);
    });

    it('a restart picks up jobs that were still pending (nothing lives only in memory)', async () => {
      const loop = runner.get(OutboxRunner);
      await loop.stop();
      const t = tag('restart');
      await enqueue(t, 5);
      const second = await bootTestApp(env, undefined, { withWorker: true });
      try {
        second.app.get(JobRegistry).register(effect);
        await waitFor('done by the new process', async () => (await statuses(t)).done === 5);
        expect(await count('test_job_effects', t)).toBe(5);
      } finally {
        await second.close();
        loop.start();
      }
    });
  }
});
