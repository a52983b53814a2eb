import { createClient, SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import { DataSource } from 'typeorm';
import ws from 'ws';
import { tenantNames } from '@plinth/tenancy';
import { AuthSessionRecovery1765000600000 } from '../../libs/database/src/migrations/1765000600000-auth-session-recovery';
import { CapturedMail, codeAndLink, SmtpCapture } from '../support/smtp-capture';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

const PASSWORD = 'Sup3r-secret-pass';
const RELAXED_LIMITS = {
  sign_in_per_ip: 10_000, password_per_account: 10_000, token_refresh_per_ip: 10_000, verify_per_ip: 10_000,
  emails_per_hour: 10_000, email_requests_per_ip: 10_000, email_interval_seconds: 0, anonymous_per_ip_per_hour: 10_000,
};

/**
 * Issue 18's auth flows with supabase-js and a real SMTP server: refresh-token reuse within the project's
 * interval (two tabs), invitations (`auth.admin.inviteUserByEmail`), and reauthentication before a password
 * change (`auth.reauthenticate` + `updateUser({ password, nonce })`), each also tried from another project.
 */
describe('auth: refresh reuse, invitations, reauthentication (supabase-js)', () => {
  let t: TestApp;
  let smtp: SmtpCapture;
  let owner: TestUser;
  /** Default reuse interval (10 s); reauthentication required for password changes. */
  let a: TestProject;
  /** Reuse interval 1 s; reauthentication required too. */
  let b: TestProject;

  const client = (p: TestProject, key = p.publishable): SupabaseClient =>
    createClient(`${t.baseUrl}/p/${p.ref}`, key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      realtime: { transport: ws as never },
    });
  const patchConfig = async (p: TestProject, body: Record<string, unknown>) => {
    const res = await t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send(body);
    if (res.status !== 200) throw new Error(`patch config: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const authPath = (p: TestProject, path: string) => `/p/${p.ref}/auth/v1${path}`;
  const refresh = (p: TestProject, token: string) =>
    t.http().post(authPath(p, '/token?grant_type=refresh_token')).set('apikey', p.publishable).send({ refresh_token: token });
  const getUser = (p: TestProject, access: string) => t.http().get(authPath(p, '/user')).set('apikey', p.publishable).set('authorization', `Bearer ${access}`);
  /** A confirmed user of `p` signed in on a fresh client. */
  const signedIn = async (p: TestProject, email = uniqueEmail('user')) => {
    const created = await client(p, p.secret).auth.admin.createUser({ email, password: PASSWORD, email_confirm: true });
    if (created.error) throw created.error;
    const sb = client(p);
    const { data, error } = await sb.auth.signInWithPassword({ email, password: PASSWORD });
    if (error) throw error;
    return { sb, email, session: data.session!, userId: data.user!.id };
  };
  const nonceOf = (mail: CapturedMail) => {
    const code = /code: (\d{6})/.exec(mail.body)?.[1];
    if (!code) throw new Error(`no code in ${mail.body.slice(0, 500)}`);
    return code;
  };
  /** Makes a session look signed in 25 hours ago (GoTrue lets sessions younger than 24 h change the password without a nonce). */
  const ageSession = (p: TestProject, access: string) =>
    t.sql.query(`UPDATE "t_${p.ref}"._auth_sessions SET created_at = now() - interval '25 hours' WHERE id = $1`, [decodeJwt(access).session_id]);

  beforeAll(async () => {
    smtp = new SmtpCapture();
    await smtp.start();
    t = await bootTestApp({ LOG_LEVEL: process.env.AUTH_E2E_LOG ?? 'silent', SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, JOBS_POLL_MS: '20' }, undefined, { withWorker: true });
    owner = await signup(t, 'auth-sessions-owner');
    await upgradeOrg(t, owner);
    a = await createProject(t, owner, 'sessions-a');
    b = await createProject(t, owner, 'sessions-b');
    const common = { email_confirm_required: false, rate_limits: RELAXED_LIMITS, redirect_urls: ['https://app.example.com/**'], update_password_require_reauthentication: true };
    await patchConfig(a, common);
    await patchConfig(b, { ...common, refresh_token_reuse_interval_seconds: 1 });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  describe('refresh-token reuse interval', () => {
    it('the settings show the reuse interval (10 s by default) and refuse a negative one', async () => {
      const view = await t.http().get(`/v1/projects/${a.ref}/auth/config`).set(owner.auth);
      expect(view.body).toMatchObject({ refresh_token_reuse_interval_seconds: 10, update_password_require_reauthentication: true });
      const bad = await t.http().patch(`/v1/projects/${a.ref}/auth/config`).set(owner.auth).send({ refresh_token_reuse_interval_seconds: -1 });
      expect(bad.status).toBe(400);
    });

    it('two tabs refreshing the same token at once both get the same new refresh token, and the session lives on', async () => {
      const { session } = await signedIn(a);
      const [tab1, tab2] = await Promise.all([
        client(a).auth.refreshSession({ refresh_token: session.refresh_token }),
        client(a).auth.refreshSession({ refresh_token: session.refresh_token }),
      ]);
      expect(tab1.error).toBeNull();
      expect(tab2.error).toBeNull();
      expect(tab1.data.session!.refresh_token).not.toBe(session.refresh_token);
      expect(tab2.data.session!.refresh_token).toBe(tab1.data.session!.refresh_token);
      expect(decodeJwt(tab2.data.session!.access_token).session_id).toBe(decodeJwt(session.access_token).session_id);
      // Both access tokens work, and the shared refresh token rotates once more as usual.
      expect((await getUser(a, tab1.data.session!.access_token)).status).toBe(200);
      expect((await getUser(a, tab2.data.session!.access_token)).status).toBe(200);
      const next = await refresh(a, tab2.data.session!.refresh_token);
      expect(next.status).toBe(200);
      expect(next.body.refresh_token).not.toBe(tab1.data.session!.refresh_token);
    });

    it('a spent token replayed within the interval after two rotations gets the session’s current token', async () => {
      const { session } = await signedIn(a);
      const r1 = await refresh(a, session.refresh_token);
      const r2 = await refresh(a, r1.body.refresh_token);
      expect(r2.status).toBe(200);
      const replay = await refresh(a, session.refresh_token);
      expect(replay.status).toBe(200);
      expect(replay.body.refresh_token).toBe(r2.body.refresh_token);
      expect(replay.body.user.id).toBe(r2.body.user.id);
    });

    it('a replay after the interval is theft: 400 refresh_token_already_used, the session revoked', async () => {
      const { session } = await signedIn(b);
      const r1 = await refresh(b, session.refresh_token);
      expect(r1.status).toBe(200);
      expect((await refresh(b, session.refresh_token)).body.refresh_token).toBe(r1.body.refresh_token);
      await new Promise((r) => setTimeout(r, 1300));
      const late = await client(b).auth.refreshSession({ refresh_token: session.refresh_token });
      expect(late.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' });
      expect((await refresh(b, r1.body.refresh_token)).body.error_code).toBe('refresh_token_not_found');
      expect((await getUser(b, r1.body.access_token)).status).toBe(403);
    });

    it('with the interval at 0 an immediate replay is theft', async () => {
      const c = await createProject(t, owner, 'sessions-c');
      await patchConfig(c, { email_confirm_required: false, rate_limits: RELAXED_LIMITS, refresh_token_reuse_interval_seconds: 0 });
      const { session } = await signedIn(c);
      const r1 = await refresh(c, session.refresh_token);
      expect(r1.status).toBe(200);
      expect((await refresh(c, session.refresh_token)).body.error_code).toBe('refresh_token_already_used');
      expect((await refresh(c, r1.body.refresh_token)).body.error_code).toBe('refresh_token_not_found');
    });

    it('project A’s refresh tokens, spent or live, are unknown to project B', async () => {
      const { session } = await signedIn(a);
      const r1 = await refresh(a, session.refresh_token);
      for (const token of [session.refresh_token, r1.body.refresh_token]) {
        const foreign = await refresh(b, token);
        expect(foreign.status).toBe(400);
        expect(foreign.body.error_code).toBe('refresh_token_not_found');
      }
      // …and trying them there changed nothing in A.
      expect((await refresh(a, r1.body.refresh_token)).status).toBe(200);
    });

    it('the sealed copy on the session is not the token, and a copy moved to another session is not handed out', async () => {
      const one = await signedIn(a);
      const two = await signedIn(a);
      const r1 = await refresh(a, one.session.refresh_token);
      const r2 = await refresh(a, two.session.refresh_token);
      const sessions = `"t_${a.ref}"._auth_sessions`;
      const { rows } = await t.sql.query(`SELECT refresh_token_sealed AS s FROM ${sessions} WHERE id = $1`, [decodeJwt(r1.body.access_token).session_id]);
      expect(rows[0].s).toMatch(/^v1\./);
      expect(rows[0].s).not.toContain(r1.body.refresh_token);
      // Planting session one's sealed token on session two: a replay of two's spent token gets nothing from it.
      await t.sql.query(`UPDATE ${sessions} SET refresh_token_sealed = $1 WHERE id = $2`, [rows[0].s, decodeJwt(r2.body.access_token).session_id]);
      const replay = await refresh(a, two.session.refresh_token);
      expect(replay.status).toBe(400);
      expect(replay.body.error_code).toBe('refresh_token_already_used');
      expect((await refresh(a, r1.body.refresh_token)).status).toBe(200);
    });

    it('the migration adds the columns to a project provisioned before them (idempotent), and reuse works there', async () => {
      const old = await createProject(t, owner, 'sessions-old');
      await patchConfig(old, { email_confirm_required: false, rate_limits: RELAXED_LIMITS });
      const s = tenantNames(old.ref).schema;
      const columns = async () =>
        (await t.sql.query(
          `SELECT table_name || '.' || column_name AS c FROM information_schema.columns
            WHERE table_schema = $1 AND column_name IN ('invited_at', 'revoked_at', 'refresh_token_sealed') ORDER BY 1`,
          [s],
        )).rows.map((r) => r.c);
      expect(await columns()).toEqual(['_auth_refresh_tokens.revoked_at', '_auth_sessions.refresh_token_sealed', '_auth_users.invited_at']);
      await t.sql.query(`ALTER TABLE "${s}"._auth_users DROP COLUMN invited_at; ALTER TABLE "${s}"._auth_refresh_tokens DROP COLUMN revoked_at;
        ALTER TABLE "${s}"._auth_sessions DROP COLUMN refresh_token_sealed`);
      expect(await columns()).toEqual([]);
      const runner = t.app.get(DataSource).createQueryRunner();
      try {
        await new AuthSessionRecovery1765000600000().up(runner);
        await new AuthSessionRecovery1765000600000().up(runner);
      } finally {
        await runner.release();
      }
      expect(await columns()).toEqual(['_auth_refresh_tokens.revoked_at', '_auth_sessions.refresh_token_sealed', '_auth_users.invited_at']);
      const owners = await t.sql.query(`SELECT DISTINCT pg_get_userbyid(c.relowner) AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`, [s]);
      expect(owners.rows).toEqual([{ o: `${s}_owner` }]);
      const { session } = await signedIn(old);
      const r1 = await refresh(old, session.refresh_token);
      expect((await refresh(old, session.refresh_token)).body.refresh_token).toBe(r1.body.refresh_token);
    });
  });

  describe('invitations (POST /invite)', () => {
    it('inviteUserByEmail creates the user and mails an invite link; the link signs them in (type invite) to set a password', async () => {
      const email = uniqueEmail('invited');
      const admin = client(a, a.secret).auth.admin;
      const { data, error } = await admin.inviteUserByEmail(email, { data: { team: 'blue' }, redirectTo: 'https://app.example.com/welcome' });
      expect(error).toBeNull();
      expect(data.user).toMatchObject({ email, user_metadata: { team: 'blue' }, invited_at: expect.any(String), confirmation_sent_at: expect.any(String) });
      expect(data.user!.email_confirmed_at).toBeUndefined();

      const mail = await smtp.waitFor(email);
      expect(mail.subject).toBe('You have been invited');
      const { link } = codeAndLink(mail);
      const url = new URL(link);
      expect(url.pathname).toBe(`/p/${a.ref}/auth/v1/verify`);
      expect(url.searchParams.get('type')).toBe('invite');
      expect(url.searchParams.get('redirect_to')).toBe('https://app.example.com/welcome');
      // Opened in a browser: no apikey.
      const opened = await t.http().get(`${url.pathname}${url.search}`);
      expect(opened.status).toBe(303);
      const location = new URL(opened.headers.location);
      expect(`${location.origin}${location.pathname}`).toBe('https://app.example.com/welcome');
      const fragment = new URLSearchParams(location.hash.slice(1));
      expect(fragment.get('type')).toBe('invite');

      const sb = client(a);
      const set = await sb.auth.setSession({ access_token: fragment.get('access_token')!, refresh_token: fragment.get('refresh_token')! });
      expect(set.error).toBeNull();
      expect(set.data.user).toMatchObject({ email, email_confirmed_at: expect.any(String) });
      expect(decodeJwt(fragment.get('access_token')!).amr).toEqual([{ method: 'invite', timestamp: expect.any(Number) }]);
      // A session minutes old sets its first password without a nonce, even though the project requires reauthentication.
      expect((await sb.auth.updateUser({ password: PASSWORD })).error).toBeNull();
      expect((await client(a).auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();
    });

    it('inviting an unconfirmed user again mails a fresh link (the old one is dead); a confirmed address is 422 email_exists', async () => {
      const email = uniqueEmail('reinvite');
      const admin = client(a, a.secret).auth.admin;
      expect((await admin.inviteUserByEmail(email)).error).toBeNull();
      const first = codeAndLink(await smtp.waitFor(email));
      const again = await admin.inviteUserByEmail(email);
      expect(again.error).toBeNull();
      const second = codeAndLink(await smtp.waitFor(email));
      expect((await client(a).auth.verifyOtp({ email, token: first.code, type: 'invite' })).error).toMatchObject({ code: 'otp_expired' });
      const ok = await client(a).auth.verifyOtp({ email, token: second.code, type: 'invite' });
      expect(ok.error).toBeNull();
      expect(ok.data.user!.id).toBe(again.data.user!.id);
      const confirmed = await admin.inviteUserByEmail(email);
      expect(confirmed.error).toMatchObject({ status: 422, code: 'email_exists' });
    });

    it('refuses the publishable key (403 not_admin) and bad input (400), creating nothing', async () => {
      const email = uniqueEmail('not-invited');
      const byApp = await client(a).auth.admin.inviteUserByEmail(email);
      expect(byApp.error).toMatchObject({ status: 403, code: 'not_admin' });
      const bad = await t.http().post(authPath(a, '/invite')).set('apikey', a.secret).send({ email: 'not-an-address' });
      expect(bad.status).toBe(400);
      expect(bad.body.error_code).toBe('email_address_invalid');
      const missing = await t.http().post(authPath(a, '/invite')).set('apikey', a.secret).send({});
      expect(missing.status).toBe(400);
      const users = await t.sql.query(`SELECT 1 FROM "t_${a.ref}"._auth_users WHERE email = $1`, [email]);
      expect(users.rowCount).toBe(0);
      expect(smtp.countTo(email)).toBe(0);
    });

    it('project A’s invite is worthless in project B: its link and code fail there, and B has no such user', async () => {
      const email = uniqueEmail('cross-invite');
      expect((await client(a, a.secret).auth.admin.inviteUserByEmail(email)).error).toBeNull();
      const { code, link } = codeAndLink(await smtp.waitFor(email));
      const url = new URL(link);
      const onB = await t.http().get(`/p/${b.ref}/auth/v1/verify${url.search}`);
      expect(new URLSearchParams(new URL(onB.headers.location).hash.slice(1)).get('error_code')).toBe('otp_expired');
      expect((await client(b).auth.verifyOtp({ email, token: code, type: 'invite' })).error).toMatchObject({ status: 403, code: 'otp_expired' });
      expect((await t.sql.query(`SELECT 1 FROM "t_${b.ref}"._auth_users WHERE email = $1`, [email])).rowCount).toBe(0);
      // B's secret key invites into B only.
      expect((await client(b, b.secret).auth.admin.inviteUserByEmail(email)).error).toBeNull();
      expect(codeAndLink(await smtp.waitFor(email)).link).toContain(`/p/${b.ref}/auth/v1/verify`);
      // And A's link still works in A.
      expect((await t.http().get(`${url.pathname}${url.search}`)).headers.location).toContain('access_token=');
    });
  });

  describe('reauthentication (GET /reauthenticate, PUT /user with a nonce)', () => {
    it('an old session needs the emailed nonce to change its password: none → 400, wrong → 422, right → 200, spent → 422', async () => {
      const { sb, email, session } = await signedIn(a);
      await ageSession(a, session.access_token);
      const without = await sb.auth.updateUser({ password: `${PASSWORD}-new` });
      expect(without.error).toMatchObject({ status: 400, code: 'reauthentication_needed' });

      expect((await sb.auth.reauthenticate()).error).toBeNull();
      const mail = await smtp.waitFor(email);
      expect(mail.subject).toBe('Confirm reauthentication');
      const nonce = nonceOf(mail);
      const wrong = await sb.auth.updateUser({ password: `${PASSWORD}-new`, nonce: nonce === '000000' ? '111111' : '000000' });
      expect(wrong.error).toMatchObject({ status: 422, code: 'reauthentication_not_valid' });
      // Still the old password.
      expect((await client(a).auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();

      const right = await sb.auth.updateUser({ password: `${PASSWORD}-new`, nonce });
      expect(right.error).toBeNull();
      expect((await client(a).auth.signInWithPassword({ email, password: `${PASSWORD}-new` })).error).toBeNull();
      const spent = await sb.auth.updateUser({ password: `${PASSWORD}-newer`, nonce });
      expect(spent.error).toMatchObject({ status: 422, code: 'reauthentication_not_valid' });
      // Other changes need no nonce.
      expect((await sb.auth.updateUser({ data: { theme: 'dark' } })).error).toBeNull();
    });

    it('a weak password is refused before the nonce is spent', async () => {
      const { sb, email, session } = await signedIn(a);
      await ageSession(a, session.access_token);
      await sb.auth.reauthenticate();
      const nonce = nonceOf(await smtp.waitFor(email));
      expect((await sb.auth.updateUser({ password: 'short', nonce })).error).toMatchObject({ status: 422, code: 'weak_password' });
      expect((await sb.auth.updateUser({ password: `${PASSWORD}-2`, nonce })).error).toBeNull();
    });

    it('with the setting off an old session changes the password without a nonce', async () => {
      const c = await createProject(t, owner, 'sessions-noreauth');
      await patchConfig(c, { email_confirm_required: false, rate_limits: RELAXED_LIMITS });
      const { sb, session } = await signedIn(c);
      await ageSession(c, session.access_token);
      expect((await sb.auth.updateUser({ password: `${PASSWORD}-x` })).error).toBeNull();
    });

    it('needs a signed-in user: 401 without a bearer, 403 with a forged one', async () => {
      const none = await t.http().get(authPath(a, '/reauthenticate')).set('apikey', a.publishable);
      expect(none.status).toBe(401);
      expect(none.body.error_code).toBe('no_authorization');
      const forged = await t.http().get(authPath(a, '/reauthenticate')).set('apikey', a.publishable).set('authorization', 'Bearer not.a.jwt');
      expect(forged.status).toBe(403);
    });

    it('project A’s nonce is worthless in project B for the same address (and A’s token too); it still works in A', async () => {
      const email = uniqueEmail('cross-reauth');
      const inA = await signedIn(a, email);
      const inB = await signedIn(b, email);
      await ageSession(a, inA.session.access_token);
      await ageSession(b, inB.session.access_token);
      expect((await inA.sb.auth.reauthenticate()).error).toBeNull();
      const nonceA = nonceOf(await smtp.waitFor(email));
      const onB = await inB.sb.auth.updateUser({ password: `${PASSWORD}-b`, nonce: nonceA });
      expect(onB.error).toMatchObject({ status: 422, code: 'reauthentication_not_valid' });
      // A's access token isn't accepted by B either.
      const viaB = await t.http().put(authPath(b, '/user')).set('apikey', b.publishable).set('authorization', `Bearer ${inA.session.access_token}`).send({ password: `${PASSWORD}-b`, nonce: nonceA });
      expect(viaB.status).toBe(403);
      expect((await client(b).auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();
      // The nonce still works where it was issued.
      expect((await inA.sb.auth.updateUser({ password: `${PASSWORD}-a`, nonce: nonceA })).error).toBeNull();
    });
  });
});
