import { randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { REDIS } from '@plinth/jobs';
import { PlansService } from '@plinth/quotas';
import { EndpointSlots } from '@plinth/runtime-notifications';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { waitFor as waitUntil, sleep } from '../support/wait';

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 20_000) => waitUntil(what, fn, timeoutMs);

/**
 * The notifications runtime's own limits: a per-project send rate from the plan (429 with Retry-After in the
 * runtime's error shape, nothing stored), per-endpoint webhook concurrency held across workers (a Redis semaphore
 * with expiry), and the VAPID key pair made with the project.
 */

/** Two api instances share a limit only through Redis: the cross-instance cases need REDIS_URL (CI sets it). */
const redisUrl = process.env.REDIS_URL;
const itWithRedis = redisUrl ? it : it.skip;

describe('Notification limits', () => {
  let t: TestApp;
  let t2: TestApp;
  let u: TestUser;
  let p: TestProject;

  beforeAll(async () => {
    // Two api instances with job processors on one Redis: two workers taking deliveries from the same queues.
    t = await bootTestApp({ JOBS_POLL_MS: '20', RATE_LIMITS_ENABLED: 'true', LOG_LEVEL: 'silent' }, undefined, { withWorker: true });
    t2 = await bootTestApp({ JOBS_POLL_MS: '20', RATE_LIMITS_ENABLED: 'true', LOG_LEVEL: 'silent' }, undefined, { withWorker: true });
    u = await signup(t, 'nlimits');
    p = await createProject(t, u, 'nlimits');
  });

  afterAll(async () => {
    await t2?.close();
    await t?.close();
  });

  const send = (app: TestApp, proj: TestProject, body: object) => app.http().post(`/p/${proj.ref}/notifications/v1/send`).set('apikey', proj.secret).send(body);

  describe('send rate', () => {
    it('holds a project to its plan\'s sends per minute with 429 and Retry-After; repeats still answer, nothing is stored, other projects go on', async () => {
      await t.sql.query(
        `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
         SELECT 'notify_three', 'Three sends', false, 99, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits,
                limits || '{"notification_sends_per_minute": 3}'::jsonb FROM control.plans WHERE id = 'free'
         ON CONFLICT (id) DO NOTHING`,
      );
      const small = await signup(t, 'nrate');
      const proj = await createProject(t, small, 'nrate');
      for (const app of [t, t2]) {
        app.app.get(PlansService).forget();
        await app.app.get(PlansService).setOrgPlan(small.orgId, 'notify_three');
      }
      const userId = randomUUID();
      const accepted = [];
      // With Redis, across both instances (the bucket is the project's, shared through Redis); without, on one.
      const apps = redisUrl ? [t, t2] : [t];
      for (let i = 0; i < 3; i++) accepted.push(await send(apps[i % apps.length], proj, { to: { user_id: userId }, content: { title: `r${i}` }, idempotency_key: `rate-${i}` }));
      expect(accepted.map((r) => r.status)).toEqual([202, 202, 202]);
      const refused = await send(apps[apps.length - 1], proj, { to: { user_id: userId }, content: { title: 'one too many' } });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(20);
      expect(refused.body.error).toMatchObject({ code: 'rate_limited', limit: 3, window_s: 60 });
      // A repeat of an accepted send is answered (the first message), not counted.
      const again = await send(t, proj, { to: { user_id: userId }, content: { title: 'r0' }, idempotency_key: 'rate-0' });
      expect(again.status).toBe(202);
      expect(again.body).toMatchObject({ id: accepted[0].body.id, duplicate: true });
      const { rows } = await t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1`, [proj.id]);
      expect(rows[0].n).toBe(3);
      // Another project (free plan) is not held by this one's bucket.
      expect((await send(t, p, { to: { user_id: userId }, content: { title: 'elsewhere' } })).status).toBe(202);
    });
  });

  describe('per-endpoint webhook concurrency across workers', () => {
    itWithRedis('holds two workers\' slot holders to the endpoint\'s bound together (Redis semaphore), and each alone to its own', async () => {
      const redis = t.app.get<Redis | null>(REDIS);
      expect(redis).not.toBeNull();
      const config = t.app.get<PlinthConfig>(PLINTH_CONFIG);
      const workers = [new EndpointSlots(redis, config), new EndpointSlots(t2.app.get<Redis | null>(REDIS), t2.app.get<PlinthConfig>(PLINTH_CONFIG))];
      const endpoint = randomUUID();
      let active = 0;
      let peak = 0;
      const job = async () => {
        active++;
        peak = Math.max(peak, active);
        await sleep(60);
        active--;
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => workers[i % 2].run(endpoint, 2, job)));
      expect(peak).toBe(2);
      // Without the shared semaphore each worker would allow its own 2 (4 together): the bound above is the cluster's.
      const local = [new EndpointSlots(), new EndpointSlots()];
      peak = 0;
      await Promise.all(Array.from({ length: 8 }, (_, i) => local[i % 2].run(endpoint, 2, job)));
      expect(peak).toBe(4);
      // Every slot was given back.
      expect(await redis!.zcard(`${config.redis.prefix}:webhook-slots:${endpoint}`)).toBe(0);
    });

    itWithRedis('frees a slot whose holder died once its expiry passes', async () => {
      const redis = t.app.get<Redis>(REDIS);
      const config = t.app.get<PlinthConfig>(PLINTH_CONFIG);
      const endpoint = randomUUID();
      const key = `${config.redis.prefix}:webhook-slots:${endpoint}`;
      // A holder that took the only slot long ago (longer than the expiry) and never gave it back.
      const [secs] = await redis.time();
      await redis.zadd(key, (Number(secs) - 3600) * 1000, 'dead-worker');
      const started = Date.now();
      expect(await new EndpointSlots(redis, config).run(endpoint, 1, async () => 'ran')).toBe('ran');
      expect(Date.now() - started).toBeLessThan(2_000);
      // A live holder is waited for.
      await redis.zadd(key, (Number(secs) + 0) * 1000, 'live-worker');
      const blocked = new EndpointSlots(redis, config).run(endpoint, 1, async () => 'after');
      const race = await Promise.race([blocked, sleep(400).then(() => 'still waiting')]);
      expect(race).toBe('still waiting');
      await redis.zrem(key, 'live-worker');
      expect(await blocked).toBe('after');
    });

    it('delivers to an endpoint with max concurrency 1 one at a time although two workers take the jobs', async () => {
      let active = 0;
      let peak = 0;
      const got: string[] = [];
      const server: Server = createServer((req, res) => {
        active++;
        peak = Math.max(peak, active);
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          setTimeout(() => {
            got.push(String(JSON.parse(Buffer.concat(chunks).toString()).data?.content?.title));
            active--;
            res.writeHead(200).end('ok');
          }, 120);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
        const ep = await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(u.auth).send({ url, events: ['notification.sent'] });
        expect(ep.status).toBe(201);
        expect(ep.body.max_concurrency).toBe(4);
        const patched = await t.http().patch(`/v1/projects/${p.ref}/webhooks/${ep.body.id}`).set(u.auth).send({ max_concurrency: 1 });
        expect(patched.status).toBe(200);
        expect(patched.body.max_concurrency).toBe(1);
        for (const bad of [0, 51, 1.5, '2']) expect((await t.http().patch(`/v1/projects/${p.ref}/webhooks/${ep.body.id}`).set(u.auth).send({ max_concurrency: bad })).status).toBe(400);
        const titles = Array.from({ length: 8 }, (_, i) => `c${i}`);
        const sends = await Promise.all(titles.map((title) => send(t, p, { to: { email: 'x@example.com' }, content: { title }, channels: ['webhook'] })));
        expect(sends.map((r) => r.status)).toEqual(Array(8).fill(202));
        await waitFor('eight deliveries', async () => got.length >= 8);
        expect(got.sort()).toEqual(titles);
        expect(peak).toBe(1);
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  });

  describe('VAPID keys at provisioning', () => {
    it('gives a new project its key pair in the creating transaction, before any first use', async () => {
      const fresh = await createProject(t, await signup(t, 'nvapid'), 'nvapid');
      const { rows } = await t.sql.query(`SELECT public_key, private_sealed FROM control.notification_vapid_keys WHERE project_id = $1`, [fresh.id]);
      expect(rows).toHaveLength(1);
      // An uncompressed P-256 point, base64url.
      expect(Buffer.from(rows[0].public_key, 'base64url')).toHaveLength(65);
      expect(rows[0].private_sealed).not.toContain(rows[0].public_key);
      const res = await t.http().get(`/p/${fresh.ref}/notifications/v1/push/vapid-public-key`).set('apikey', fresh.publishable);
      expect(res.body.public_key).toBe(rows[0].public_key);
      const other = await createProject(t, await signup(t, 'nvapid2'), 'nvapid2');
      const theirs = await t.sql.query(`SELECT public_key FROM control.notification_vapid_keys WHERE project_id = $1`, [other.id]);
      expect(theirs.rows[0].public_key).not.toBe(rows[0].public_key);
    });

    it('still makes keys on first use for a project created without them (before provisioning made them)', async () => {
      const older = await createProject(t, await signup(t, 'nvapid-old'), 'nvapid-old');
      await t.sql.query(`DELETE FROM control.notification_vapid_keys WHERE project_id = $1`, [older.id]);
      const res = await t.http().get(`/p/${older.ref}/notifications/v1/push/vapid-public-key`).set('apikey', older.publishable);
      expect(res.status).toBe(200);
      const { rows } = await t.sql.query(`SELECT public_key FROM control.notification_vapid_keys WHERE project_id = $1`, [older.id]);
      expect(rows[0].public_key).toBe(res.body.public_key);
    });
  });
});
