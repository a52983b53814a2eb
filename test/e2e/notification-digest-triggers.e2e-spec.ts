import { randomUUID } from 'node:crypto';
import { declareTable, putRules, registerTestTokens, signUserToken } from '../support/data';
import { SmtpCapture } from '../support/smtp-capture';
import { bootTestApp, createProject, PASSWORD, signup, TestApp, TestProject, TestUser, uniqueEmail } from '../support/test-app';
import { waitFor, sleep } from '../support/wait';

/**
 * Digests (sends to one subscriber within a template's window become one email, sent through the job system when
 * the window closes) and template triggers (data and auth events that send a template to the user the row names,
 * into the inbox and by email). A rolled-back write sends nothing; no other user or project gets anything.
 */

describe('Notification digests and triggers', () => {
  let t: TestApp;
  let owner: TestUser;
  let p: TestProject;
  let other: TestProject;
  const smtp = new SmtpCapture();
  const templates = (proj: TestProject) => `/v1/projects/${proj.ref}/notifications/templates`;
  const send = (proj: TestProject, body: object) => t.http().post(`/p/${proj.ref}/notifications/v1/send`).set('apikey', proj.secret).send(body);
  const asUser = async (proj: TestProject, userId: string) => ({ apikey: proj.publishable, authorization: `Bearer ${await signUserToken(proj.ref, userId)}` });
  const inbox = async (proj: TestProject, userId: string) => (await t.http().get(`/p/${proj.ref}/notifications/v1/inbox`).set(await asUser(proj, userId))).body.items as Array<Record<string, unknown>>;
  const mailsTo = (to: string) => smtp.mails.filter((m) => m.to.includes(to.toLowerCase()));

  beforeAll(async () => {
    t = await bootTestApp({ JOBS_POLL_MS: '20', LOG_LEVEL: 'silent' }, undefined, { withWorker: true });
    registerTestTokens(t);
    owner = await signup(t, 'digest');
    p = await createProject(t, owner, 'digest');
    other = await createProject(t, owner, 'digest-other');
    await smtp.start();
    for (const proj of [p, other]) {
      const cfg = await t.http().patch(`/v1/projects/${proj.ref}/auth/config`).set(owner.auth).send({ email_confirm_required: false, smtp: { host: '127.0.0.1', port: smtp.port, user: 'u', pass: 'pw', sender_email: 'news@shop.example', sender_name: 'Shop' } });
      expect(cfg.status).toBe(200);
    }
  });

  afterAll(async () => {
    await smtp.stop();
    await t?.close();
  });

  describe('digest', () => {
    beforeAll(async () => {
      const res = await t.http().post(templates(p)).set(owner.auth).send({
        name: 'comments',
        email: { subject: '{{ count }} new comments', text: '{% for e in events %}[{{ e.author }}: {{ e.text }}]{% endfor %}' },
        inapp: { title: 'Comment from {{ author }}' },
        digest: { window_seconds: 2, key: '{{ post }}' },
      });
      expect(res.status).toBe(201);
      expect(res.body.digest).toEqual({ window_seconds: 2, key: '{{ post }}' });
    });

    it('batches sends to one address within the window into one email with the list of events, sent when the window closes', async () => {
      const to = uniqueEmail('dig');
      const elsewhere = uniqueEmail('dig-other');
      const started = Date.now();
      for (const [author, text] of [['ann', 'first'], ['bo', 'second'], ['cy', 'third']]) {
        expect((await send(p, { to: { email: to }, template: 'comments', data: { post: 'p1', author, text }, channels: ['email'] })).status).toBe(202);
      }
      // Another address's digest is its own.
      expect((await send(p, { to: { email: elsewhere }, template: 'comments', data: { post: 'p1', author: 'dee', text: 'other' }, channels: ['email'] })).status).toBe(202);
      const mail = await smtp.waitFor(to, 15_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
      expect(mail.subject).toBe('3 new comments');
      expect(mail.body).toContain('[ann: first][bo: second][cy: third]');
      const theirs = await smtp.waitFor(elsewhere, 15_000);
      expect(theirs.subject).toBe('1 new comments');
      expect(theirs.body).toContain('[dee: other]');
      expect(theirs.body).not.toContain('[ann: first]');
      // Nothing else goes to that address: the three sends made one email.
      await sleep(1_500);
      expect(mailsTo(to)).toHaveLength(0);
      // One logged delivery to the address: the digest's (the sends made none of their own).
      const logged = await waitFor('the logged delivery', async () => {
        const { rows } = await t.sql.query(`SELECT status, event FROM control.notification_deliveries WHERE project_id = $1 AND target = $2`, [p.id, to]);
        return rows.length && rows.every((d: { status: string }) => d.status === 'succeeded') ? rows : undefined;
      });
      expect(logged).toEqual([{ status: 'succeeded', event: 'notification.digest' }]);
    });

    it('keeps digests apart by key, and a send after the window closed starts the next digest', async () => {
      const to = uniqueEmail('dig-key');
      await send(p, { to: { email: to }, template: 'comments', data: { post: 'a', author: 'x', text: 'on a' }, channels: ['email'] });
      await send(p, { to: { email: to }, template: 'comments', data: { post: 'b', author: 'y', text: 'on b' }, channels: ['email'] });
      const first = await smtp.waitFor(to, 15_000);
      const second = await smtp.waitFor(to, 15_000);
      expect([first.body, second.body].map((b) => (b.includes('on a') ? 'a' : '') + (b.includes('on b') ? 'b' : '')).sort()).toEqual(['a', 'b']);
      await send(p, { to: { email: to }, template: 'comments', data: { post: 'a', author: 'z', text: 'later' }, channels: ['email'] });
      const later = await smtp.waitFor(to, 15_000);
      expect(later.subject).toBe('1 new comments');
      expect(later.body).toContain('[z: later]');
    });

    it('digests only the email: in-app entries arrive one per send at once', async () => {
      const userId = randomUUID();
      await send(p, { to: { user_id: userId }, template: 'comments', data: { post: 'p', author: 'ann', text: 'hi' }, channels: ['inapp'] });
      await send(p, { to: { user_id: userId }, template: 'comments', data: { post: 'p', author: 'bo', text: 'yo' }, channels: ['inapp'] });
      const items = await waitFor('two entries', async () => {
        const got = await inbox(p, userId);
        return got.length === 2 ? got : undefined;
      }, 1_900);
      expect(items.map((i) => i.title).sort()).toEqual(['Comment from ann', 'Comment from bo']);
    });

    it('refuses a digest without an email part or with a bad window (400, nothing stored)', async () => {
      const bad = [
        { name: 'd1', inapp: { title: 'x' }, digest: { window_seconds: 60 } },
        { name: 'd2', email: { subject: 'x' }, digest: { window_seconds: 0 } },
        { name: 'd3', email: { subject: 'x' }, digest: { window_seconds: 86_401 } },
        { name: 'd4', email: { subject: 'x' }, digest: { window_seconds: 60, key: '{% if %}' } },
      ];
      for (const body of bad) expect([body.name, (await t.http().post(templates(p)).set(owner.auth).send(body)).status]).toEqual([body.name, 400]);
      const names = (await t.http().get(templates(p)).set(owner.auth)).body.map((x: { name: string }) => x.name);
      expect(names).toEqual(['comments']);
    });
  });

  describe('triggers', () => {
    let trig: TestProject;
    let trigOwner: TestUser;

    beforeAll(async () => {
      trigOwner = await signup(t, 'trig');
      trig = await createProject(t, trigOwner, 'trig');
      const cfg = await t.http().patch(`/v1/projects/${trig.ref}/auth/config`).set(trigOwner.auth).send({ email_confirm_required: false, smtp: { host: '127.0.0.1', port: smtp.port, user: 'u', pass: 'pw', sender_email: 'news@trig.example', sender_name: 'Trig' } });
      expect(cfg.status).toBe(200);
      // Declared before the template: the template's trigger switches capture on in the saving transaction.
      await declareTable(t, trigOwner, trig, {
        name: 'orders',
        columns: [
          { name: 'id', type: 'int8', primary_key: true },
          { name: 'owner_id', type: 'uuid', default: 'auth.uid' },
          { name: 'item', type: 'text' },
        ],
      });
      await putRules(t, trigOwner, trig, 'orders', [{ role: 'authenticated', action: ['read', 'create', 'update'], where: { owner_id: '$auth.uid' } }]);
      const res = await t.http().post(templates(trig)).set(trigOwner.auth).send({
        name: 'order-placed',
        inapp: { title: 'Order {{ record.id }} placed', body: '{{ record.item }}' },
        email: { subject: 'Order {{ record.id }}', text: 'You ordered {{ record.item }}' },
        triggers: [{ event: 'orders.insert', user_id_column: 'owner_id', channels: ['inapp', 'email'] }],
      });
      expect(res.status).toBe(201);
      const welcome = await t.http().post(templates(trig)).set(trigOwner.auth).send({ name: 'welcome', inapp: { title: 'Welcome {{ record.email }}' }, triggers: [{ event: 'user.created' }] });
      expect(welcome.status).toBe(201);
    });

    const signUp = async () => {
      const email = uniqueEmail('trig-user');
      const su = await t.http().post(`/p/${trig.ref}/auth/v1/signup`).set('apikey', trig.publishable).send({ email, password: PASSWORD });
      expect(su.status).toBe(200);
      return { email, id: (su.body.user?.id ?? su.body.id) as string };
    };

    it('puts an insert through /rest/v1 into the row owner\'s inbox and mail; another user\'s inbox stays empty', async () => {
      const buyer = await signUp();
      const bystander = await signUp();
      const res = await t.http().post(`/p/${trig.ref}/rest/v1/orders`).set({ apikey: trig.publishable, authorization: `Bearer ${await signUserToken(trig.ref, buyer.id)}` }).send({ id: 11, item: 'teapot' });
      expect(res.status).toBe(201);
      const items = await waitFor('the order entry', async () => {
        const got = (await inbox(trig, buyer.id)).filter((i) => String(i.title).startsWith('Order'));
        return got.length ? got : undefined;
      });
      expect(items).toEqual([expect.objectContaining({ title: 'Order 11 placed', body: 'teapot' })]);
      const mail = await smtp.waitFor(buyer.email, 15_000);
      expect(mail.subject).toBe('Order 11');
      expect(mail.body).toContain('You ordered teapot');
      await sleep(500);
      expect((await inbox(trig, bystander.id)).filter((i) => String(i.title).startsWith('Order'))).toEqual([]);
      expect(mailsTo(bystander.email).filter((m) => m.subject.startsWith('Order'))).toEqual([]);
    });

    it('sends nothing for a write that rolls back', async () => {
      const buyer = await signUp();
      const headers = { apikey: trig.publishable, authorization: `Bearer ${await signUserToken(trig.ref, buyer.id)}` };
      // The first row's trigger fires, then the second row violates the primary key: the statement rolls back.
      const res = await t.http().post(`/p/${trig.ref}/rest/v1/orders`).set(headers).send([{ id: 21, item: 'a' }, { id: 21, item: 'b' }]);
      expect(res.status).toBe(409);
      expect((await t.http().post(`/p/${trig.ref}/rest/v1/orders`).set(headers).send({ id: 22, item: 'after' })).status).toBe(201);
      await waitFor('the later entry', async () => (await inbox(trig, buyer.id)).some((i) => i.title === 'Order 22 placed'));
      await sleep(500);
      expect((await inbox(trig, buyer.id)).filter((i) => String(i.title).startsWith('Order')).map((i) => i.title)).toEqual(['Order 22 placed']);
    });

    it('follows auth events: user.created puts a welcome into the new user\'s own inbox', async () => {
      const user = await signUp();
      const items = await waitFor('welcome', async () => {
        const got = (await inbox(trig, user.id)).filter((i) => String(i.title).startsWith('Welcome'));
        return got.length ? got : undefined;
      });
      expect(items).toEqual([expect.objectContaining({ title: `Welcome ${user.email}` })]);
    });

    it('never reaches another project: the same user id there gets nothing, and the trigger is the project\'s own', async () => {
      const buyer = await signUp();
      await t.http().post(`/p/${trig.ref}/rest/v1/orders`).set({ apikey: trig.publishable, authorization: `Bearer ${await signUserToken(trig.ref, buyer.id)}` }).send({ id: 31, item: 'kettle' }).expect(201);
      await waitFor('entry', async () => (await inbox(trig, buyer.id)).some((i) => i.title === 'Order 31 placed'));
      expect(await inbox(other, buyer.id)).toEqual([]);
      expect((await t.http().get(templates(trig)).set(owner.auth)).status).toBe(404);
    });

    it('refuses a table trigger without a user column and unknown events (400)', async () => {
      for (const triggers of [[{ event: 'orders.insert' }], [{ event: 'orders.upsert', user_id_column: 'owner_id' }], [{ event: 'user.created', channels: ['webhook'] }]]) {
        const res = await t.http().post(templates(trig)).set(trigOwner.auth).send({ name: `bad-${randomUUID().slice(0, 8)}`, inapp: { title: 'x' }, triggers });
        expect([JSON.stringify(triggers), res.status]).toEqual([JSON.stringify(triggers), 400]);
      }
    });
  });
});
