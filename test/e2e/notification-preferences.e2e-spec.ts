import { randomUUID } from 'node:crypto';
import { registerTestTokens, signUserToken } from '../support/data';
import { SmtpCapture } from '../support/smtp-capture';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser } from '../support/test-app';
import { waitFor } from '../support/wait';

/**
 * End users' preferences and topics: per channel and per topic opt-outs, topic subscriptions, sends to a topic that
 * fan out to its subscribers honouring preferences, emails to a user by id (address from the auth runtime) with a
 * signed one-click List-Unsubscribe link that works without a key, and isolation between users and projects.
 */

describe('Notification preferences and topics', () => {
  let t: TestApp;
  let u: TestUser;
  let p: TestProject;
  let other: TestProject;
  const smtp = new SmtpCapture();
  const edge = (proj: TestProject, path: string) => `/p/${proj.ref}/notifications/v1${path}`;
  const as = async (proj: TestProject, userId: string) => ({ apikey: proj.publishable, authorization: `Bearer ${await signUserToken(proj.ref, userId)}` });
  const send = (proj: TestProject, body: object) => t.http().post(edge(proj, '/send')).set('apikey', proj.secret).send(body);
  const inboxTitles = async (proj: TestProject, userId: string) => ((await t.http().get(edge(proj, '/inbox')).set(await as(proj, userId))).body.items as Array<{ title: string }>).map((i) => i.title);
  const deliveriesOf = async (proj: TestProject, owner: TestUser, messageId: string) =>
    ((await t.http().get(`/v1/projects/${proj.ref}/notifications/deliveries`).set(owner.auth)).body.deliveries as Array<{ message_id: string; channel: string }>).filter((d) => d.message_id === messageId);

  /** A real end user of `proj` (auth runtime sign-up), so sends by user id find their address. */
  async function endUser(proj: TestProject, tag: string): Promise<{ id: string; email: string }> {
    const email = `${tag}-${randomUUID().slice(0, 8)}@example.com`;
    const res = await t.http().post(`/p/${proj.ref}/auth/v1/signup`).set('apikey', proj.publishable).send({ email, password: 'a-Str0ng-password' });
    expect(res.status).toBe(200);
    return { id: res.body.user.id, email };
  }

  beforeAll(async () => {
    t = await bootTestApp({ JOBS_POLL_MS: '20', LOG_LEVEL: 'silent' }, undefined, { withWorker: true });
    registerTestTokens(t);
    await smtp.start();
    u = await signup(t, 'prefs');
    p = await createProject(t, u, 'prefs');
    other = await createProject(t, u, 'prefs-other');
    for (const proj of [p, other]) {
      const cfg = await t.http().patch(`/v1/projects/${proj.ref}/auth/config`).set(u.auth).send({ email_confirm_required: false, smtp: { host: '127.0.0.1', port: smtp.port, user: 'u', pass: 'pw', sender_email: 'news@shop.example', sender_name: 'Shop' } });
      expect(cfg.status).toBe(200);
    }
  });

  afterAll(async () => {
    await smtp.stop();
    await t?.close();
  });

  it('reads and replaces the signed-in user\'s preferences; bad input is 400, no user is 401', async () => {
    const userId = randomUUID();
    const auth = await as(p, userId);
    expect((await t.http().get(edge(p, '/preferences')).set(auth)).body).toEqual({ channels: { inapp: true, email: true, push: true }, topics: {}, subscriptions: [] });
    const put = await t.http().put(edge(p, '/preferences')).set(auth).send({ channels: { email: false }, topics: { 'weekly-digest': false } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ channels: { inapp: true, email: false, push: true }, topics: { 'weekly-digest': false }, subscriptions: [] });
    expect((await t.http().get(edge(p, '/preferences')).set(auth)).body.channels.email).toBe(false);
    for (const bad of [{ channels: { sms: false } }, { topics: { 'Bad Topic': false } }, { channels: { email: 'no' } }, { extra: 1 }]) {
      expect((await t.http().put(edge(p, '/preferences')).set(auth).send(bad)).status).toBe(400);
    }
    expect((await t.http().get(edge(p, '/preferences')).set(auth)).body.topics).toEqual({ 'weekly-digest': false });
    expect((await t.http().get(edge(p, '/preferences')).set('apikey', p.publishable)).status).toBe(401);
    expect((await t.http().put(edge(p, '/preferences')).set('apikey', p.secret).send({})).status).toBe(401);
  });

  it('sends to a topic\'s subscribers only, honouring topic and channel opt-outs', async () => {
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    for (const id of [a, b, c]) {
      const res = await t.http().post(edge(p, '/topics/releases/subscription')).set(await as(p, id));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ topic: 'releases', subscribed: true });
    }
    await t.http().put(edge(p, '/preferences')).set(await as(p, b)).send({ topics: { releases: false } });
    await t.http().put(edge(p, '/preferences')).set(await as(p, c)).send({ channels: { inapp: false } });
    expect((await t.http().get(edge(p, '/preferences')).set(await as(p, a))).body.subscriptions).toEqual(['releases']);
    const res = await send(p, { to: { topic: 'releases' }, content: { title: 'v2 is out' } });
    expect(res.status).toBe(202);
    expect(res.body.channels).toEqual(['inapp']);
    await waitFor('subscriber entry', async () => (await inboxTitles(p, a)).includes('v2 is out'));
    const deliveries = await waitFor('fan-out logged', async () => {
      const ds = await deliveriesOf(p, u, res.body.id);
      return ds.length ? ds : undefined;
    });
    expect(deliveries.map((x) => x.channel)).toEqual(['inapp']);
    for (const id of [b, c, d]) expect(await inboxTitles(p, id)).toEqual([]);
    // Unsubscribed: the next send to the topic leaves them out.
    expect((await t.http().delete(edge(p, '/topics/releases/subscription')).set(await as(p, a))).body).toEqual({ topic: 'releases', subscribed: false });
    const next = await send(p, { to: { topic: 'releases' }, content: { title: 'v3 is out' } });
    await new Promise((r) => setTimeout(r, 800));
    expect(await deliveriesOf(p, u, next.body.id)).toEqual([]);
    expect((await t.http().post(edge(p, '/topics/Not%20A%20Topic/subscription')).set(await as(p, a))).status).toBe(400);
    expect((await send(p, { to: { topic: 'releases', user_id: a }, content: { title: 'x' } })).status).toBe(400);
  });

  it('emails a user by id at their auth address with a signed one-click List-Unsubscribe that works without a key', async () => {
    const user = await endUser(p, 'byid');
    const res = await send(p, { to: { user_id: user.id }, content: { title: 'Receipt', body: 'thanks' }, channels: ['email'] });
    expect(res.status).toBe(202);
    const mail = await smtp.waitFor(user.email, 15_000);
    const headers = mail.raw.replace(/\r?\n[ \t]+/g, ' ');
    expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    const url = /^List-Unsubscribe: <([^>]+)>/m.exec(headers)?.[1];
    expect(url).toContain(`/p/${p.ref}/notifications/v1/unsubscribe?token=`);
    const path = new URL(url!).pathname + new URL(url!).search;
    // Another project's edge refuses it; a tampered token is refused; neither changes anything.
    expect((await t.http().post(path.replace(p.ref, other.ref)).type('form').send('List-Unsubscribe=One-Click')).status).toBe(400);
    expect((await t.http().post(path.slice(0, -3) + (path.endsWith('AAA') ? 'BBB' : 'AAA')).type('form').send('List-Unsubscribe=One-Click')).status).toBe(400);
    expect((await t.http().post(edge(p, '/unsubscribe')).type('form').send('List-Unsubscribe=One-Click')).status).toBe(400);
    expect((await t.http().get(edge(p, '/preferences')).set(await as(p, user.id))).body.channels.email).toBe(true);
    // Opened in a browser: a page whose form POSTs the same link; the GET itself changes nothing.
    const page = await t.http().get(path);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('method="post"');
    expect((await t.http().get(edge(p, '/preferences')).set(await as(p, user.id))).body.channels.email).toBe(true);
    // The mail client's one-click POST: no key, no token but the link's.
    const click = await t.http().post(path).type('form').send('List-Unsubscribe=One-Click');
    expect(click.status).toBe(200);
    expect(click.body).toEqual({ unsubscribed: { channel: 'email' } });
    expect((await t.http().get(edge(p, '/preferences')).set(await as(p, user.id))).body.channels.email).toBe(false);
    const after = await send(p, { to: { user_id: user.id }, content: { title: 'Receipt 2' }, channels: ['email', 'inapp'] });
    await waitFor('inapp still delivered', async () => (await inboxTitles(p, user.id)).includes('Receipt 2'));
    await new Promise((r) => setTimeout(r, 500));
    expect((await deliveriesOf(p, u, after.body.id)).map((x) => x.channel)).toEqual(['inapp']);
    expect(smtp.mails.filter((m) => m.to.includes(user.email))).toHaveLength(0);
  });

  it('unsubscribes from the topic an email came from, not from all email', async () => {
    const user = await endUser(p, 'topic');
    await t.http().post(edge(p, '/topics/offers/subscription')).set(await as(p, user.id));
    await send(p, { to: { topic: 'offers' }, content: { title: 'Sale' }, channels: ['email'] });
    const mail = await smtp.waitFor(user.email, 15_000);
    const url = /^List-Unsubscribe: <([^>]+)>/m.exec(mail.raw.replace(/\r?\n[ \t]+/g, ' '))?.[1];
    const click = await t.http().post(new URL(url!).pathname + new URL(url!).search).type('form').send('List-Unsubscribe=One-Click');
    expect(click.body).toEqual({ unsubscribed: { topic: 'offers' } });
    expect((await t.http().get(edge(p, '/preferences')).set(await as(p, user.id))).body).toMatchObject({ channels: { email: true }, topics: { offers: false } });
  });

  it('keeps preferences and subscriptions to their user and project', async () => {
    const [x, y] = [randomUUID(), randomUUID()];
    await t.http().put(edge(p, '/preferences')).set(await as(p, x)).send({ channels: { inapp: false } });
    await t.http().post(edge(p, '/topics/news/subscription')).set(await as(p, x));
    // Another user of the project sees their own defaults; the same user id in another project too.
    expect((await t.http().get(edge(p, '/preferences')).set(await as(p, y))).body).toEqual({ channels: { inapp: true, email: true, push: true }, topics: {}, subscriptions: [] });
    expect((await t.http().get(edge(other, '/preferences')).set(await as(other, x))).body).toEqual({ channels: { inapp: true, email: true, push: true }, topics: {}, subscriptions: [] });
    // Project A's user token with project B's key is refused; B's send to the same topic reaches no one of A's.
    expect((await t.http().get(edge(other, '/preferences')).set({ apikey: other.publishable, authorization: `Bearer ${await signUserToken(p.ref, x)}` })).status).toBe(401);
    expect((await t.http().put(edge(other, '/preferences')).set({ apikey: other.publishable, authorization: `Bearer ${await signUserToken(p.ref, x)}` }).send({ channels: { inapp: true } })).status).toBe(401);
    const res = await send(other, { to: { topic: 'news' }, content: { title: 'other news' } });
    await new Promise((r) => setTimeout(r, 600));
    expect(await deliveriesOf(other, u, res.body.id)).toEqual([]);
    expect((await t.http().get(edge(p, '/preferences')).set(await as(p, x))).body).toMatchObject({ channels: { inapp: false }, subscriptions: ['news'] });
  });
});
