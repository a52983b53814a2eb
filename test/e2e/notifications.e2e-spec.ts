import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { Webhook } from 'standardwebhooks';
import { ControlTransactions } from '@plinth/database';
import { InboxWriter, postWebhook } from '@plinth/runtime-notifications';
import { declareTable, registerTestTokens, signUserToken } from '../support/data';
import { SmtpCapture } from '../support/smtp-capture';
import { bootTestApp, createProject, PASSWORD, signup, TestApp, TestProject, TestUser, uniqueEmail } from '../support/test-app';
import { waitFor } from '../support/wait';

/**
 * The notifications runtime end to end: sends (keys, scopes, idempotency) through the outbox and job system, the
 * end user's inbox and its live stream across two api instances, and signed webhooks with retries, dead-letter,
 * replay, rotation and the SSRF guard. Another project's or user's inbox is never reachable.
 */

/** A local webhook receiver that verifies every delivery with the standardwebhooks package (a peer's verifier). */
class Receiver {
  server!: Server;
  url = '';
  readonly received: Array<{ headers: Record<string, string>; body: string; title: string | undefined; verified: unknown; verifiedWith: string[] }> = [];
  /** Statuses to answer, in order, per content title (so a late retry of another test's delivery can't take them); 200 once empty. */
  readonly plan = new Map<string, number[]>();

  /** What arrived for sends titled `title`. */
  of(title: string) {
    return this.received.filter((r) => r.title === title);
  }
  secrets: string[] = [];

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const headers = { 'webhook-id': String(req.headers['webhook-id']), 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) };
        const verifiedWith: string[] = [];
        let verified: unknown = null;
        for (const s of this.secrets) {
          try {
            verified = new Webhook(s).verify(body, headers);
            verifiedWith.push(s);
          } catch {
            // not signed with this one
          }
        }
        const title = (JSON.parse(body) as { data?: { content?: { title?: string } } }).data?.content?.title;
        this.received.push({ headers, body, title, verified, verifiedWith });
        const status = (title !== undefined ? this.plan.get(title)?.shift() : undefined) ?? 200;
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status === 200 ? 'thanks' : `planned failure ${status}`);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('Notifications runtime', () => {
  let t: TestApp;
  let t2: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  const receiver = new Receiver();

  beforeAll(async () => {
    t = await bootTestApp({ JOBS_POLL_MS: '20', METERING_FLUSH_MS: '200', NOTIFICATIONS_SSE_HEARTBEAT_MS: '200', LOG_LEVEL: process.env.NOTIFY_E2E_LOG ?? 'silent' }, process.env.NOTIFY_E2E_LOG ? process.stderr : undefined, { withWorker: true });
    // A second api instance without job processors: streams opened here hear about entries the first one writes.
    t2 = await bootTestApp({ NOTIFICATIONS_SSE_HEARTBEAT_MS: '200' });
    registerTestTokens(t);
    registerTestTokens(t2);
    u = await signup(t, 'notify');
    p = await createProject(t, u, 'notify');
    other = await createProject(t, u, 'notify-other');
    await receiver.start();
  });

  afterAll(async () => {
    await receiver.stop();
    await t2?.close();
    await t?.close();
  });

  const send = (proj: TestProject, key: string, body: object) => t.http().post(`/p/${proj.ref}/notifications/v1/send`).set('apikey', key).send(body);
  const asUser = async (proj: TestProject, userId: string) => ({ apikey: proj.publishable, authorization: `Bearer ${await signUserToken(proj.ref, userId)}` });
  const inbox = async (proj: TestProject, userId: string, query = '') => t.http().get(`/p/${proj.ref}/notifications/v1/inbox${query}`).set(await asUser(proj, userId));

  describe('send', () => {
    it('accepts a send with the secret key (202 and a message id) and puts it in the user\'s inbox', async () => {
      const userId = randomUUID();
      const res = await send(p, p.secret, { to: { user_id: userId }, content: { title: 'Hello', body: 'World' }, data: { order: 7 } });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ id: expect.any(String), status: 'queued', channels: ['inapp'], duplicate: false });
      const items = await waitFor('inbox entry', async () => {
        const r = await inbox(p, userId);
        return r.body.items?.length ? r.body.items : undefined;
      });
      expect(items).toEqual([expect.objectContaining({ message_id: res.body.id, title: 'Hello', body: 'World', data: { order: 7 }, read: false })]);
    });

    it('commits a send\'s entry for one user with the 202: readable at once, on an instance without job processors', async () => {
      const userId = randomUUID();
      const res = await t2.http().post(`/p/${p.ref}/notifications/v1/send`).set('apikey', p.secret).send({ to: { user_id: userId }, content: { title: 'at once' } });
      expect(res.status).toBe(202);
      const items = (await t2.http().get(`/p/${p.ref}/notifications/v1/inbox`).set(await asUser(p, userId))).body.items;
      expect(items).toEqual([expect.objectContaining({ message_id: res.body.id, title: 'at once' })]);
      // Nothing else is left to do: no fan-out job is queued, and no second entry appears.
      const jobs = await t.sql.query(`SELECT count(*)::int AS n FROM control.outbox WHERE dedupe_key = $1`, [`dispatch:${res.body.id}`]);
      expect(jobs.rows[0].n).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect((await inbox(p, userId)).body.items).toHaveLength(1);
    });

    it('returns the first message for a repeated idempotency key and sends nothing again', async () => {
      const userId = randomUUID();
      const body = { to: { user_id: userId }, content: { title: 'once' }, idempotency_key: 'order-42' };
      const first = await send(p, p.secret, body);
      const again = await send(p, p.secret, { ...body, content: { title: 'twice?' } });
      expect(first.status).toBe(202);
      expect(again.status).toBe(202);
      expect(again.body).toMatchObject({ id: first.body.id, duplicate: true });
      await waitFor('inbox entry', async () => ((await inbox(p, userId)).body.items?.length ? true : undefined));
      // Give a second (wrong) fan-out every chance to land before counting.
      await new Promise((r) => setTimeout(r, 300));
      const messages = await t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1 AND recipient->>'user_id' = $2`, [p.id, userId]);
      expect(messages.rows[0].n).toBe(1);
      expect((await inbox(p, userId)).body.items).toHaveLength(1);
    });

    it('answers a burst of concurrent sends (more than the control pool holds) without starving the pool', async () => {
      // A project of its own: its quota state isn't cached yet, so the sends' quota checks must read it.
      const fresh = await createProject(t, await signup(t, 'burst'), 'burst');
      const userId = randomUUID();
      const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => send(fresh, fresh.secret, { to: { user_id: userId }, content: { title: `burst ${i}` }, idempotency_key: `burst-${userId}-${i % 20}` })));
      expect(burst.map((r) => r.status)).toEqual(Array(40).fill(202));
      expect(new Set(burst.map((r) => r.body.id)).size).toBe(20);
      await waitFor('twenty entries', async () => ((await inbox(fresh, userId, '?limit=100')).body.items?.length === 20 ? true : undefined));
    });

    it('takes the same idempotency key again once 24 hours have passed', async () => {
      const userId = randomUUID();
      const body = { to: { user_id: userId }, content: { title: 'daily' }, idempotency_key: 'daily-digest' };
      const first = await send(p, p.secret, body);
      t.clock.travel(24 * 3_600_000 + 1000);
      try {
        const later = await send(p, p.secret, body);
        expect(later.status).toBe(202);
        expect(later.body.duplicate).toBe(false);
        expect(later.body.id).not.toBe(first.body.id);
      } finally {
        t.clock.travel(-(24 * 3_600_000 + 1000));
      }
    });

    it('takes a restricted key only with notifications:send (or notifications:*)', async () => {
      const mk = async (scopes: string[]) => (await t.http().post(`/v1/projects/${p.ref}/keys`).set(u.auth).send({ type: 'restricted', name: scopes.join(','), scopes })).body.key as string;
      const body = { to: { user_id: randomUUID() }, content: { title: 'x' } };
      expect((await send(p, await mk(['notifications:send']), body)).status).toBe(202);
      expect((await send(p, await mk(['notifications:*']), body)).status).toBe(202);
      const write = await send(p, await mk(['notifications:write']), body);
      expect(write.status).toBe(403);
      expect(write.body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('notifications:send') });
      expect((await send(p, await mk(['rest:*']), body)).status).toBe(403);
    });

    it('refuses the publishable key, an end user, another project\'s key and no key', async () => {
      const body = { to: { user_id: randomUUID() }, content: { title: 'x' } };
      expect((await send(p, p.publishable, body)).status).toBe(403);
      const asEndUser = await t.http().post(`/p/${p.ref}/notifications/v1/send`).set(await asUser(p, randomUUID())).send(body);
      expect(asEndUser.status).toBe(403);
      const foreign = await send(p, other.secret, body);
      expect(foreign.status).toBe(401);
      expect(foreign.body.error.code).toBe('invalid_api_key');
      expect((await t.http().post(`/p/${p.ref}/notifications/v1/send`).send(body)).status).toBe(401);
    });

    it('answers bad input with 400 in Plinth\'s error shape and stores nothing', async () => {
      const before = await t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1`, [p.id]);
      for (const body of [{}, { to: { user_id: 'nope' }, content: {} }, { to: { user_id: randomUUID() } }, { to: { user_id: randomUUID() }, content: {}, channels: ['carrier-pigeon'] }, { to: { user_id: randomUUID() }, content: {}, template: 'welcome' }]) {
        const res = await send(p, p.secret, body);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'validation_failed', message: expect.any(String) });
      }
      const malformed = await t.http().post(`/p/${p.ref}/notifications/v1/send`).set('apikey', p.secret).set('content-type', 'application/json').send('{"to":');
      expect(malformed.status).toBe(400);
      const after = await t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1`, [p.id]);
      expect(after.rows[0].n).toBe(before.rows[0].n);
    });
  });

  describe('inbox', () => {
    it('lists, counts, marks read and archived, reads all, and pages with before', async () => {
      const userId = randomUUID();
      // One at a time: concurrent sends land in the inbox in the order their fan-outs commit.
      for (let i = 1; i <= 3; i++) {
        expect((await send(p, p.secret, { to: { user_id: userId }, content: { title: `n${i}` } })).status).toBe(202);
        await waitFor(`entry ${i}`, async () => ((await inbox(p, userId)).body.items?.length === i ? true : undefined));
      }
      const all = await waitFor('three entries', async () => {
        const r = await inbox(p, userId);
        return r.body.items?.length === 3 ? r.body : undefined;
      });
      expect(all.items.map((i: { title: string }) => i.title)).toEqual(['n3', 'n2', 'n1']);
      expect(all.unread_count).toBe(3);

      const page = (await inbox(p, userId, '?limit=2')).body;
      expect(page.items).toHaveLength(2);
      const rest = (await inbox(p, userId, `?limit=2&before=${page.next_before}`)).body;
      expect(rest.items.map((i: { title: string }) => i.title)).toEqual(['n1']);

      const headers = await asUser(p, userId);
      const read = await t.http().patch(`/p/${p.ref}/notifications/v1/inbox/${all.items[0].id}`).set(headers).send({ read: true });
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id: all.items[0].id, read: true });
      expect((await t.http().get(`/p/${p.ref}/notifications/v1/inbox/unread-count`).set(headers)).body).toEqual({ unread_count: 2 });
      expect((await inbox(p, userId, '?unread')).body.items.map((i: { title: string }) => i.title)).toEqual(['n2', 'n1']);

      expect((await t.http().patch(`/p/${p.ref}/notifications/v1/inbox/${all.items[1].id}`).set(headers).send({ archived: true })).status).toBe(200);
      expect((await inbox(p, userId)).body.items.map((i: { title: string }) => i.title)).toEqual(['n3', 'n1']);

      const readAll = await t.http().post(`/p/${p.ref}/notifications/v1/inbox/read-all`).set(headers);
      // Both left unread, the archived one included (read-all is everything, archived or not).
      expect(readAll.body).toEqual({ updated: 2 });
      expect((await t.http().get(`/p/${p.ref}/notifications/v1/inbox/unread-count`).set(headers)).body).toEqual({ unread_count: 0 });
      expect((await t.http().patch(`/p/${p.ref}/notifications/v1/inbox/${all.items[0].id}`).set(headers).send({ read: 'yes' })).status).toBe(400);
    });

    it('never shows or changes another user\'s or another project\'s entries', async () => {
      const alice = randomUUID();
      await send(p, p.secret, { to: { user_id: alice }, content: { title: 'for alice' } });
      const entry = await waitFor('alice\'s entry', async () => (await inbox(p, alice)).body.items?.[0]);

      const bob = randomUUID();
      expect((await inbox(p, bob)).body.items).toEqual([]);
      const bobHeaders = await asUser(p, bob);
      expect((await t.http().patch(`/p/${p.ref}/notifications/v1/inbox/${entry.id}`).set(bobHeaders).send({ read: true })).status).toBe(404);
      // The same user id in another project is another user: nothing there.
      expect((await inbox(other, alice)).body.items).toEqual([]);
      expect((await t.http().patch(`/p/${other.ref}/notifications/v1/inbox/${entry.id}`).set(await asUser(other, alice)).send({ read: true })).status).toBe(404);
      // A token of project p presented to project other is refused outright.
      const crossToken = await t.http().get(`/p/${other.ref}/notifications/v1/inbox`).set({ apikey: other.publishable, authorization: `Bearer ${await signUserToken(p.ref, alice)}` });
      expect(crossToken.status).toBe(401);
      // Keys alone (no end user) have no inbox.
      expect((await t.http().get(`/p/${p.ref}/notifications/v1/inbox`).set('apikey', p.publishable)).status).toBe(401);
      expect((await t.http().get(`/p/${p.ref}/notifications/v1/inbox`).set('apikey', p.secret)).status).toBe(401);
      expect((await inbox(p, alice)).body.items[0].read).toBe(false);
    });
  });

  describe('inbox stream (SSE)', () => {
    const open = (app: TestApp, proj: TestProject, token: string, lastEventId?: string) => {
      const events: Array<{ id: string; data: { title: string } }> = [];
      const es = new EventSource(`${app.baseUrl}/p/${proj.ref}/notifications/v1/inbox/stream`, {
        fetch: (input, init) =>
          fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), apikey: proj.publishable, authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } }),
      });
      es.addEventListener('notification', (e) => events.push({ id: e.lastEventId, data: JSON.parse(e.data) }));
      const opened = new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = (e) => reject(new Error(`stream error ${String((e as { code?: number }).code)}`));
      });
      return { es, events, opened };
    };

    it('delivers an entry written through one api instance to a stream on another, and resumes after Last-Event-ID', async () => {
      const userId = randomUUID();
      const token = await signUserToken(p.ref, userId);
      const s = open(t2, p, token);
      await s.opened;
      await send(p, p.secret, { to: { user_id: userId }, content: { title: 'live 1' } });
      await waitFor('live event', async () => s.events.length === 1);
      expect(s.events[0].data.title).toBe('live 1');
      s.es.close();

      // While disconnected: two more. Reconnecting with the last id gets exactly those, in order.
      await send(p, p.secret, { to: { user_id: userId }, content: { title: 'missed 2' } });
      await waitFor('entry 2 stored', async () => ((await inbox(p, userId)).body.items.length === 2 ? true : undefined));
      await send(p, p.secret, { to: { user_id: userId }, content: { title: 'missed 3' } });
      await waitFor('entries stored', async () => ((await inbox(p, userId)).body.items.length === 3 ? true : undefined));
      const resumed = open(t2, p, token, s.events[0].id);
      await resumed.opened;
      await waitFor('missed events', async () => resumed.events.length === 2);
      expect(resumed.events.map((e) => e.data.title)).toEqual(['missed 2', 'missed 3']);
      resumed.es.close();
    });

    it('streams only the signed-in user\'s own entries, and refuses a stream without an end user', async () => {
      const mine = randomUUID();
      const theirs = randomUUID();
      const s = open(t2, p, await signUserToken(p.ref, mine));
      await s.opened;
      await send(p, p.secret, { to: { user_id: theirs }, content: { title: 'not yours' } });
      await send(other, other.secret, { to: { user_id: mine }, content: { title: 'other project' } });
      await send(p, p.secret, { to: { user_id: mine }, content: { title: 'yours' } });
      await waitFor('own event', async () => s.events.length >= 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(s.events.map((e) => e.data.title)).toEqual(['yours']);
      s.es.close();

      const anon = await fetch(`${t2.baseUrl}/p/${p.ref}/notifications/v1/inbox/stream`, { headers: { apikey: p.publishable } });
      expect(anon.status).toBe(401);
      const noKey = await fetch(`${t2.baseUrl}/p/${p.ref}/notifications/v1/inbox/stream`);
      expect(noKey.status).toBe(401);
    });

    it('gives one user\'s entries their cursors in commit order: a second writer waits for the first to commit', async () => {
      // Streams read "entries after my cursor": an entry that drew a lower cursor but committed later would be skipped.
      const userId = randomUUID();
      const otherUser = randomUUID();
      const messages: Array<Parameters<InboxWriter['write']>[1]> = [];
      for (const title of ['first', 'second', 'elsewhere']) {
        const id = randomUUID();
        await t.sql.query(
          `INSERT INTO control.notification_messages (id, project_id, event, recipient, content, data, channels, created_at) VALUES ($1, $2, 'notification.sent', '{}', $3, '{}', '{inapp}', now())`,
          [id, p.id, JSON.stringify({ title })],
        );
        messages.push((await t.sql.query(`SELECT * FROM control.notification_messages WHERE id = $1`, [id])).rows[0]);
      }
      const writer = t.app.get(InboxWriter);
      const tx = t.app.get(ControlTransactions);
      let release!: () => void;
      let written = false;
      const first = tx.run(async (m) => {
        await writer.write(m, messages[0], [userId], undefined, new Date());
        written = true;
        await new Promise<void>((r) => (release = r));
      });
      await waitFor('the first entry written (uncommitted)', async () => written);
      let secondDone = false;
      const second = tx.run((m) => writer.write(m, messages[1], [userId], undefined, new Date())).then(() => (secondDone = true));
      // Another user's entry doesn't wait for this one's.
      await tx.run((m) => writer.write(m, messages[2], [otherUser], undefined, new Date()));
      await new Promise((r) => setTimeout(r, 300));
      expect(secondDone).toBe(false);
      release();
      await first;
      await second;
      const { rows } = await t.sql.query(`SELECT message_id FROM control.notification_inbox WHERE project_id = $1 AND user_id = $2 ORDER BY seq`, [p.id, userId]);
      expect(rows.map((r: { message_id: string }) => r.message_id)).toEqual([messages[0].id, messages[1].id]);
    });

    it('takes the key and token as query parameters (for a browser\'s EventSource) and sends heartbeats', async () => {
      const userId = randomUUID();
      const token = await signUserToken(p.ref, userId);
      const res = await fetch(`${t.baseUrl}/p/${p.ref}/notifications/v1/inbox/stream?apikey=${p.publishable}&access_token=${token}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      const until = Date.now() + 3000;
      while (!text.includes(': heartbeat') && Date.now() < until) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).toContain(': heartbeat');
      await reader.cancel();
      const wrongToken = await fetch(`${t.baseUrl}/p/${p.ref}/notifications/v1/inbox/stream?apikey=${other.publishable}&access_token=${token}`);
      expect(wrongToken.status).toBe(401);
    });
  });

  // Before the webhook retry tests: they move the app's clock, and the receiver checks timestamps against real time.
  describe('events from data and auth', () => {
    const hooks = new Receiver();
    let ev: TestProject;
    let evOwner: TestUser;
    type Event = { type: string; data: { table: string | null; type: string; record: Record<string, unknown> | null; old_record: Record<string, unknown> | null; sequence: number } };
    const events = () => hooks.received.map((r) => JSON.parse(r.body) as Event);

    beforeAll(async () => {
      await hooks.start();
      evOwner = await signup(t, 'events');
      ev = await createProject(t, evOwner, 'events');
      // Declared before the subscription: capture is switched on when the endpoint subscribes.
      await declareTable(t, evOwner, ev, { name: 'items', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'label', type: 'text' }] });
      const res = await t.http().post(`/v1/projects/${ev.ref}/webhooks`).set(evOwner.auth).send({ url: hooks.url, events: ['orders.insert', 'orders.update', 'orders.delete', 'items.insert', 'user.created', 'user.signed_in', 'user.deleted'] });
      expect(res.status).toBe(201);
      hooks.secrets = [res.body.secret];
      // Declared after it: the data runtime's table hook switches capture on in the declaring transaction.
      await declareTable(t, evOwner, ev, { name: 'orders', columns: [{ name: 'id', type: 'int8', primary_key: true }, { name: 'status', type: 'text' }] });
    });

    afterAll(() => hooks.stop());

    beforeEach(() => {
      hooks.received.length = 0;
    });

    const rest = (method: 'post' | 'patch' | 'delete', path: string) => t.http()[method](`/p/${ev.ref}/rest/v1/${path}`).set('apikey', ev.secret);

    it('sends insert, update (with the old row) and delete of a row once each, numbered in commit order', async () => {
      expect((await rest('post', 'orders').send({ id: 1, status: 'new' })).status).toBe(201);
      expect((await rest('patch', 'orders?id=eq.1').send({ status: 'paid' })).status).toBe(204);
      expect((await rest('delete', 'orders?id=eq.1')).status).toBe(204);
      await waitFor('three events', async () => hooks.received.length >= 3);
      await new Promise((r) => setTimeout(r, 500));
      const got = events().sort((a, b) => a.data.sequence - b.data.sequence);
      expect(got.map((e) => e.type)).toEqual(['orders.insert', 'orders.update', 'orders.delete']);
      expect(got[0].data).toMatchObject({ table: 'orders', type: 'insert', record: { id: 1, status: 'new' }, old_record: null });
      expect(got[1].data).toMatchObject({ type: 'update', record: { id: 1, status: 'paid' }, old_record: { id: 1, status: 'new' } });
      expect(got[2].data).toMatchObject({ type: 'delete', record: null, old_record: { id: 1, status: 'paid' } });
      expect(hooks.received.every((r) => r.verifiedWith.length === 1)).toBe(true);
    });

    it('sends nothing for a write that rolls back', async () => {
      // The first row's trigger fires, then the second row violates the primary key: the statement rolls back.
      const res = await rest('post', 'orders').send([{ id: 2, status: 'a' }, { id: 2, status: 'b' }]);
      expect(res.status).toBe(409);
      expect((await rest('post', 'items').send({ id: 9, label: 'after' })).status).toBe(201);
      await waitFor('the later event', async () => hooks.received.length >= 1);
      await new Promise((r) => setTimeout(r, 500));
      expect(events().map((e) => e.type)).toEqual(['items.insert']);
      const left = await t.sql.query(`SELECT count(*)::int AS n FROM "t_${ev.ref}"._notify_events`);
      expect(left.rows[0].n).toBe(0);
    });

    it('sends user.created, user.signed_in and user.deleted without secrets', async () => {
      const cfg = await t.http().patch(`/v1/projects/${ev.ref}/auth/config`).set(evOwner.auth).send({ email_confirm_required: false });
      expect(cfg.status).toBe(200);
      const email = uniqueEmail('evuser');
      const su = await t.http().post(`/p/${ev.ref}/auth/v1/signup`).set('apikey', ev.publishable).send({ email, password: PASSWORD });
      expect(su.status).toBe(200);
      const userId = su.body.user?.id ?? su.body.id;
      await waitFor('user.created', async () => events().some((e) => e.type === 'user.created'));
      const signIn = await t.http().post(`/p/${ev.ref}/auth/v1/token?grant_type=password`).set('apikey', ev.publishable).send({ email, password: PASSWORD });
      expect(signIn.status).toBe(200);
      await waitFor('user.signed_in', async () => events().filter((e) => e.type === 'user.signed_in').length >= 1);
      expect((await t.http().delete(`/p/${ev.ref}/auth/v1/admin/users/${userId}`).set('apikey', ev.secret)).status).toBe(200);
      await waitFor('user.deleted', async () => events().some((e) => e.type === 'user.deleted'));
      const created = events().find((e) => e.type === 'user.created')!;
      expect(created.data.record).toMatchObject({ id: userId, email });
      for (const r of hooks.received) expect(r.body).not.toMatch(/encrypted_password|\$argon2/);
    });

    it('keeps captured changes out of the data role\'s reach', async () => {
      await t.sql.query('BEGIN');
      try {
        await t.sql.query(`SET LOCAL ROLE "t_${ev.ref}_data"`);
        await expect(t.sql.query(`SELECT * FROM "t_${ev.ref}"._notify_events`)).rejects.toThrow(/permission denied/);
      } finally {
        await t.sql.query('ROLLBACK');
      }
      expect((await t.http().get(`/p/${ev.ref}/rest/v1/_notify_events`).set('apikey', ev.secret)).status).toBe(404);
    });
  });

  describe('webhooks', () => {
    let endpoint: { id: string; secret: string };
    const deliveries = async (query = '') => (await t.http().get(`/v1/projects/${p.ref}/notifications/deliveries${query}`).set(u.auth)).body.deliveries;

    beforeAll(async () => {
      const res = await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(u.auth).send({ url: receiver.url, events: ['notification.sent', 'webhook.test'], description: 'orders' });
      expect(res.status).toBe(201);
      expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      endpoint = res.body;
      receiver.secrets = [endpoint.secret];
    });

    beforeEach(() => {
      receiver.received.length = 0;
    });

    it('shows the secret once: never in a list or a read', async () => {
      const list = await t.http().get(`/v1/projects/${p.ref}/webhooks`).set(u.auth);
      expect(list.status).toBe(200);
      expect(JSON.stringify(list.body)).not.toContain(endpoint.secret.slice(6, 20));
      expect((await t.http().get(`/v1/projects/${p.ref}/webhooks/${endpoint.id}`).set(u.auth)).body.secret).toBeUndefined();
      const stored = await t.sql.query(`SELECT secret_sealed FROM control.webhook_endpoints WHERE id = $1`, [endpoint.id]);
      expect(stored.rows[0].secret_sealed).not.toContain(endpoint.secret.slice(6, 20));
    });

    it('delivers a send signed per Standard Webhooks (verified by the standardwebhooks package) and logs the attempt', async () => {
      const res = await send(p, p.secret, { to: { user_id: randomUUID() }, content: { title: 'hook' }, channels: ['webhook'] });
      await waitFor('delivery', async () => receiver.received.length === 1);
      const got = receiver.received[0];
      expect(got.verifiedWith).toEqual([endpoint.secret]);
      expect(got.verified).toMatchObject({ type: 'notification.sent', data: { message_id: res.body.id, content: { title: 'hook' } } });
      expect(got.headers['webhook-id']).toMatch(/^msg_/);
      const logged = await waitFor('logged success', async () => (await deliveries('?channel=webhook')).find((d: { message_id: string; status: string }) => d.message_id === res.body.id && d.status === 'succeeded'));
      expect(logged.attempts).toEqual([expect.objectContaining({ attempt: 1, status: 200, latency_ms: expect.any(Number), response_excerpt: 'thanks', error: null })]);
    });

    it('delivers a templated send with the template\'s rendered payload beside the content', async () => {
      const tpl = await t.http().post(`/v1/projects/${p.ref}/notifications/templates`).set(u.auth).send({ name: 'hook-tpl', inapp: { title: 'templated hook {{ order }}' }, webhook: { payload: { order: '{{ order }}', note: 'for {{ who | upcase }}', fixed: 7 } } });
      expect(tpl.status).toBe(201);
      const res = await send(p, p.secret, { to: { user_id: randomUUID() }, template: 'hook-tpl', data: { order: 9, who: 'ann' }, channels: ['webhook'] });
      expect(res.status).toBe(202);
      await waitFor('templated delivery', async () => receiver.of('templated hook 9').length === 1);
      const got = receiver.of('templated hook 9')[0];
      expect(got.verifiedWith).toEqual([endpoint.secret]);
      expect(got.verified).toMatchObject({ type: 'notification.sent', data: { message_id: res.body.id, template: 'hook-tpl', payload: { order: '9', note: 'for ANN', fixed: 7 }, data: { order: 9, who: 'ann' } } });
    });

    it('test-sends to one endpoint, and signs with both secrets during a rotation\'s overlap', async () => {
      const rotated = await t.http().post(`/v1/projects/${p.ref}/webhooks/${endpoint.id}/rotate-secret`).set(u.auth).send({ overlap_seconds: 3600 });
      expect(rotated.status).toBe(200);
      expect(rotated.body.secret).not.toBe(endpoint.secret);
      receiver.secrets = [endpoint.secret, rotated.body.secret];
      const test = await t.http().post(`/v1/projects/${p.ref}/webhooks/${endpoint.id}/test`).set(u.auth);
      expect(test.status).toBe(202);
      await waitFor('test delivery', async () => receiver.received.length === 1);
      expect(receiver.received[0].verifiedWith).toEqual([endpoint.secret, rotated.body.secret]);
      expect(receiver.received[0].verified).toMatchObject({ type: 'webhook.test' });

      // After the overlap only the new secret signs. (The clock has moved, so the receiver's timestamp check would
      // refuse the delivery: the signature is compared with the one the standardwebhooks package computes.)
      t.clock.travel(3601_000);
      try {
        await t.http().post(`/v1/projects/${p.ref}/webhooks/${endpoint.id}/test`).set(u.auth);
        await waitFor('second test delivery', async () => receiver.received.length === 2);
      } finally {
        t.clock.travel(-3601_000);
      }
      const late = receiver.received[1];
      const expected = new Webhook(rotated.body.secret).sign(late.headers['webhook-id'], new Date(Number(late.headers['webhook-timestamp']) * 1000), late.body);
      expect(late.headers['webhook-signature']).toBe(expected);
      endpoint = { ...endpoint, secret: rotated.body.secret };
      receiver.secrets = [endpoint.secret];
    });

    it('retries a failing endpoint with backoff (same webhook-id), then succeeds', async () => {
      receiver.plan.set('flaky', [500, 503]);
      const res = await send(p, p.secret, { to: { user_id: randomUUID() }, content: { title: 'flaky' }, channels: ['webhook'] });
      const find = async () => (await deliveries()).find((d: { message_id: string }) => d.message_id === res.body.id);
      const first = await waitFor('first retry scheduled', async () => ((await find())?.attempt_count === 1 ? find() : undefined));
      expect(first.status).toBe('retrying');
      const wait = new Date(first.next_attempt_at).getTime() - t.clock.nowMs();
      expect(wait).toBeGreaterThan(3_000); // 5 s ± 20 %
      expect(wait).toBeLessThan(6_100);
      // Not before its time.
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.of('flaky')).toHaveLength(1);
      t.clock.travel(wait + 100);
      const second = await waitFor('second retry scheduled', async () => ((await find())?.attempt_count === 2 ? find() : undefined));
      const wait2 = new Date(second.next_attempt_at).getTime() - t.clock.nowMs();
      expect(wait2).toBeGreaterThan(4 * 60_000); // 5 min ± 20 %
      expect(wait2).toBeLessThan(6 * 60_000 + 100);
      t.clock.travel(wait2 + 100);
      const done = await waitFor('succeeded', async () => ((await find())?.status === 'succeeded' ? find() : undefined));
      expect(done.attempts.map((a: { status: number }) => a.status)).toEqual([500, 503, 200]);
      expect(done.attempts.map((a: { error: string | null }) => a.error)).toEqual(['HTTP 500', 'HTTP 503', null]);
      expect(done.attempts[0].response_excerpt).toBe('planned failure 500');
      expect(new Set(receiver.of('flaky').map((r) => r.headers['webhook-id'])).size).toBe(1);
    });

    it('dead-letters after 8 attempts over about a day, and replays a dead delivery', async () => {
      receiver.plan.set('doomed', Array(8).fill(500));
      const res = await send(p, p.secret, { to: { user_id: randomUUID() }, content: { title: 'doomed' }, channels: ['webhook'] });
      const find = async () => (await deliveries()).find((d: { message_id: string }) => d.message_id === res.body.id);
      let travelled = 0;
      for (let n = 1; n < 8; n++) {
        const d = await waitFor(`retry ${n} scheduled`, async () => ((await find())?.attempt_count === n ? find() : undefined));
        const step = new Date(d.next_attempt_at).getTime() - t.clock.nowMs() + 100;
        t.clock.travel(step);
        travelled += step;
      }
      const dead = await waitFor('dead', async () => ((await find())?.status === 'dead' ? find() : undefined));
      expect(dead.attempts).toHaveLength(8);
      expect(receiver.of('doomed')).toHaveLength(8);
      expect(dead.next_attempt_at).toBeNull();
      expect(travelled).toBeGreaterThan(20 * 3_600_000);
      expect(travelled).toBeLessThan(34 * 3_600_000);
      expect((await deliveries('?status=dead')).map((d: { id: string }) => d.id)).toContain(dead.id);

      const replay = await t.http().post(`/v1/projects/${p.ref}/notifications/deliveries/${dead.id}/replay`).set(u.auth);
      expect(replay.status).toBe(202);
      const replayed = await waitFor('replayed', async () => ((await find())?.status === 'succeeded' ? find() : undefined));
      expect(replayed.attempts).toHaveLength(9);
      expect(receiver.of('doomed')).toHaveLength(9);
      expect((await t.http().post(`/v1/projects/${p.ref}/notifications/deliveries/${dead.id}/replay`).set(u.auth)).status).toBe(202);
      expect((await t.http().post(`/v1/projects/${p.ref}/notifications/deliveries/${randomUUID()}/replay`).set(u.auth)).status).toBe(404);
    });

    it('keeps endpoints and deliveries to their project and members', async () => {
      const stranger = await signup(t, 'stranger');
      expect((await t.http().get(`/v1/projects/${p.ref}/webhooks`).set(stranger.auth)).status).toBe(404);
      expect((await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(stranger.auth).send({ url: receiver.url, events: ['*'] })).status).toBe(404);
      expect((await t.http().get(`/v1/projects/${p.ref}/notifications/deliveries`).set(stranger.auth)).status).toBe(404);
      expect((await t.http().get(`/v1/projects/${other.ref}/webhooks/${endpoint.id}`).set(u.auth)).status).toBe(404);
      expect((await t.http().post(`/v1/projects/${other.ref}/webhooks/${endpoint.id}/rotate-secret`).set(u.auth).send({})).status).toBe(404);
      const otherDeliveries = (await t.http().get(`/v1/projects/${other.ref}/notifications/deliveries`).set(u.auth)).body.deliveries;
      expect(otherDeliveries.filter((d: { channel: string }) => d.channel === 'webhook')).toEqual([]);
      expect((await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(u.auth).send({ url: 'ftp://x', events: ['*'] })).status).toBe(400);
      expect((await t.http().post(`/v1/projects/${p.ref}/webhooks`).set(u.auth).send({ url: receiver.url, events: ['nope'] })).status).toBe(400);
    });
  });

  describe('email', () => {
    const smtp = new SmtpCapture();
    beforeAll(() => smtp.start());
    afterAll(() => smtp.stop());

    it('sends through the project\'s own SMTP settings, logs the delivery and meters notifications:email', async () => {
      const owner = await signup(t, 'mail');
      const proj = await createProject(t, owner, 'mail');
      const cfg = await t.http().patch(`/v1/projects/${proj.ref}/auth/config`).set(owner.auth).send({ smtp: { host: '127.0.0.1', port: smtp.port, user: 'notify-user', pass: 'pw', sender_email: 'news@shop.example', sender_name: 'Shop' } });
      expect(cfg.status).toBe(200);
      const to = `reader-${Date.now()}@example.com`;
      const res = await send(proj, proj.secret, { to: { email: to }, content: { title: 'Your receipt', body: 'Thanks for <shopping>' } });
      expect(res.status).toBe(202);
      expect(res.body.channels).toEqual(['email']);
      const mail = await smtp.waitFor(to, 15_000);
      expect(mail.subject).toBe('Your receipt');
      expect(mail.authUser).toBe('notify-user');
      expect(mail.raw).toMatch(/From: Shop <news@shop\.example>/);
      expect(mail.body).toContain('Thanks for <shopping>');
      expect(mail.body).toContain('Thanks for &#60;shopping&#62;');
      const logged = await waitFor('email delivery', async () => {
        const d = (await t.http().get(`/v1/projects/${proj.ref}/notifications/deliveries?channel=email`).set(owner.auth)).body.deliveries;
        return d?.[0]?.status === 'succeeded' ? d[0] : undefined;
      });
      expect(logged).toMatchObject({ channel: 'email', message_id: res.body.id, attempt_count: 1 });
      expect(logged.attempts[0]).toMatchObject({ attempt: 1, error: null });
      // Exactly one: nothing more arrives for that address.
      await new Promise((r) => setTimeout(r, 300));
      expect(smtp.mails.filter((m) => m.to.includes(to))).toHaveLength(0);
      const metered = await waitFor('email metered', async () => {
        const r = await t.sql.query(`SELECT coalesce(sum(quantity), 0)::int AS n FROM control.usage_minute WHERE project_id = $1 AND meter = 'notifications:email'`, [proj.id]);
        return r.rows[0].n >= 1 ? r.rows[0].n : undefined;
      }, 20_000);
      expect(metered).toBe(1);
    });

    it('refuses an email send without an address, user or topic, and an inapp send without a user, with 400', async () => {
      expect((await send(p, p.secret, { to: {}, content: { title: 'x' }, channels: ['email'] })).status).toBe(400);
      expect((await send(p, p.secret, { to: { email: 'a@example.com' }, content: { title: 'x' }, channels: ['inapp'] })).status).toBe(400);
      expect((await send(p, p.secret, { to: { email: 'not-an-address' }, content: { title: 'x' } })).status).toBe(400);
    });
  });

  describe('metering and quota', () => {
    it('meters notifications:inapp per entry and refuses new sends past the project\'s cap with 402 (a repeat still answers)', async () => {
      const owner = await signup(t, 'quota');
      const proj = await createProject(t, owner, 'quota');
      expect((await t.http().put(`/v1/projects/${proj.ref}/limits`).set(owner.auth).send({ meter_caps: { notifications: 2 } })).status).toBe(200);
      const userId = randomUUID();
      const first = await send(proj, proj.secret, { to: { user_id: userId }, content: { title: 'one' }, idempotency_key: 'q-1' });
      expect(first.status).toBe(202);
      await waitFor('first entry', async () => ((await inbox(proj, userId)).body.items?.length === 1 ? true : undefined));
      expect((await send(proj, proj.secret, { to: { user_id: userId }, content: { title: 'two' } })).status).toBe(202);
      await waitFor('second entry', async () => ((await inbox(proj, userId)).body.items?.length === 2 ? true : undefined));
      const third = await send(proj, proj.secret, { to: { user_id: userId }, content: { title: 'three' } });
      expect(third.status).toBe(402);
      expect(third.body.error).toMatchObject({ code: 'quota_exceeded', meter: 'notifications', limit: 2 });
      const repeat = await send(proj, proj.secret, { to: { user_id: userId }, content: { title: 'one' }, idempotency_key: 'q-1' });
      expect(repeat.status).toBe(202);
      expect(repeat.body).toMatchObject({ id: first.body.id, duplicate: true });
      const usage = await waitFor('usage flushed', async () => {
        const r = await t.sql.query(`SELECT coalesce(sum(quantity), 0)::int AS n FROM control.usage_minute WHERE project_id = $1 AND meter = 'notifications:inapp'`, [proj.id]);
        return r.rows[0].n >= 2 ? r.rows[0].n : undefined;
      }, 20_000);
      expect(usage).toBe(2);
    });
  });

  describe('SSRF guard (production mode)', () => {
    const policy = { allowPrivate: false, timeoutMs: 2000, maxResponseBytes: 100, userAgent: 'test' };

    it('refuses literal private, loopback and metadata addresses before connecting', async () => {
      for (const url of [receiver.url, 'http://10.0.0.5/x', 'http://169.254.169.254/latest', 'http://[::1]:80/', 'http://localhost:1/']) {
        const before = receiver.received.length;
        const r = await postWebhook({ url, headers: {}, body: '{}' }, policy);
        expect(r).toMatchObject({ refused: true, status: null });
        expect(receiver.received.length).toBe(before);
      }
    });

    it('refuses a name that resolves only to private addresses (decided in the socket\'s own lookup)', async () => {
      const resolve = (_h: string, _o: unknown, cb: (e: null, a: Array<{ address: string; family: number }>) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
      const r = await postWebhook({ url: receiver.url.replace('127.0.0.1', 'hooks.customer.example'), headers: {}, body: '{}' }, { ...policy, resolve });
      expect(r.refused).toBe(true);
      expect(r.error).toMatch(/non-public/);
    });

    it('refuses to save a private webhook URL when the app refuses private targets', async () => {
      const prod = await bootTestApp({ OUTBOUND_ALLOW_PRIVATE: 'false' });
      try {
        const owner = await signup(prod, 'prod');
        const proj = await createProject(prod, owner, 'prod');
        for (const url of [receiver.url, 'http://localhost:9/x', 'http://169.254.169.254/']) {
          const res = await prod.http().post(`/v1/projects/${proj.ref}/webhooks`).set(owner.auth).send({ url, events: ['*'] });
          expect(res.status).toBe(400);
          expect(res.body.error.message).toMatch(/refused/);
        }
      } finally {
        await prod.close();
      }
    });
  });
});
