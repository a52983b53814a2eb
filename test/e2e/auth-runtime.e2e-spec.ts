import { createClient, SupabaseClient } from '@supabase/supabase-js';
import { createHmac, createPublicKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import ws from 'ws';
import { PASSWORD_HASH_PARAMS } from '@plinth/common';
import { AuthTokensService } from '@plinth/runtime-auth';
import { codeAndLink, SmtpCapture } from '../support/smtp-capture';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

const PASSWORD = 'Sup3r-secret-pass';
const RELAXED_LIMITS = {
  sign_in_per_ip: 10_000, password_per_account: 10_000, token_refresh_per_ip: 10_000, verify_per_ip: 10_000,
  emails_per_hour: 10_000, email_requests_per_ip: 10_000, email_interval_seconds: 0, anonymous_per_ip_per_hour: 10_000,
};

describe('auth runtime (/p/:ref/auth/v1) with supabase-js', () => {
  let t: TestApp;
  let smtp: SmtpCapture;
  let owner: TestUser;
  /** Email confirmation off, anonymous sign-ins on, platform mailer (SMTP_URL). */
  let a: TestProject;
  /** Email confirmation on, the project's own SMTP settings. */
  let b: TestProject;

  const client = (p: TestProject, key = p.publishable): SupabaseClient =>
    createClient(`${t.baseUrl}/p/${p.ref}`, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      // ws's typings differ from the DOM WebSocket's in details supabase-js doesn't use.
      realtime: { transport: ws as never },
    });
  const patchConfig = async (p: TestProject, body: Record<string, unknown>) => {
    const res = await t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send(body);
    if (res.status !== 200) throw new Error(`patch config: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const authPath = (p: TestProject, path: string) => `/p/${p.ref}/auth/v1${path}`;

  beforeAll(async () => {
    smtp = new SmtpCapture();
    await smtp.start();
    t = await bootTestApp({ LOG_LEVEL: process.env.AUTH_E2E_LOG ?? 'silent', SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, JOBS_POLL_MS: '20' }, undefined, { withWorker: true });
    owner = await signup(t, 'auth-owner');
    await upgradeOrg(t, owner); // three projects in one org
    a = await createProject(t, owner, 'auth-a');
    b = await createProject(t, owner, 'auth-b');
    await patchConfig(a, { email_confirm_required: false, anonymous_sign_ins: true, rate_limits: RELAXED_LIMITS, redirect_urls: ['https://app.example.com/**'] });
    await patchConfig(b, {
      rate_limits: RELAXED_LIMITS,
      site_url: 'https://b.example.com',
      smtp: { host: '127.0.0.1', port: smtp.port, sender_email: 'auth@b.example.com', sender_name: 'Project B', user: 'mailer', pass: 'smtp-pass' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  describe('per-project storage', () => {
    it('creates the auth tables in the project schema at provisioning, out of the data role’s reach', async () => {
      const { rows } = await t.sql.query(
        `SELECT c.relname, has_table_privilege($2, c.oid, 'SELECT') AS data_can_read, pg_get_userbyid(c.relowner) AS owner
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE '\\_auth\\_%' ORDER BY 1`,
        [`t_${a.ref}`, `t_${a.ref}_data`],
      );
      expect(rows.map((r) => r.relname)).toEqual(['_auth_codes', '_auth_flow_states', '_auth_identities', '_auth_mfa_challenges', '_auth_mfa_factors', '_auth_refresh_tokens', '_auth_sessions', '_auth_users']);
      expect(rows.every((r) => r.data_can_read === false && r.owner === `t_${a.ref}_owner`)).toBe(true);
    });
  });

  describe('sign-up, sign-in, tokens', () => {
    let email: string;
    beforeAll(() => (email = uniqueEmail('enduser')));

    it('signs up with a password and gets a session with GoTrue claims, signed ES256 with a key in the JWKS', async () => {
      const sb = client(a);
      const { data, error } = await sb.auth.signUp({ email, password: PASSWORD, options: { data: { name: 'Ada' } } });
      expect(error).toBeNull();
      expect(data.session).toMatchObject({ token_type: 'bearer', expires_in: 3600 });
      expect(data.user).toMatchObject({ email, aud: 'authenticated', role: 'authenticated', user_metadata: { name: 'Ada' }, is_anonymous: false });
      expect(data.user!.identities![0]).toMatchObject({ provider: 'email' });
      const token = data.session!.access_token;
      const header = decodeProtectedHeader(token);
      const claims = decodeJwt(token);
      expect(header.alg).toBe('ES256');
      expect(claims).toMatchObject({
        sub: data.user!.id, aud: 'authenticated', role: 'authenticated', email, aal: 'aal1', is_anonymous: false,
        iss: `${t.config.http.publicUrl}/p/${a.ref}/auth/v1`, app_metadata: { provider: 'email', providers: ['email'] }, user_metadata: { name: 'Ada' },
      });
      expect(claims.session_id).toEqual(expect.any(String));
      expect(claims.amr).toEqual([{ method: 'password', timestamp: expect.any(Number) }]);
      expect(claims.exp! - claims.iat!).toBe(3600);
      const jwks = await t.http().get(authPath(a, '/.well-known/jwks.json')).set('apikey', a.publishable);
      expect(jwks.status).toBe(200);
      expect(jwks.body.keys).toEqual([expect.objectContaining({ kid: header.kid, kty: 'EC', crv: 'P-256', alg: 'ES256' })]);
      expect(JSON.stringify(jwks.body)).not.toMatch(/"d"/);
    });

    it('refuses a second sign-up with the same email when no confirmation is required (422 user_already_exists)', async () => {
      const { error } = await client(a).auth.signUp({ email, password: PASSWORD });
      expect(error).toMatchObject({ status: 422, code: 'user_already_exists' });
    });

    it('signs in with the password; wrong passwords and unknown emails get the same 400 invalid_credentials', async () => {
      const sb = client(a);
      const ok = await sb.auth.signInWithPassword({ email, password: PASSWORD });
      expect(ok.error).toBeNull();
      expect(ok.data.user!.email).toBe(email);
      const wrong = await t.http().post(authPath(a, '/token?grant_type=password')).set('apikey', a.publishable).send({ email, password: 'Wrong-pass-123' });
      const unknown = await t.http().post(authPath(a, '/token?grant_type=password')).set('apikey', a.publishable).send({ email: uniqueEmail('nobody'), password: 'Wrong-pass-123' });
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual({ code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' });
      expect(unknown.text).toBe(wrong.text);
      const viaClient = await sb.auth.signInWithPassword({ email, password: 'Wrong-pass-123' });
      expect(viaClient.error).toMatchObject({ status: 400, code: 'invalid_credentials', message: 'Invalid login credentials' });
    });

    it('signs in with a hash stored at the previous argon2 setting and upgrades it to the current one', async () => {
      const old = uniqueEmail('old-hash');
      expect((await client(a).auth.signUp({ email: old, password: PASSWORD })).error).toBeNull();
      // 'Corr3ct-Horse' hashed by @node-rs/argon2 at m=19456, t=2, p=1 (the setting before this one).
      const stored = '$argon2id$v=19$m=19456,t=2,p=1$0yabyqK2xqzvtm2XECR77Q$VIabMynXOS0Ni897i//bl42y60GdFyaNGmVf9DyHH5g';
      const users = `"t_${a.ref}"._auth_users`;
      await t.sql.query(`UPDATE ${users} SET encrypted_password = $2 WHERE email = $1`, [old, stored]);
      const hashOf = async () => (await t.sql.query(`SELECT encrypted_password AS h FROM ${users} WHERE email = $1`, [old])).rows[0].h as string;

      expect((await client(a).auth.signInWithPassword({ email: old, password: PASSWORD })).error).toMatchObject({ code: 'invalid_credentials' });
      expect(await hashOf()).toBe(stored);
      expect((await client(a).auth.signInWithPassword({ email: old, password: 'Corr3ct-Horse' })).error).toBeNull();
      const upgraded = await hashOf();
      expect(upgraded.startsWith(`$argon2id$v=19$${PASSWORD_HASH_PARAMS}$`)).toBe(true);
      expect((await client(a).auth.signInWithPassword({ email: old, password: 'Corr3ct-Horse' })).error).toBeNull();
      expect(await hashOf()).toBe(upgraded);
    });

    it('gets the user through the gateway as role authenticated, and updates metadata and password', async () => {
      const sb = client(a);
      const { data } = await sb.auth.signInWithPassword({ email, password: PASSWORD });
      const me = await sb.auth.getUser();
      expect(me.error).toBeNull();
      expect(me.data.user!.id).toBe(data.user!.id);
      const raw = await t.http().get(authPath(a, '/user')).set('apikey', a.publishable).set('authorization', `Bearer ${data.session!.access_token}`);
      expect(raw.status).toBe(200);
      expect(raw.body.id).toBe(data.user!.id);

      const upd = await sb.auth.updateUser({ data: { plan: 'pro' } });
      expect(upd.error).toBeNull();
      expect(upd.data.user!.user_metadata).toEqual({ name: 'Ada', plan: 'pro' });
      const weak = await sb.auth.updateUser({ password: 'short' });
      expect(weak.error).toMatchObject({ status: 422, code: 'weak_password' });
      expect((weak.error as { reasons?: string[] }).reasons).toEqual(['length']);
      const same = await sb.auth.updateUser({ password: PASSWORD });
      expect(same.error).toMatchObject({ status: 422, code: 'same_password' });
      expect((await sb.auth.updateUser({ password: `${PASSWORD}-2` })).error).toBeNull();
      expect((await client(a).auth.signInWithPassword({ email, password: PASSWORD })).error).toMatchObject({ code: 'invalid_credentials' });
      expect((await client(a).auth.signInWithPassword({ email, password: `${PASSWORD}-2` })).error).toBeNull();
      const restore = client(a);
      await restore.auth.signInWithPassword({ email, password: `${PASSWORD}-2` });
      expect((await restore.auth.updateUser({ password: PASSWORD })).error).toBeNull();
    });

    it('rotates refresh tokens; replaying a spent one (past the reuse interval, here 0) is refused and revokes the whole session', async () => {
      // The two-tab reuse interval has its own spec (auth-sessions-invites); at 0 every replay is theft.
      await patchConfig(a, { refresh_token_reuse_interval_seconds: 0 });
      const sb = client(a);
      const { data } = await sb.auth.signInWithPassword({ email, password: PASSWORD });
      const first = data.session!;
      const r1 = await sb.auth.refreshSession({ refresh_token: first.refresh_token });
      expect(r1.error).toBeNull();
      const second = r1.data.session!;
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(decodeJwt(second.access_token).session_id).toBe(decodeJwt(first.access_token).session_id);

      const replay = await t.http().post(authPath(a, '/token?grant_type=refresh_token')).set('apikey', a.publishable).send({ refresh_token: first.refresh_token });
      expect(replay.status).toBe(400);
      expect(replay.body).toMatchObject({ error_code: 'refresh_token_already_used' });
      // The family is gone: the newest refresh token and the session's access tokens stop working.
      const after = await t.http().post(authPath(a, '/token?grant_type=refresh_token')).set('apikey', a.publishable).send({ refresh_token: second.refresh_token });
      expect(after.status).toBe(400);
      expect(after.body.error_code).toBe('refresh_token_not_found');
      // No wait: the session cache of other instances heals within 5 s, but this instance knows at once.
      const me = await t.http().get(authPath(a, '/user')).set('apikey', a.publishable).set('authorization', `Bearer ${second.access_token}`);
      expect(me.status).toBe(403);
      expect(me.body.error_code).toBe('bad_jwt');
      await patchConfig(a, { refresh_token_reuse_interval_seconds: 10 });
    });

    it('signs out with scope local, others and global', async () => {
      const sessions = await Promise.all([0, 1, 2].map(async () => {
        const sb = client(a);
        const { data } = await sb.auth.signInWithPassword({ email, password: PASSWORD });
        return { sb, session: data.session! };
      }));
      const userOk = (token: string) => t.http().get(authPath(a, '/user')).set('apikey', a.publishable).set('authorization', `Bearer ${token}`);
      expect((await sessions[0].sb.auth.signOut({ scope: 'local' })).error).toBeNull();
      expect((await userOk(sessions[0].session.access_token)).status).toBe(403);
      expect((await userOk(sessions[1].session.access_token)).status).toBe(200);
      await sessions[1].sb.auth.setSession(sessions[1].session);
      expect((await sessions[1].sb.auth.signOut({ scope: 'others' })).error).toBeNull();
      expect((await userOk(sessions[1].session.access_token)).status).toBe(200);
      expect((await userOk(sessions[2].session.access_token)).status).toBe(403);
      expect((await sessions[1].sb.auth.signOut()).error).toBeNull();
      expect((await userOk(sessions[1].session.access_token)).status).toBe(403);
      const refresh = await t.http().post(authPath(a, '/token?grant_type=refresh_token')).set('apikey', a.publishable).send({ refresh_token: sessions[1].session.refresh_token });
      expect(refresh.status).toBe(400);
    });
  });

  describe('forged and foreign tokens', () => {
    let token: string;
    let userId: string;
    beforeAll(async () => {
      const email = uniqueEmail('forge');
      const { data } = await client(a).auth.signUp({ email, password: PASSWORD });
      token = data.session!.access_token;
      userId = data.user!.id;
    });
    const userWith = (p: TestProject, jwt: string) => t.http().get(authPath(p, '/user')).set('apikey', p.publishable).set('authorization', `Bearer ${jwt}`);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

    it('accepts the genuine token, here and on the data runtime (role authenticated)', async () => {
      expect((await userWith(a, token)).status).toBe(200);
      const rest = await t.http().get(`/p/${a.ref}/rest/v1/`).set('apikey', a.publishable).set('authorization', `Bearer ${token}`);
      expect(rest.status).toBe(200);
    });

    it('refuses project A’s token on project B (and on B’s data runtime)', async () => {
      const res = await userWith(b, token);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ code: 403, error_code: 'bad_jwt' });
      const rest = await t.http().get(`/p/${b.ref}/rest/v1/`).set('apikey', b.publishable).set('authorization', `Bearer ${token}`);
      expect(rest.status).toBe(401);
    });

    it('refuses an expired token', async () => {
      const claims = decodeJwt(token);
      const tokens = t.app.get(AuthTokensService);
      const project = { id: a.id, ref: a.ref, orgId: owner.orgId, cluster: 'default', schema: `t_${a.ref}`, dataRole: `t_${a.ref}_data` };
      const user = { id: userId, email: claims.email, is_anonymous: false, user_metadata: {}, app_metadata: {}, identities: [] } as never;
      const expired = await tokens.sign(project, { user, sessionId: String(claims.session_id), amr: [], ttlSeconds: -10 });
      expect((await userWith(a, expired.token)).status).toBe(403);
      const fresh = await tokens.sign(project, { user, sessionId: String(claims.session_id), amr: [], ttlSeconds: 60 });
      expect((await userWith(a, fresh.token)).status).toBe(200);
    });

    it('refuses alg none, HS256 keyed with the public key, and a tampered payload', async () => {
      const [h, p, s] = token.split('.');
      const header = JSON.parse(Buffer.from(h, 'base64url').toString());
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const none = `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`;
      const jwks = (await t.http().get(authPath(a, '/.well-known/jwks.json')).set('apikey', a.publishable)).body.keys;
      const jwk = jwks.find((k: { kid: string }) => k.kid === header.kid);
      const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
      const forged: string[] = [none];
      for (const secret of [pem, JSON.stringify(jwk), Buffer.from(JSON.stringify(jwk)).toString('base64url')]) {
        const hs = `${b64({ ...header, alg: 'HS256' })}.${p}`;
        forged.push(`${hs}.${createHmac('sha256', secret).update(hs).digest('base64url')}`);
      }
      forged.push(`${h}.${b64({ ...payload, sub: '00000000-0000-4000-8000-000000000000' })}.${s}`);
      forged.push(`${b64({ ...header, kid: 'unknown-kid' })}.${p}.${s}`);
      for (const f of forged) {
        const res = await userWith(a, f);
        expect(res.status).toBe(403);
        expect(res.body.error_code).toBe('bad_jwt');
      }
    });
  });

  describe('bad input → GoTrue-shaped 4xx', () => {
    const post = (path: string) => t.http().post(authPath(a, path)).set('apikey', a.publishable);

    it.each([
      ['malformed JSON', () => post('/signup').set('content-type', 'application/json').send('{"email":'), 400, 'bad_json'],
      ['a wrong content type', () => post('/signup').set('content-type', 'text/plain').send('email=x'), 400, 'bad_json'],
      ['a form-encoded body', () => post('/token?grant_type=password').type('form').send({ email: 'a@b.co', password: 'x' }), 400, 'bad_json'],
      ['a malformed email', () => post('/signup').send({ email: 'not-an-email', password: PASSWORD }), 400, 'email_address_invalid'],
      ['an overlong email', () => post('/signup').send({ email: `${'a'.repeat(400)}@example.com`, password: PASSWORD }), 400, 'validation_failed'],
      ['an overlong password', () => post('/signup').send({ email: uniqueEmail(), password: 'Aa1!'.repeat(300) }), 400, 'validation_failed'],
      ['a weak password', () => post('/signup').send({ email: uniqueEmail(), password: 'abc' }), 422, 'weak_password'],
      ['a missing grant type', () => post('/token').send({ email: 'a@b.co', password: 'x' }), 400, 'validation_failed'],
      ['an unknown grant type', () => post('/token?grant_type=client_credentials').send({}), 400, 'validation_failed'],
      ['a missing refresh token', () => post('/token?grant_type=refresh_token').send({}), 400, 'validation_failed'],
      ['a non-string password', () => post('/token?grant_type=password').send({ email: 'a@b.co', password: 42 }), 400, 'validation_failed'],
      ['an unknown verify type', () => post('/verify').send({ type: 'bogus', token: '123456', email: 'a@b.co' }), 400, 'validation_failed'],
      ['GET /user without a user token', () => t.http().get(authPath(a, '/user')).set('apikey', a.publishable), 401, 'no_authorization'],
    ])('%s', async (_name, send, status, code) => {
      const res = await send();
      expect(res.status).toBe(status);
      expect(res.body).toMatchObject({ code: status, error_code: code, msg: expect.any(String) });
      expect(res.body.error).toBeUndefined();
    });

    it('answers a missing or invalid API key in the same shape', async () => {
      const res = await t.http().get(authPath(a, '/settings'));
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ code: 401, msg: expect.any(String) });
    });
  });

  describe('email flows through the outbox and a real SMTP server', () => {
    it('sign-up with confirmation required: no session, a confirmation email, then verifyOtp signs in', async () => {
      const email = uniqueEmail('confirm');
      const sb = client(b);
      const { data, error } = await sb.auth.signUp({ email, password: PASSWORD });
      expect(error).toBeNull();
      expect(data.session).toBeNull();
      expect(data.user!.email).toBe(email);
      expect(data.user!.email_confirmed_at).toBeUndefined();
      expect((await client(b).auth.signInWithPassword({ email, password: PASSWORD })).error).toMatchObject({ status: 400, code: 'email_not_confirmed' });
      const mail = await smtp.waitFor(email);
      expect(mail.subject).toBe('Confirm your signup');
      expect(mail.raw).toMatch(/^From: Project B <auth@b\.example\.com>/m);
      expect(mail.authUser).toBe('mailer');
      const { code } = codeAndLink(mail);
      const wrong = await sb.auth.verifyOtp({ email, token: code === '000000' ? '111111' : '000000', type: 'signup' });
      expect(wrong.error).toMatchObject({ status: 403, code: 'otp_expired' });
      const ok = await sb.auth.verifyOtp({ email, token: code, type: 'signup' });
      expect(ok.error).toBeNull();
      expect(ok.data.session!.user.email_confirmed_at).toEqual(expect.any(String));
      expect((await sb.auth.verifyOtp({ email, token: code, type: 'signup' })).error).toMatchObject({ code: 'otp_expired' });
      expect((await client(b).auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();
      // The outbox row doesn't hold the code in clear.
      const { rows } = await t.sql.query(`SELECT data::text AS d FROM control.outbox WHERE name = 'auth.send-email'`);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.map((r) => r.d).join('\n')).not.toContain(code);
    });

    it('resend: a fresh confirmation replaces the first (the new code confirms, the old does not); unknown and confirmed addresses get the same 200 and no mail', async () => {
      const email = uniqueEmail('resend');
      await client(b).auth.signUp({ email, password: PASSWORD });
      const first = codeAndLink(await smtp.waitFor(email)).code;
      expect((await client(b).auth.resend({ type: 'signup', email })).error).toBeNull();
      const second = codeAndLink(await smtp.waitFor(email)).code;
      if (first !== second) expect((await client(b).auth.verifyOtp({ email, token: first, type: 'signup' })).error).toMatchObject({ code: 'otp_expired' });
      const ok = await client(b).auth.verifyOtp({ email, token: second, type: 'signup' });
      expect(ok.error).toBeNull();
      expect(ok.data.session!.user.email_confirmed_at).toEqual(expect.any(String));
      // Now confirmed, and an address nobody has: the same empty 200, and nothing sent.
      const unknown = uniqueEmail('resend-nobody');
      for (const to of [email, unknown]) expect(await t.http().post(authPath(b, '/resend')).set('apikey', b.publishable).send({ type: 'signup', email: to })).toMatchObject({ status: 200, body: {} });
      await new Promise((r) => setTimeout(r, 500));
      expect([smtp.countTo(email), smtp.countTo(unknown)]).toEqual([0, 0]); // both earlier mails were taken above
      expect((await t.http().post(authPath(b, '/resend')).set('apikey', b.publishable).send({ type: 'sms', email })).status).toBe(400);
    });

    it('a second sign-up of a confirmed address looks the same and sends nothing (no enumeration)', async () => {
      const email = uniqueEmail('taken');
      await client(b).auth.signUp({ email, password: PASSWORD });
      const { code } = codeAndLink(await smtp.waitFor(email));
      await client(b).auth.verifyOtp({ email, token: code, type: 'signup' });
      const again = await client(b).auth.signUp({ email, password: 'Another-pass-123' });
      const fresh = await client(b).auth.signUp({ email: uniqueEmail('fresh'), password: PASSWORD });
      expect(again.error).toBeNull();
      expect(Object.keys(again.data.user!).sort()).toEqual(Object.keys(fresh.data.user!).sort());
      await new Promise((r) => setTimeout(r, 500));
      expect(smtp.countTo(email)).toBe(0);
    });

    it('magic link: signInWithOtp mails a link that signs in once, redirecting only to allowed URLs', async () => {
      const email = uniqueEmail('magic');
      const { error } = await client(a).auth.signInWithOtp({ email, options: { emailRedirectTo: 'https://app.example.com/welcome' } });
      expect(error).toBeNull();
      const { link } = codeAndLink(await smtp.waitFor(email));
      const url = new URL(link);
      expect(url.pathname).toBe(`/p/${a.ref}/auth/v1/verify`);
      // Opened from the email in a browser: no apikey header.
      const follow = await t.http().get(`${url.pathname}${url.search}`);
      expect(follow.status).toBe(303);
      const location = new URL(follow.headers.location);
      expect(`${location.origin}${location.pathname}`).toBe('https://app.example.com/welcome');
      const fragment = new URLSearchParams(location.hash.slice(1));
      expect(fragment.get('type')).toBe('magiclink');
      const me = await t.http().get(authPath(a, '/user')).set('apikey', a.publishable).set('authorization', `Bearer ${fragment.get('access_token')}`);
      expect(me.body).toMatchObject({ email, email_confirmed_at: expect.any(String) });
      const again = await t.http().get(`${url.pathname}${url.search}`);
      expect(new URLSearchParams(new URL(again.headers.location).hash.slice(1)).get('error_code')).toBe('otp_expired');

      await client(a).auth.signInWithOtp({ email, options: { emailRedirectTo: 'https://evil.example.net/steal' } });
      const evil = new URL(codeAndLink(await smtp.waitFor(email)).link);
      expect(evil.searchParams.get('redirect_to')).toBe(t.config.http.publicUrl);
    });

    it('one-time code: verifyOtp type email; five wrong guesses kill the code', async () => {
      const email = uniqueEmail('otp');
      await client(a).auth.signInWithOtp({ email });
      const { code } = codeAndLink(await smtp.waitFor(email));
      const sb = client(a);
      const ok = await sb.auth.verifyOtp({ email, token: code, type: 'email' });
      expect(ok.error).toBeNull();
      expect(ok.data.user!.email).toBe(email);

      await client(a).auth.signInWithOtp({ email });
      const second = codeAndLink(await smtp.waitFor(email)).code;
      const wrong = second === '123456' ? '654321' : '123456';
      for (let i = 0; i < 5; i++) expect((await sb.auth.verifyOtp({ email, token: wrong, type: 'email' })).error).toMatchObject({ code: 'otp_expired' });
      expect((await sb.auth.verifyOtp({ email, token: second, type: 'email' })).error).toMatchObject({ status: 403, code: 'otp_expired' });
      // shouldCreateUser: false for an unknown address is 422 otp_disabled, as GoTrue answers, and creates nothing.
      const unknown = uniqueEmail('nouser');
      expect((await client(a).auth.signInWithOtp({ email: unknown, options: { shouldCreateUser: false } })).error).toMatchObject({ status: 422, code: 'otp_disabled' });
      const { rows } = await t.sql.query(`SELECT 1 FROM "t_${a.ref}"._auth_users WHERE email = $1`, [unknown]);
      expect(rows).toHaveLength(0);
    });

    it('a phone code (no SMS is ever sent) is refused as GoTrue refuses a wrong one: 403 otp_expired, or 400 for a non-E.164 number', async () => {
      const sb = client(a);
      for (const type of ['sms', 'phone_change'] as const) {
        expect((await sb.auth.verifyOtp({ phone: '+15555550123', token: '123456', type })).error).toMatchObject({ status: 403, code: 'otp_expired', message: 'Token has expired or is invalid' });
      }
      expect((await sb.auth.verifyOtp({ phone: '+1555-invalid', token: '123456', type: 'sms' })).error).toMatchObject({ status: 400, message: 'Invalid phone number format (E.164 required)' });
    });

    it('password recovery: resetPasswordForEmail → code → session of type recovery → updateUser password', async () => {
      const email = uniqueEmail('recover');
      await client(a).auth.signUp({ email, password: PASSWORD });
      expect((await client(a).auth.resetPasswordForEmail(email)).error).toBeNull();
      expect((await client(a).auth.resetPasswordForEmail(uniqueEmail('ghost'))).error).toBeNull();
      const mail = await smtp.waitFor(email);
      expect(mail.subject).toBe('Reset your password');
      const sb = client(a);
      const v = await sb.auth.verifyOtp({ email, token: codeAndLink(mail).code, type: 'recovery' });
      expect(v.error).toBeNull();
      expect(decodeJwt(v.data.session!.access_token).amr).toEqual([{ method: 'recovery', timestamp: expect.any(Number) }]);
      expect((await sb.auth.updateUser({ password: 'Brand-new-pass-9' })).error).toBeNull();
      expect((await client(a).auth.signInWithPassword({ email, password: 'Brand-new-pass-9' })).error).toBeNull();
    });

    it('email change with confirmation: the new address gets a code; verifying it switches the email', async () => {
      const email = uniqueEmail('change');
      const sb = client(b);
      await sb.auth.signUp({ email, password: PASSWORD });
      await sb.auth.verifyOtp({ email, token: codeAndLink(await smtp.waitFor(email)).code, type: 'signup' });
      const next = uniqueEmail('changed');
      const upd = await sb.auth.updateUser({ email: next });
      expect(upd.error).toBeNull();
      expect(upd.data.user).toMatchObject({ email, new_email: next });
      const mail = await smtp.waitFor(next);
      expect(mail.subject).toBe('Confirm your new email address');
      const v = await sb.auth.verifyOtp({ email: next, token: codeAndLink(mail).code, type: 'email_change' });
      expect(v.error).toBeNull();
      expect(v.data.user!.email).toBe(next);
      expect((await client(b).auth.signInWithPassword({ email: next, password: PASSWORD })).error).toBeNull();
      expect((await client(b).auth.signInWithPassword({ email, password: PASSWORD })).error).toMatchObject({ code: 'invalid_credentials' });
    });

    it('sends each email exactly once, and nothing for unknown addresses', async () => {
      const email = uniqueEmail('once');
      await client(b).auth.resetPasswordForEmail(email); // unknown: nothing
      await client(b).auth.signUp({ email, password: PASSWORD });
      await smtp.waitFor(email);
      await new Promise((r) => setTimeout(r, 800));
      expect(smtp.countTo(email)).toBe(0);
    });
  });

  describe('anonymous sign-in', () => {
    it('is refused when the project disallows it, and works (then links an email) when allowed', async () => {
      const refused = await client(b).auth.signInAnonymously();
      expect(refused.error).toMatchObject({ status: 422, code: 'anonymous_provider_disabled' });
      const sb = client(a);
      const { data, error } = await sb.auth.signInAnonymously({ options: { data: { theme: 'dark' } } });
      expect(error).toBeNull();
      expect(data.user).toMatchObject({ is_anonymous: true, email: '', app_metadata: { provider: 'anonymous' } });
      expect(decodeJwt(data.session!.access_token)).toMatchObject({ is_anonymous: true, role: 'authenticated' });
      const email = uniqueEmail('linked');
      const linked = await sb.auth.updateUser({ email, password: PASSWORD });
      expect(linked.error).toBeNull();
      expect(linked.data.user).toMatchObject({ id: data.user!.id, email, is_anonymous: false });
      expect((await client(a).auth.signInWithPassword({ email, password: PASSWORD })).data.user!.id).toBe(data.user!.id);
    });
  });

  describe('admin API (secret key)', () => {
    it('creates, lists, reads, updates (ban), generates links for and deletes users; refuses the publishable key', async () => {
      const admin = client(a, a.secret).auth.admin;
      const email = uniqueEmail('admin');
      const created = await admin.createUser({ email, password: PASSWORD, email_confirm: true, user_metadata: { a: 1 }, app_metadata: { tier: 'gold' } });
      expect(created.error).toBeNull();
      const id = created.data.user!.id;
      expect(created.data.user).toMatchObject({ email, user_metadata: { a: 1 }, app_metadata: { tier: 'gold', provider: 'email' }, email_confirmed_at: expect.any(String) });
      const list = await admin.listUsers({ page: 1, perPage: 2 });
      expect(list.error).toBeNull();
      expect(list.data.users).toHaveLength(2);
      expect((list.data as unknown as { total: number }).total).toBeGreaterThan(2);
      // Newest first, as GoTrue lists them: the user just created leads; `sort=created_at asc` turns it round.
      expect(list.data.users[0].email).toBe(email);
      const oldest = await t.http().get(`${authPath(a, '/admin/users')}?per_page=1&sort=created_at%20asc`).set('apikey', a.secret);
      expect(oldest.status).toBe(200);
      expect(oldest.body.users[0].email).not.toBe(email);
      const badSort = await t.http().get(`${authPath(a, '/admin/users')}?sort=email`).set('apikey', a.secret);
      expect(badSort.status).toBe(400);
      expect((await admin.getUserById(id)).data.user!.email).toBe(email);
      const signedIn = await client(a).auth.signInWithPassword({ email, password: PASSWORD });
      expect(decodeJwt(signedIn.data.session!.access_token).app_metadata).toMatchObject({ tier: 'gold' });

      const banned = await admin.updateUserById(id, { ban_duration: '24h', user_metadata: { b: 2 } });
      expect(banned.error).toBeNull();
      expect(banned.data.user).toMatchObject({ user_metadata: { a: 1, b: 2 }, banned_until: expect.any(String) });
      expect((await client(a).auth.signInWithPassword({ email, password: PASSWORD })).error).toMatchObject({ code: 'user_banned' });
      const me = await t.http().get(authPath(a, '/user')).set('apikey', a.publishable).set('authorization', `Bearer ${signedIn.data.session!.access_token}`);
      expect(me.status).toBe(403);
      await admin.updateUserById(id, { ban_duration: 'none' });
      expect((await client(a).auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();

      const link = await admin.generateLink({ type: 'magiclink', email });
      expect(link.error).toBeNull();
      expect(link.data.properties).toMatchObject({ verification_type: 'magiclink', email_otp: expect.stringMatching(/^\d{6}$/) });
      const v = await client(a).auth.verifyOtp({ token_hash: link.data.properties!.hashed_token, type: 'magiclink' });
      expect(v.error).toBeNull();
      expect(v.data.user!.id).toBe(id);

      const notAdmin = await client(a).auth.admin.listUsers();
      expect(notAdmin.error).toMatchObject({ status: 403, code: 'not_admin' });
      expect((await admin.getUserById('00000000-0000-4000-8000-000000000000')).error).toMatchObject({ status: 404, code: 'user_not_found' });
      expect((await admin.deleteUser(id)).error).toBeNull();
      expect((await admin.getUserById(id)).error).toMatchObject({ status: 404 });
      expect((await client(b, b.secret).auth.admin.getUserById(created.data.user!.id)).error).toMatchObject({ status: 404 });
    });
  });

  describe('settings', () => {
    it('GET /settings reflects the project config; the management API validates, hides the SMTP password and audits', async () => {
      const s = await t.http().get(authPath(a, '/settings')).set('apikey', a.publishable);
      expect(s.body).toMatchObject({ external: { email: true, anonymous_users: true }, mailer_autoconfirm: true, disable_signup: false });
      const cfg = await t.http().get(`/v1/projects/${b.ref}/auth/config`).set(owner.auth);
      expect(cfg.status).toBe(200);
      expect(cfg.body.smtp).toMatchObject({ host: '127.0.0.1', pass_set: true });
      expect(JSON.stringify(cfg.body)).not.toContain('smtp-pass');
      const stored = await t.sql.query(`SELECT settings::text || coalesce(smtp_password_enc, '') AS s FROM control.auth_configs`);
      expect(stored.rows.map((r) => r.s).join()).not.toContain('smtp-pass');
      const bad = await t.http().patch(`/v1/projects/${b.ref}/auth/config`).set(owner.auth).send({ access_token_ttl_seconds: 5, bogus: true });
      expect(bad.status).toBe(400);
      const stranger = await signup(t, 'stranger');
      expect((await t.http().get(`/v1/projects/${b.ref}/auth/config`).set(stranger.auth)).status).toBe(404);
      const audit = await t.sql.query(`SELECT count(*)::int AS n FROM control.audit_log WHERE action = 'auth_config.update' AND target_id = $1`, [b.ref]);
      expect(audit.rows[0].n).toBeGreaterThan(0);
    });
  });

  describe('brute force, MAU, key rotation', () => {
    it('limits password attempts per account with 429 and Retry-After', async () => {
      const c = await createProject(t, owner, 'auth-limits');
      await patchConfig(c, { email_confirm_required: false });
      const email = uniqueEmail('victim');
      await client(c).auth.signUp({ email, password: PASSWORD });
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 12; i++) {
        last = await t.http().post(authPath(c, '/token?grant_type=password')).set('apikey', c.publishable).send({ email, password: 'Wrong-pass-123' });
        statuses.push(last.status);
      }
      expect(statuses.filter((s) => s === 400).length).toBeLessThanOrEqual(10);
      expect(last!.status).toBe(429);
      expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
      expect(last!.body).toMatchObject({ code: 429, error_code: 'over_request_rate_limit' });
    });

    it('counts monthly active users once per user and month', async () => {
      const { rows } = await t.sql.query(`SELECT user_id, count(*)::int AS n FROM control.auth_monthly_users WHERE project_id = $1 GROUP BY user_id`, [a.id]);
      expect(rows.length).toBeGreaterThan(3);
      expect(rows.every((r) => r.n === 1)).toBe(true);
    });

    it('rotates the signing key: both keys in JWKS, old tokens still valid, new tokens use the new kid', async () => {
      const email = uniqueEmail('rotate');
      const before = await client(a).auth.signUp({ email, password: PASSWORD });
      const oldKid = decodeProtectedHeader(before.data.session!.access_token).kid;
      const rot = await t.http().post(`/v1/projects/${a.ref}/auth/signing-keys/rotate`).set(owner.auth).send();
      expect(rot.status).toBe(200);
      expect(rot.body.previous_kid).toBe(oldKid);
      const jwks = await t.http().get(authPath(a, '/.well-known/jwks.json')).set('apikey', a.publishable);
      expect(jwks.body.keys.map((k: { kid: string }) => k.kid).sort()).toEqual([oldKid, rot.body.kid].sort());
      const me = await t.http().get(authPath(a, '/user')).set('apikey', a.publishable).set('authorization', `Bearer ${before.data.session!.access_token}`);
      expect(me.status).toBe(200);
      const after = await client(a).auth.signInWithPassword({ email, password: PASSWORD });
      expect(decodeProtectedHeader(after.data.session!.access_token).kid).toBe(rot.body.kid);
    });
  });
});
