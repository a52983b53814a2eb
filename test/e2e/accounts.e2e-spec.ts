import { PASSWORD_HASH_PARAMS } from '@plinth/common';
import { bootTestApp, PASSWORD, signup, TestApp, uniqueEmail } from '../support/test-app';

describe('accounts (/v1/auth, /v1/me)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await bootTestApp();
  });
  afterAll(() => t.close());

  it('signs up with a personal organization, and the password is stored as argon2id only', async () => {
    const email = uniqueEmail('Signup');
    const res = await t.http().post('/v1/auth/signup').send({ email, password: PASSWORD, name: 'Ada' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ token_type: 'bearer', expires_in: 900, user: { email: email.toLowerCase(), name: 'Ada' } });
    expect(res.body.refresh_token).toMatch(/^pl_rt_/);
    expect(res.body.org).toMatchObject({ name: "Ada's organization" });
    const { rows } = await t.sql.query('SELECT password_hash FROM control.users WHERE id = $1', [res.body.user.id]);
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
    const orgs = await t.http().get('/v1/orgs').set({ authorization: `Bearer ${res.body.access_token}` });
    expect(orgs.body).toEqual([expect.objectContaining({ id: res.body.org.id, personal: true, role: 'owner' })]);
  });

  it('logs in, answers /v1/me, and gives one 401 for unknown email and wrong password alike', async () => {
    const u = await signup(t);
    const ok = await t.http().post('/v1/auth/login').send({ email: u.email.toUpperCase(), password: PASSWORD });
    expect(ok.status).toBe(200);
    const me = await t.http().get('/v1/me').set({ authorization: `Bearer ${ok.body.access_token}` });
    expect(me.body).toMatchObject({ id: u.id, email: u.email });

    const wrong = await t.http().post('/v1/auth/login').send({ email: u.email, password: 'Wrong-Passw0rd' });
    const unknown = await t.http().post('/v1/auth/login').send({ email: uniqueEmail('nobody'), password: 'Wrong-Passw0rd' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.text).toBe(unknown.text);
  });

  it('logs in with a hash stored at the previous argon2 setting and upgrades it to the current one', async () => {
    const u = await signup(t);
    // 'Corr3ct-Horse' hashed by @node-rs/argon2 at m=19456, t=2, p=1 (the setting before this one).
    const stored = '$argon2id$v=19$m=19456,t=2,p=1$0yabyqK2xqzvtm2XECR77Q$VIabMynXOS0Ni897i//bl42y60GdFyaNGmVf9DyHH5g';
    await t.sql.query('UPDATE control.users SET password_hash = $2 WHERE id = $1', [u.id, stored]);
    const hashOf = async () => (await t.sql.query('SELECT password_hash AS h FROM control.users WHERE id = $1', [u.id])).rows[0].h as string;
    expect((await t.http().post('/v1/auth/login').send({ email: u.email, password: 'Wrong-Passw0rd' })).status).toBe(401);
    expect(await hashOf()).toBe(stored);
    expect((await t.http().post('/v1/auth/login').send({ email: u.email, password: 'Corr3ct-Horse' })).status).toBe(200);
    const upgraded = await hashOf();
    expect(upgraded.startsWith(`$argon2id$v=19$${PASSWORD_HASH_PARAMS}$`)).toBe(true);
    expect((await t.http().post('/v1/auth/login').send({ email: u.email, password: 'Corr3ct-Horse' })).status).toBe(200);
    expect(await hashOf()).toBe(upgraded);
  });

  it('rotates refresh tokens and revokes the whole family when a spent one is reused', async () => {
    const u = await signup(t);
    const first = await t.http().post('/v1/auth/refresh').send({ refresh_token: u.refresh });
    expect(first.status).toBe(200);
    expect(first.body.refresh_token).not.toBe(u.refresh);
    const second = await t.http().post('/v1/auth/refresh').send({ refresh_token: first.body.refresh_token });
    expect(second.status).toBe(200);

    // Replaying the first, already spent token: refused, and the live one dies with it.
    const replay = await t.http().post('/v1/auth/refresh').send({ refresh_token: u.refresh });
    expect(replay.status).toBe(401);
    const afterReplay = await t.http().post('/v1/auth/refresh').send({ refresh_token: second.body.refresh_token });
    expect(afterReplay.status).toBe(401);
    const me = await t.http().get('/v1/me').set({ authorization: `Bearer ${second.body.access_token}` });
    expect(me.status).toBe(401);
  });

  it('logs out: the session and its access token stop working', async () => {
    const u = await signup(t);
    expect((await t.http().get('/v1/me').set(u.auth)).status).toBe(200);
    expect((await t.http().post('/v1/auth/logout').set(u.auth)).status).toBe(204);
    expect((await t.http().get('/v1/me').set(u.auth)).status).toBe(401);
    expect((await t.http().post('/v1/auth/refresh').send({ refresh_token: u.refresh })).status).toBe(401);
  });

  it('refuses forged, tampered and alg:none access tokens', async () => {
    const u = await signup(t);
    const [h, p] = u.token.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    const tampered = `${h}.${p.slice(0, -2)}xx.${u.token.split('.')[2]}`;
    for (const token of [none, tampered, 'garbage', `${h}.${p}.AAAA`]) {
      const res = await t.http().get('/v1/me').set({ authorization: `Bearer ${token}` });
      expect(res.status).toBe(401);
    }
    expect((await t.http().get('/v1/me')).status).toBe(401);
  });

  it('creates, lists, uses and revokes personal access tokens, storing only a hash', async () => {
    const u = await signup(t);
    const created = await t.http().post('/v1/me/tokens').set(u.auth).send({ name: 'ci', expires_in_days: 30 });
    expect(created.status).toBe(201);
    const token: string = created.body.token;
    expect(token).toMatch(/^pl_pat_[0-9A-Za-z]{38}$/);
    const viaPat = await t.http().get('/v1/me').set({ authorization: `Bearer ${token}` });
    expect(viaPat.body.id).toBe(u.id);

    const list = await t.http().get('/v1/me/tokens').set(u.auth);
    expect(list.body).toEqual([expect.objectContaining({ id: created.body.id, name: 'ci', last4: token.slice(-4) })]);
    expect(JSON.stringify(list.body)).not.toContain(token);
    const stored = await t.sql.query('SELECT token_hash FROM control.personal_access_tokens WHERE id = $1', [created.body.id]);
    expect(stored.rows[0].token_hash).not.toContain(token);

    expect((await t.http().delete(`/v1/me/tokens/${created.body.id}`).set(u.auth)).status).toBe(204);
    expect((await t.http().get('/v1/me').set({ authorization: `Bearer ${token}` })).status).toBe(401);
    // Someone else's token id is simply not found.
    const other = await signup(t);
    expect((await t.http().delete(`/v1/me/tokens/${created.body.id}`).set(other.auth)).status).toBe(404);
  });

  describe('bad input is a 4xx with a clear message and changes nothing', () => {
    async function users(): Promise<number> {
      return Number((await t.sql.query('SELECT count(*) FROM control.users')).rows[0].count);
    }

    it.each([
      ['malformed JSON', '{"email": "x@example.com", ', 400, /not valid JSON/],
      ['wrong types', JSON.stringify({ email: 42, password: ['x'] }), 400, /email/],
      ['unknown fields', JSON.stringify({ email: 'u@example.com', password: PASSWORD, admin: true }), 400, /admin|Unrecognized/i],
      ['an invalid email', JSON.stringify({ email: 'not-an-email', password: PASSWORD }), 400, /valid email/],
      ['a weak password', JSON.stringify({ email: 'weak@example.com', password: 'password1' }), 400, /Password/],
      ['an SQL-looking email', JSON.stringify({ email: "x'; DROP TABLE control.users; --@example.com", password: PASSWORD }), 400, /valid email/],
      ['a missing body', '', 400, /invalid/i],
    ])('%s', async (_name, body, status, message) => {
      const before = await users();
      const res = await t.http().post('/v1/auth/signup').set('content-type', 'application/json').send(body);
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
      expect(await users()).toBe(before);
    });

    it('a text body to a JSON endpoint gets 400 saying a JSON body is expected', async () => {
      const before = await users();
      const res = await t.http().post('/v1/auth/signup').set('content-type', 'text/plain').send(JSON.stringify({ email: 'text@example.com', password: PASSWORD }));
      expect(res.status).toBe(400);
      expect(res.body.error.message).toBe('Request is invalid: expected a JSON body (Content-Type: application/json)');
      expect(await users()).toBe(before);
    });

    it('a huge body gets 413', async () => {
      const before = await users();
      const res = await t
        .http()
        .post('/v1/auth/signup')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ email: 'big@example.com', password: PASSWORD, name: 'x'.repeat(2 * 1024 * 1024) }));
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('payload_too_large');
      expect(await users()).toBe(before);
    });

    it('a duplicate signup is a 409 and the first account is intact', async () => {
      const u = await signup(t);
      const res = await t.http().post('/v1/auth/signup').send({ email: u.email.toUpperCase(), password: PASSWORD });
      expect(res.status).toBe(409);
      const { rows } = await t.sql.query('SELECT count(*) FROM control.users WHERE lower(email) = lower($1)', [u.email]);
      expect(Number(rows[0].count)).toBe(1);
      const orgs = await t.sql.query('SELECT count(*) FROM control.org_members WHERE user_id = $1', [u.id]);
      expect(Number(orgs.rows[0].count)).toBe(1);
    });
  });
});
