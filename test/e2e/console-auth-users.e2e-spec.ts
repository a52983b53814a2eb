import { addMember, bootTestApp, createProject, PASSWORD, signup, TestApp, TestProject, TestUser, uniqueEmail } from '../support/test-app';

/**
 * End users on the management API (`/v1/projects/:ref/auth/users`), which the console's Auth → Users page uses
 * instead of GoTrue's secret-key-only admin API: list with search and paging, create (optionally confirmed), ban and
 * unban (a ban ends sessions and refuses sign-in), metadata, delete, the API's field errors, the audit log, and who
 * may do what (another org: nothing, not even see that the user exists; a viewer: list only).
 */
describe('console: end-user management endpoints', () => {
  let t: TestApp;
  let owner: TestUser;
  let dev: TestUser;
  let viewer: TestUser;
  let outsider: TestUser;
  let p: TestProject;
  let other: TestProject;
  const base = (proj: TestProject) => `/v1/projects/${proj.ref}/auth/users`;
  const signIn = (proj: TestProject, email: string, password = PASSWORD) =>
    t.http().post(`/p/${proj.ref}/auth/v1/token?grant_type=password`).set('apikey', proj.publishable).send({ email, password });

  beforeAll(async () => {
    t = await bootTestApp({ LOG_LEVEL: 'silent' });
    owner = await signup(t, 'eu-owner');
    dev = await signup(t, 'eu-dev');
    viewer = await signup(t, 'eu-viewer');
    outsider = await signup(t, 'eu-outsider');
    await addMember(t, owner, dev, 'developer');
    await addMember(t, owner, viewer, 'viewer');
    p = await createProject(t, owner, 'eu');
    other = await createProject(t, outsider, 'eu-other');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('creates users (confirmed or not), lists them newest first with paging, and searches by email part or id', async () => {
    const tag = `srch${Date.now().toString(36)}`;
    const emails = [0, 1, 2].map((i) => `${tag}-${i}@example.com`);
    const ids: string[] = [];
    for (const [i, email] of emails.entries()) {
      const res = await t.http().post(base(p)).set(dev.auth).send({ email, password: PASSWORD, email_confirm: i !== 1, user_metadata: { n: i } });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ email, user_metadata: { n: i }, is_anonymous: false });
      expect(Boolean(res.body.email_confirmed_at)).toBe(i !== 1);
      ids.push(res.body.id);
    }
    // A confirmed user signs in with the password it was created with; the unconfirmed one is told to confirm.
    expect((await signIn(p, emails[0])).status).toBe(200);
    expect((await signIn(p, emails[1])).body).toMatchObject({ error_code: 'email_not_confirmed' });

    const page1 = await t.http().get(`${base(p)}?search=${tag.toUpperCase()}&per_page=2`).set(viewer.auth);
    expect(page1.status).toBe(200);
    expect(page1.body).toMatchObject({ total: 3, page: 1, per_page: 2 });
    expect(page1.body.users.map((u: { email: string }) => u.email)).toEqual([emails[2], emails[1]]);
    const page2 = await t.http().get(`${base(p)}?search=${tag}&per_page=2&page=2`).set(viewer.auth);
    expect(page2.body.users.map((u: { email: string }) => u.email)).toEqual([emails[0]]);
    expect((await t.http().get(`${base(p)}?search=${tag}&per_page=2&page=3`).set(viewer.auth)).body).toMatchObject({ users: [], total: 3 });

    const byId = await t.http().get(`${base(p)}?search=${ids[1]}`).set(owner.auth);
    expect(byId.body.users.map((u: { id: string }) => u.id)).toEqual([ids[1]]);
    // LIKE wildcards in the search are literal characters, not patterns.
    expect((await t.http().get(`${base(p)}?search=${encodeURIComponent('%')}`).set(owner.auth)).body.total).toBe(0);
    expect((await t.http().get(`${base(p)}?search=_`).set(owner.auth)).body.total).toBe(0);

    const all = await t.http().get(`${base(p)}?per_page=100`).set(owner.auth);
    expect(all.body.total).toBeGreaterThanOrEqual(3);
    expect((await t.http().get(`${base(p)}/${ids[2]}`).set(viewer.auth)).body).toMatchObject({ id: ids[2], email: emails[2] });
  });

  it('bans (sessions end, sign-in refused), lifts the ban, confirms the address and merges metadata', async () => {
    const email = uniqueEmail('ban');
    const created = await t.http().post(base(p)).set(dev.auth).send({ email, password: PASSWORD, email_confirm: true, user_metadata: { a: 1 } });
    const id = created.body.id as string;
    const session = await signIn(p, email);
    expect(session.status).toBe(200);

    const banned = await t.http().patch(`${base(p)}/${id}`).set(dev.auth).send({ ban_duration: '24h', user_metadata: { b: 2 } });
    expect(banned.status).toBe(200);
    expect(Date.parse(banned.body.banned_until)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(banned.body.user_metadata).toEqual({ a: 1, b: 2 });
    expect((await signIn(p, email)).body).toMatchObject({ error_code: 'user_banned' });
    const refresh = await t.http().post(`/p/${p.ref}/auth/v1/token?grant_type=refresh_token`).set('apikey', p.publishable).send({ refresh_token: session.body.refresh_token });
    expect(refresh.status).toBeGreaterThanOrEqual(400);

    const unbanned = await t.http().patch(`${base(p)}/${id}`).set(owner.auth).send({ ban_duration: 'none' });
    expect(unbanned.status).toBe(200);
    expect(unbanned.body.banned_until).toBeUndefined();
    expect((await signIn(p, email)).status).toBe(200);

    const pending = await t.http().post(base(p)).set(dev.auth).send({ email: uniqueEmail('confirm'), password: PASSWORD });
    expect(pending.body.email_confirmed_at).toBeUndefined();
    const confirmed = await t.http().patch(`${base(p)}/${pending.body.id}`).set(dev.auth).send({ email_confirm: true });
    expect(confirmed.body.email_confirmed_at).toEqual(expect.any(String));

    const audit = await t.sql.query(`SELECT action, details FROM control.audit_log WHERE target_type = 'auth_user' AND target_id = $1 ORDER BY id`, [id]);
    expect(audit.rows.map((r) => r.action)).toEqual(['auth_user.create', 'auth_user.ban', 'auth_user.unban']);
    expect(audit.rows[1].details).toMatchObject({ project: p.ref, changed: ['ban_duration', 'user_metadata'], ban_duration: '24h' });
    expect(JSON.stringify(audit.rows)).not.toContain(PASSWORD);
  });

  it('deletes a user: gone from the list, their refresh token dead, a second delete is 404; audited', async () => {
    const email = uniqueEmail('del');
    const created = await t.http().post(base(p)).set(dev.auth).send({ email, password: PASSWORD, email_confirm: true });
    const session = await signIn(p, email);
    const del = await t.http().delete(`${base(p)}/${created.body.id}`).set(dev.auth);
    expect(del.status).toBe(204);
    expect((await t.http().get(`${base(p)}?search=${encodeURIComponent(email)}`).set(dev.auth)).body.total).toBe(0);
    const refresh = await t.http().post(`/p/${p.ref}/auth/v1/token?grant_type=refresh_token`).set('apikey', p.publishable).send({ refresh_token: session.body.refresh_token });
    expect(refresh.status).toBeGreaterThanOrEqual(400);
    expect((await t.http().delete(`${base(p)}/${created.body.id}`).set(dev.auth)).status).toBe(404);
    const audit = await t.sql.query(`SELECT count(*)::int AS n FROM control.audit_log WHERE action = 'auth_user.delete' AND target_id = $1`, [created.body.id]);
    expect(audit.rows[0].n).toBe(1);
  });

  it("answers bad input with 4xx and the field it is about, and changes nothing", async () => {
    const email = uniqueEmail('val');
    const cases: Array<[string, () => Promise<{ status: number; body: { error: { code: string; details?: Array<{ path: string }> } } }>, number, string]> = [
      ['weak password', () => t.http().post(base(p)).set(dev.auth).send({ email, password: 'ab' }), 400, 'password'],
      ['not an email', () => t.http().post(base(p)).set(dev.auth).send({ email: 'nope' }), 400, 'email'],
      ['unknown field', () => t.http().post(base(p)).set(dev.auth).send({ email, role: 'service_role' }), 400, ''],
      ['bad duration', () => t.http().patch(`${base(p)}/00000000-0000-4000-8000-000000000000`).set(dev.auth).send({ ban_duration: 'forever' }), 400, 'ban_duration'],
      ['per_page too big', () => t.http().get(`${base(p)}?per_page=1000`).set(dev.auth), 400, 'per_page'],
    ];
    for (const [what, call, status, path] of cases) {
      const res = await call();
      expect([what, res.status]).toEqual([what, status]);
      expect([what, res.body.error.details?.map((d) => d.path).includes(path)]).toEqual([what, true]);
    }
    expect((await t.http().get(`${base(p)}?search=${encodeURIComponent(email)}`).set(dev.auth)).body.total).toBe(0);

    const first = await t.http().post(base(p)).set(dev.auth).send({ email });
    expect(first.status).toBe(201);
    const taken = await t.http().post(base(p)).set(dev.auth).send({ email: email.toUpperCase() });
    expect(taken.status).toBe(409);
    expect(taken.body.error.details).toEqual([{ path: 'email', message: expect.any(String) }]);
    expect((await t.http().patch(`${base(p)}/not-a-uuid`).set(dev.auth).send({ ban_duration: '1h' })).status).toBe(404);
    expect((await t.http().patch(`${base(p)}/${first.body.id}`).set(dev.auth).send({})).status).toBe(400);
  });

  it("isolation: another org's developer cannot list, read, create, ban or delete this project's users (404, as if it did not exist)", async () => {
    const victim = await t.http().post(base(p)).set(owner.auth).send({ email: uniqueEmail('victim'), password: PASSWORD, email_confirm: true });
    const id = victim.body.id as string;
    const calls = [
      () => t.http().get(base(p)).set(outsider.auth),
      () => t.http().get(`${base(p)}/${id}`).set(outsider.auth),
      () => t.http().post(base(p)).set(outsider.auth).send({ email: uniqueEmail('planted') }),
      () => t.http().patch(`${base(p)}/${id}`).set(outsider.auth).send({ ban_duration: '24h' }),
      () => t.http().delete(`${base(p)}/${id}`).set(outsider.auth),
    ];
    for (const call of calls) expect((await call()).status).toBe(404);
    // Nor through its own project: a user id of this project addressed on theirs is simply not there.
    expect((await t.http().patch(`${base(other)}/${id}`).set(outsider.auth).send({ ban_duration: '24h' })).status).toBe(404);
    expect((await t.http().delete(`${base(other)}/${id}`).set(outsider.auth)).status).toBe(404);
    // And this org's members cannot reach the outsider's project either.
    expect((await t.http().get(base(other)).set(dev.auth)).status).toBe(404);
    // No token, or a project key instead of a console token: refused.
    expect((await t.http().get(base(p))).status).toBe(401);
    expect((await t.http().get(base(p)).set('authorization', `Bearer ${p.secret}`)).status).toBe(401);

    const after = await t.http().get(`${base(p)}/${id}`).set(owner.auth);
    expect(after.body.banned_until).toBeUndefined();
    expect((await signIn(p, after.body.email)).status).toBe(200);
  });

  it('a viewer lists and reads but cannot create, ban or delete (403)', async () => {
    const target = await t.http().post(base(p)).set(owner.auth).send({ email: uniqueEmail('seen'), email_confirm: true });
    expect((await t.http().get(base(p)).set(viewer.auth)).status).toBe(200);
    expect((await t.http().get(`${base(p)}/${target.body.id}`).set(viewer.auth)).status).toBe(200);
    expect((await t.http().post(base(p)).set(viewer.auth).send({ email: uniqueEmail('nope') })).status).toBe(403);
    expect((await t.http().patch(`${base(p)}/${target.body.id}`).set(viewer.auth).send({ ban_duration: '1h' })).status).toBe(403);
    expect((await t.http().delete(`${base(p)}/${target.body.id}`).set(viewer.auth)).status).toBe(403);
    expect((await t.http().get(`${base(p)}/${target.body.id}`).set(owner.auth)).body.banned_until).toBeUndefined();
  });
});
