import { addMember, bootTestApp, createProject, invitationToken, signup, signupVerified, TestApp } from '../support/test-app';

describe('organizations, members and the audit log (/v1/orgs)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootTestApp();
  });
  afterAll(() => t.close());

  it('creates, lists, gets and renames an org', async () => {
    const u = await signup(t);
    const created = await t.http().post('/v1/orgs').set(u.auth).send({ name: 'Acme' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Acme', personal: false, role: 'owner' });
    const list = await t.http().get('/v1/orgs').set(u.auth);
    expect(list.body.map((o: { id: string }) => o.id)).toEqual([u.orgId, created.body.id]);
    const renamed = await t.http().patch(`/v1/orgs/${created.body.id}`).set(u.auth).send({ name: 'Acme Inc' });
    expect(renamed.body.name).toBe('Acme Inc');
    expect((await t.http().get(`/v1/orgs/${created.body.id}`).set(u.auth)).body.name).toBe('Acme Inc');
  });

  it('invites a member who accepts, changes their role, and removes them', async () => {
    const owner = await signupVerified(t, 'owner');
    const dev = await signupVerified(t, 'dev');
    const inv = await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth).send({ email: dev.email, role: 'developer' });
    expect(inv.status).toBe(201);
    expect((await t.http().get(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth)).body).toHaveLength(1);
    const token = await invitationToken(t, inv.body.id, dev.email);

    // Someone else can't accept it, even with the token; the addressee sees it and accepts with the token.
    const stranger = await signupVerified(t, 'stranger');
    expect((await t.http().post(`/v1/invitations/${inv.body.id}/accept`).set(stranger.auth).send({ token })).status).toBe(403);
    const mine = await t.http().get('/v1/me/invitations').set(dev.auth);
    expect(mine.body).toEqual([expect.objectContaining({ id: inv.body.id, org_id: owner.orgId, role: 'developer' })]);
    const accepted = await t.http().post(`/v1/invitations/${inv.body.id}/accept`).set(dev.auth).send({ token });
    expect(accepted.body).toMatchObject({ id: owner.orgId, role: 'developer' });
    expect((await t.http().post(`/v1/invitations/${inv.body.id}/accept`).set(dev.auth).send({ token })).status).toBe(404);

    const members = await t.http().get(`/v1/orgs/${owner.orgId}/members`).set(dev.auth);
    expect(members.body.map((m: { role: string }) => m.role).sort()).toEqual(['developer', 'owner']);

    // A developer can't change roles; an owner can.
    expect((await t.http().patch(`/v1/orgs/${owner.orgId}/members/${owner.id}`).set(dev.auth).send({ role: 'viewer' })).status).toBe(403);
    const changed = await t.http().patch(`/v1/orgs/${owner.orgId}/members/${dev.id}`).set(owner.auth).send({ role: 'viewer' });
    expect(changed.body).toMatchObject({ user_id: dev.id, role: 'viewer' });

    expect((await t.http().delete(`/v1/orgs/${owner.orgId}/members/${dev.id}`).set(owner.auth)).status).toBe(204);
    expect((await t.http().get(`/v1/orgs/${owner.orgId}`).set(dev.auth)).status).toBe(404);
  });

  it('keeps at least one owner: the last owner can neither leave nor be demoted', async () => {
    const owner = await signup(t, 'owner');
    const leave = await t.http().delete(`/v1/orgs/${owner.orgId}/members/${owner.id}`).set(owner.auth);
    expect(leave.status).toBe(409);
    expect(leave.body.error.message).toMatch(/at least one owner/);
    const demote = await t.http().patch(`/v1/orgs/${owner.orgId}/members/${owner.id}`).set(owner.auth).send({ role: 'admin' });
    expect(demote.status).toBe(409);

    // With a second owner, the first may leave.
    const second = await signup(t, 'second');
    await addMember(t, owner, second, 'owner');
    expect((await t.http().delete(`/v1/orgs/${owner.orgId}/members/${owner.id}`).set(owner.auth)).status).toBe(204);
    expect((await t.http().get(`/v1/orgs/${owner.orgId}/members`).set(second.auth)).body).toHaveLength(1);
  });

  it('only owners grant the owner role', async () => {
    const owner = await signup(t, 'owner');
    const admin = await signup(t, 'admin');
    const other = await signup(t, 'other');
    await addMember(t, owner, admin, 'admin');
    const res = await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(admin.auth).send({ email: other.email, role: 'owner' });
    expect(res.status).toBe(403);
    const ok = await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(admin.auth).send({ email: other.email, role: 'developer' });
    expect(ok.status).toBe(201);
  });

  it('answers 404, not 403, to non-members for every org resource', async () => {
    const a = await signup(t, 'a');
    const b = await signup(t, 'b');
    for (const [method, path, body] of [
      ['get', `/v1/orgs/${b.orgId}`, undefined],
      ['patch', `/v1/orgs/${b.orgId}`, { name: 'pwned' }],
      ['get', `/v1/orgs/${b.orgId}/members`, undefined],
      ['get', `/v1/orgs/${b.orgId}/invitations`, undefined],
      ['post', `/v1/orgs/${b.orgId}/invitations`, { email: a.email, role: 'owner' }],
      ['delete', `/v1/orgs/${b.orgId}/members/${b.id}`, undefined],
      ['get', `/v1/orgs/${b.orgId}/audit-log`, undefined],
      ['get', `/v1/orgs/${b.orgId}/projects`, undefined],
      ['post', `/v1/orgs/${b.orgId}/projects`, { name: 'x' }],
    ] as const) {
      const res = await t.http()[method](path).set(a.auth).send(body);
      expect([path, res.status]).toEqual([path, 404]);
    }
    expect((await t.http().get(`/v1/orgs/${b.orgId}`).set(b.auth)).body.name).not.toBe('pwned');
    // A malformed id is not found either, never a 500.
    expect((await t.http().get('/v1/orgs/not-a-uuid').set(a.auth)).status).toBe(404);
  });

  it('records mutating actions in the audit log, pages it, and shows it to owners/admins only', async () => {
    const owner = await signup(t, 'owner');
    const viewer = await signup(t, 'viewer');
    await addMember(t, owner, viewer, 'viewer');
    const project = await createProject(t, owner, 'audited');
    await t.http().patch(`/v1/projects/${project.ref}`).set(owner.auth).send({ name: 'renamed' });

    const page1 = await t.http().get(`/v1/orgs/${owner.orgId}/audit-log?limit=2`).set(owner.auth).set('user-agent', 'jest');
    expect(page1.status).toBe(200);
    expect(page1.body.entries).toHaveLength(2);
    expect(page1.body.entries[0]).toMatchObject({ action: 'project.rename', actor: { type: 'user', id: owner.id }, target: { type: 'project', id: project.ref } });
    expect(page1.body.entries[0].ip).toBeTruthy();
    const page2 = await t.http().get(`/v1/orgs/${owner.orgId}/audit-log?limit=2&before=${page1.body.next_before}`).set(owner.auth);
    const actions = [...page1.body.entries, ...page2.body.entries].map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['project.rename', 'project.create', 'member.join', 'member.invite']));

    const denied = await t.http().get(`/v1/orgs/${owner.orgId}/audit-log`).set(viewer.auth);
    expect(denied.status).toBe(403);
    expect((await t.http().get(`/v1/orgs/${owner.orgId}/audit-log?limit=0`).set(owner.auth)).status).toBe(400);
    expect((await t.http().get(`/v1/orgs/${owner.orgId}/audit-log?before=1;DROP`).set(owner.auth)).status).toBe(400);
  });

  it('rejects bad input on org endpoints without changing anything', async () => {
    const u = await signup(t);
    expect((await t.http().post('/v1/orgs').set(u.auth).send({ name: '' })).status).toBe(400);
    expect((await t.http().post('/v1/orgs').set(u.auth).send({ name: 'x', extra: 1 })).status).toBe(400);
    expect((await t.http().post(`/v1/orgs/${u.orgId}/invitations`).set(u.auth).send({ email: 'nope', role: 'developer' })).status).toBe(400);
    expect((await t.http().post(`/v1/orgs/${u.orgId}/invitations`).set(u.auth).send({ email: 'a@b.co', role: 'god' })).status).toBe(400);
    expect((await t.http().get('/v1/orgs').set(u.auth)).body).toHaveLength(1);
  });
});
