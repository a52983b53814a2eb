import { randomUUID } from 'node:crypto';
import { registerTestTokens, signUserToken } from '../support/data';
import { SmtpCapture } from '../support/smtp-capture';
import { addMember, bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { waitFor } from '../support/wait';

/**
 * Notification templates: the management API (CRUD, validation, preview), sandboxed Liquid rendering (no file
 * system, no prototype walks, bounded render), sends that name a template (inbox and email get what it rendered),
 * and isolation (another project's members, keys and refs never read, change or use a template).
 */

describe('Notification templates', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  const smtp = new SmtpCapture();
  const base = (proj: TestProject) => `/v1/projects/${proj.ref}/notifications/templates`;
  const send = (proj: TestProject, body: object) => t.http().post(`/p/${proj.ref}/notifications/v1/send`).set('apikey', proj.secret).send(body);
  const welcome = {
    name: 'welcome',
    description: 'first mail',
    email: { subject: 'Welcome, {{ name }}!', text: 'Hi {{ name }}, you have {{ items | size }} items.', html: '<p>Hi {{ name }}</p>{% for i in items %}<li>{{ i }}</li>{% endfor %}' },
    inapp: { title: 'Welcome {{ name }}', body: 'Plan: {{ plan | default: "free" | upcase }}' },
    webhook: { payload: { greeting: 'hello {{ name }}', count: 3, nested: ['{{ plan }}'] } },
  };

  beforeAll(async () => {
    t = await bootTestApp({ JOBS_POLL_MS: '20', LOG_LEVEL: 'silent' }, undefined, { withWorker: true });
    registerTestTokens(t);
    u = await signup(t, 'tpl');
    p = await createProject(t, u, 'tpl');
    other = await createProject(t, u, 'tpl-other');
    await smtp.start();
  });

  afterAll(async () => {
    await smtp.stop();
    await t?.close();
  });

  it('creates, lists, reads, changes and deletes templates; a taken name is 409', async () => {
    const created = await t.http().post(base(p)).set(u.auth).send(welcome);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), name: 'welcome', email: welcome.email, inapp: welcome.inapp, webhook: welcome.webhook });
    expect((await t.http().post(base(p)).set(u.auth).send(welcome)).status).toBe(409);
    const list = await t.http().get(base(p)).set(u.auth);
    expect(list.body.map((x: { name: string }) => x.name)).toEqual(['welcome']);
    const patched = await t.http().patch(`${base(p)}/${created.body.id}`).set(u.auth).send({ name: 'welcome-2', webhook: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'welcome-2', webhook: null, inapp: welcome.inapp });
    expect((await t.http().get(`${base(p)}/${created.body.id}`).set(u.auth)).body.name).toBe('welcome-2');
    expect((await t.http().patch(`${base(p)}/${created.body.id}`).set(u.auth).send({ email: null, inapp: null })).status).toBe(400);
    expect((await t.http().delete(`${base(p)}/${created.body.id}`).set(u.auth)).status).toBe(204);
    expect((await t.http().get(`${base(p)}/${created.body.id}`).set(u.auth)).status).toBe(404);
    expect((await t.http().get(`${base(p)}/not-a-uuid`).set(u.auth)).status).toBe(404);
  });

  it('refuses templates that do not parse, include files, use unknown filters, or have no channel (400, nothing stored)', async () => {
    const bad = [
      { name: 'a1', inapp: { title: '{% if %}' } },
      { name: 'a2', inapp: { title: '{% include "/etc/passwd" %}' } },
      { name: 'a3', inapp: { title: '{% render "secrets" %}' } },
      { name: 'a4', email: { subject: '{{ x | no_such_filter }}' } },
      { name: 'a5' },
      { name: 'Bad Name', inapp: { title: 'x' } },
      { name: 'a6', inapp: { title: 'x' }, extra: 1 },
    ];
    for (const body of bad) {
      const res = await t.http().post(base(p)).set(u.auth).send(body);
      expect([res.status, body.name]).toEqual([400, body.name]);
      expect(res.body.error).toBeDefined();
    }
    expect((await t.http().get(base(p)).set(u.auth)).body.filter((x: { name: string }) => /^a\d$/.test(x.name))).toEqual([]);
  });

  it('previews every part with data: HTML escaped, own properties only, bounded renders answered with 400', async () => {
    const created = await t.http().post(base(p)).set(u.auth).send({ ...welcome, name: 'preview' });
    const res = await t.http().post(`${base(p)}/${created.body.id}/preview`).set(u.auth).send({ data: { name: '<b>Ann</b>', items: ['x', 'y'], plan: 'pro' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      email: { subject: 'Welcome, <b>Ann</b>!', text: 'Hi <b>Ann</b>, you have 2 items.', html: '<p>Hi &lt;b&gt;Ann&lt;/b&gt;</p><li>x</li><li>y</li>' },
      inapp: { title: 'Welcome <b>Ann</b>', body: 'Plan: PRO' },
      webhook: { payload: { greeting: 'hello <b>Ann</b>', count: 3, nested: ['pro'] } },
    });

    const sneaky = await t.http().post(base(p)).set(u.auth).send({ name: 'sneaky', inapp: { title: '[{{ name.constructor }}][{{ name.length }}][{{ obj.toString }}][{{ obj.__proto__ }}]' } });
    expect(sneaky.status).toBe(201);
    const shown = await t.http().post(`${base(p)}/${sneaky.body.id}/preview`).set(u.auth).send({ data: { name: 'abc', obj: { a: 1 } } });
    expect(shown.body.inapp.title).toBe('[][3][][]');

    // A loop that blows up without data is refused when saved; one driven by the data, when rendered.
    expect((await t.http().post(base(p)).set(u.auth).send({ name: 'bomb0', inapp: { body: '{% for i in (1..100000000) %}xxxxxxxxxx{% endfor %}' } })).status).toBe(400);
    const bomb = await t.http().post(base(p)).set(u.auth).send({ name: 'bomb', inapp: { body: '{% for i in (1..n) %}xxxxxxxxxxxxxxxxxxxx{% endfor %}' } });
    expect(bomb.status).toBe(201);
    const started = Date.now();
    const blown = await t.http().post(`${base(p)}/${bomb.body.id}/preview`).set(u.auth).send({ data: { n: 100_000_000 } });
    expect(blown.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await t.http().post(`${base(p)}/${bomb.body.id}/preview`).set(u.auth).send({ data: 'nope' })).status).toBe(400);
  });

  it('sends with a template: the inbox and the email get what it rendered with the send\'s data', async () => {
    const owner = await signup(t, 'tplmail');
    const proj = await createProject(t, owner, 'tplmail');
    expect((await t.http().patch(`/v1/projects/${proj.ref}/auth/config`).set(owner.auth).send({ smtp: { host: '127.0.0.1', port: smtp.port, user: 'u', pass: 'pw', sender_email: 'news@shop.example', sender_name: 'Shop' } })).status).toBe(200);
    expect((await t.http().post(base(proj)).set(owner.auth).send(welcome)).status).toBe(201);
    const userId = randomUUID();
    const to = `tpl-${Date.now()}@example.com`;
    const res = await send(proj, { to: { user_id: userId, email: to }, template: 'welcome', data: { name: 'Ann & Bo', items: [1, 2, 3] }, channels: ['inapp', 'email'] });
    expect(res.status).toBe(202);
    const mail = await smtp.waitFor(to, 15_000);
    expect(mail.subject).toBe('Welcome, Ann & Bo!');
    expect(mail.body).toContain('Hi Ann & Bo, you have 3 items.');
    expect(mail.body).toContain('<p>Hi Ann &amp; Bo</p><li>1</li>');
    const auth = { apikey: proj.publishable, authorization: `Bearer ${await signUserToken(proj.ref, userId)}` };
    const items = await waitFor('inbox entry', async () => {
      const r = await t.http().get(`/p/${proj.ref}/notifications/v1/inbox`).set(auth);
      return r.body.items?.length ? r.body.items : undefined;
    });
    expect(items[0]).toMatchObject({ message_id: res.body.id, title: 'Welcome Ann & Bo', body: 'Plan: FREE' });
  });

  it('answers a send naming an unknown template 404, a failing one 400, and both content and template 400; nothing is sent', async () => {
    const failing = await t.http().post(base(p)).set(u.auth).send({ name: 'failing', inapp: { body: '{% for i in (1..n) %}xxxxxxxxxx{% endfor %}' } });
    expect(failing.status).toBe(201);
    const userId = randomUUID();
    expect((await send(p, { to: { user_id: userId }, template: 'nope' })).status).toBe(404);
    expect((await send(p, { to: { user_id: userId }, template: 'failing', data: { n: 100_000_000 } })).status).toBe(400);
    expect((await send(p, { to: { user_id: userId }, template: 'preview', content: { title: 'x' } })).status).toBe(400);
    expect((await send(p, { to: { user_id: userId } })).status).toBe(400);
    const stored = await t.sql.query(`SELECT count(*)::int AS n FROM control.notification_messages WHERE project_id = $1 AND recipient->>'user_id' = $2`, [p.id, userId]);
    expect(stored.rows[0].n).toBe(0);
  });

  it('keeps templates to their project: other projects\' keys, refs and members, and viewers, can\'t use or change them', async () => {
    const mine = await t.http().post(base(p)).set(u.auth).send({ ...welcome, name: 'private-one' });
    expect(mine.status).toBe(201);
    // Another project of the same owner: its refs never reach this template, and its key can't send with it.
    expect((await t.http().get(`${base(other)}/${mine.body.id}`).set(u.auth)).status).toBe(404);
    expect((await t.http().patch(`${base(other)}/${mine.body.id}`).set(u.auth).send({ name: 'stolen' })).status).toBe(404);
    expect((await t.http().delete(`${base(other)}/${mine.body.id}`).set(u.auth)).status).toBe(404);
    expect((await t.http().post(`${base(other)}/${mine.body.id}/preview`).set(u.auth).send({ data: {} })).status).toBe(404);
    expect((await send(other, { to: { user_id: randomUUID() }, template: 'private-one' })).status).toBe(404);
    expect((await t.http().get(base(other)).set(u.auth)).body).toEqual([]);
    // A stranger sees nothing; a viewer reads but can't change.
    const stranger = await signup(t, 'tpl-stranger');
    expect((await t.http().get(base(p)).set(stranger.auth)).status).toBe(404);
    expect((await t.http().get(`${base(p)}/${mine.body.id}`).set(stranger.auth)).status).toBe(404);
    expect((await t.http().post(base(p)).set(stranger.auth).send({ ...welcome, name: 'x1' })).status).toBe(404);
    const viewer = await signup(t, 'tpl-viewer');
    await addMember(t, u, viewer, 'viewer');
    expect((await t.http().get(`${base(p)}/${mine.body.id}`).set(viewer.auth)).status).toBe(200);
    expect((await t.http().patch(`${base(p)}/${mine.body.id}`).set(viewer.auth).send({ name: 'viewer-was-here' })).status).toBe(403);
    expect((await t.http().delete(`${base(p)}/${mine.body.id}`).set(viewer.auth)).status).toBe(403);
    expect((await t.http().get(`${base(p)}/${mine.body.id}`).set(u.auth)).body.name).toBe('private-one');
    // Keys are not console credentials.
    expect((await t.http().get(base(p)).set('authorization', `Bearer ${p.secret}`)).status).toBe(401);
  });
});
