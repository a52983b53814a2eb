import { createClient, SupabaseClient } from '@supabase/supabase-js';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Secret, TOTP } from 'otpauth';
import ws from 'ws';
import { codeAndLink, SmtpCapture } from '../support/smtp-capture';
import { declareTable, putRules } from '../support/data';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

const PASSWORD = 'Sup3r-secret-pass';
const RELAXED_LIMITS = {
  sign_in_per_ip: 10_000, password_per_account: 10_000, token_refresh_per_ip: 10_000, verify_per_ip: 10_000,
  emails_per_hour: 10_000, email_requests_per_ip: 10_000, email_interval_seconds: 0, anonymous_per_ip_per_hour: 10_000,
};
const APP = 'https://app.example.com';

/** A storage supabase-js can persist into, so a test can read the PKCE verifier it keeps. */
class MemoryStorage {
  readonly items = new Map<string, string>();
  /** The last verifier supabase-js stored (it may remove it before the test reads it). */
  private lastVerifier: string | null = null;
  getItem = (k: string) => this.items.get(k) ?? null;
  setItem = (k: string, v: string) => {
    if (k.endsWith('-code-verifier')) this.lastVerifier = v;
    this.items.set(k, v);
  };
  removeItem = (k: string) => void this.items.delete(k);
  verifier(): string {
    const v = this.lastVerifier;
    if (!v) throw new Error('no code verifier stored');
    return (JSON.parse(v) as string).split('/')[0]; // supabase-js stores JSON, `<verifier>[/recovery]`
  }
}

describe('auth runtime: PKCE flow and multi-factor TOTP with supabase-js', () => {
  let t: TestApp;
  let smtp: SmtpCapture;
  let owner: TestUser;
  /** Email confirmation on (links carry the flow). */
  let a: TestProject;
  /** Another project, for isolation. */
  let b: TestProject;
  /** Email confirmation off, for MFA. */
  let m: TestProject;

  const client = (p: TestProject, opts: { pkce?: boolean; storage?: MemoryStorage; key?: string } = {}): SupabaseClient =>
    createClient(`${t.baseUrl}/p/${p.ref}`, opts.key ?? p.publishable, {
      auth: {
        persistSession: true,
        storage: opts.storage ?? new MemoryStorage(),
        autoRefreshToken: false,
        detectSessionInUrl: false,
        flowType: opts.pkce === false ? 'implicit' : 'pkce',
      },
      realtime: { transport: ws as never },
    });
  const patchConfig = async (p: TestProject, body: Record<string, unknown>) => {
    const res = await t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send(body);
    if (res.status !== 200) throw new Error(`patch config: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const authPath = (p: TestProject, path: string) => `/p/${p.ref}/auth/v1${path}`;
  /** Follows an emailed link the way a browser would (no key), returning where it redirects. */
  const follow = async (link: string): Promise<URL> => {
    const url = new URL(link);
    expect(url.pathname).toMatch(/\/auth\/v1\/verify$/);
    const res = await fetch(`${t.baseUrl}${url.pathname}${url.search}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    return new URL(res.headers.get('location')!);
  };
  const pkceGrant = (p: TestProject, auth_code: string, code_verifier: string) =>
    t.http().post(authPath(p, '/token?grant_type=pkce')).set('apikey', p.publishable).send({ auth_code, code_verifier });
  const count = async (p: TestProject, table: string) => (await t.sql.query(`SELECT count(*)::int AS n FROM "t_${p.ref}".${table}`)).rows[0].n as number;

  beforeAll(async () => {
    smtp = new SmtpCapture();
    await smtp.start();
    t = await bootTestApp({ LOG_LEVEL: process.env.AUTH_E2E_LOG ?? 'silent', SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, JOBS_POLL_MS: '20' }, undefined, { withWorker: true });
    owner = await signup(t, 'pkce-owner');
    await upgradeOrg(t, owner);
    a = await createProject(t, owner, 'pkce-a');
    b = await createProject(t, owner, 'pkce-b');
    m = await createProject(t, owner, 'mfa-m');
    for (const p of [a, b]) await patchConfig(p, { rate_limits: RELAXED_LIMITS, site_url: APP, redirect_urls: [`${APP}/**`] });
    await patchConfig(m, { rate_limits: RELAXED_LIMITS, email_confirm_required: false, site_url: APP });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  it('creates the flow and MFA tables at provisioning, owned by the project, out of the data role’s reach', async () => {
    const { rows } = await t.sql.query(
      `SELECT c.relname, has_table_privilege($2, c.oid, 'SELECT') AS data_can_read, has_table_privilege($3, c.oid, 'SELECT') AS auth_can_read,
              pg_get_userbyid(c.relowner) AS owner
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname IN ('_auth_flow_states', '_auth_mfa_factors', '_auth_mfa_challenges') ORDER BY 1`,
      [`t_${a.ref}`, `t_${a.ref}_data`, `t_${a.ref}_auth`],
    );
    expect(rows).toEqual(
      ['_auth_flow_states', '_auth_mfa_challenges', '_auth_mfa_factors'].map((relname) => ({ relname, data_can_read: false, auth_can_read: true, owner: `t_${a.ref}_owner` })),
    );
  });

  describe('PKCE', () => {
    it('signUp: the confirmation link redirects with ?code= (no tokens), and exchangeCodeForSession turns it into a session once', async () => {
      const email = uniqueEmail('pkce-signup');
      const storage = new MemoryStorage();
      const sb = client(a, { storage });
      const signed = await sb.auth.signUp({ email, password: PASSWORD, options: { emailRedirectTo: `${APP}/welcome` } });
      expect(signed.error).toBeNull();
      expect(signed.data.session).toBeNull();
      const verifier = storage.verifier();
      const { link } = codeAndLink(await smtp.waitFor(email));
      const to = await follow(link);
      expect(`${to.origin}${to.pathname}`).toBe(`${APP}/welcome`);
      expect(to.hash).toBe('');
      const code = to.searchParams.get('code')!;
      expect(code).toMatch(/^[0-9a-f-]{36}$/);

      const { data, error } = await sb.auth.exchangeCodeForSession(code);
      expect(error).toBeNull();
      expect(data.user).toMatchObject({ email, email_confirmed_at: expect.any(String) });
      expect(decodeJwt(data.session!.access_token)).toMatchObject({ sub: data.user!.id, aal: 'aal1', amr: [{ method: 'otp', timestamp: expect.any(Number) }] });
      expect((await sb.auth.getUser()).data.user!.id).toBe(data.user!.id);

      const again = await pkceGrant(a, code, verifier);
      expect(again.status).toBe(404);
      expect(again.body).toMatchObject({ code: 404, error_code: 'flow_state_not_found' });
    });

    it('a wrong verifier gets 400 bad_code_verifier and spends the code: the right verifier can’t use it afterwards', async () => {
      const email = uniqueEmail('pkce-otp');
      const sb = client(a);
      expect((await sb.auth.signInWithOtp({ email, options: { emailRedirectTo: `${APP}/in` } })).error).toBeNull();
      const code = (await follow(codeAndLink(await smtp.waitFor(email)).link)).searchParams.get('code')!;
      const wrong = await pkceGrant(a, code, randomBytes(32).toString('base64url'));
      expect(wrong.status).toBe(400);
      expect(wrong.body).toMatchObject({ error_code: 'bad_code_verifier', msg: 'code challenge does not match previously saved code verifier' });
      const late = await sb.auth.exchangeCodeForSession(code);
      expect(late.error).toMatchObject({ status: 404, code: 'flow_state_not_found' });
      expect(late.data.session).toBeNull();
    });

    it('a code is bound to its own flow’s challenge: another flow’s verifier doesn’t exchange it', async () => {
      const [e1, e2] = [uniqueEmail('pkce-bind1'), uniqueEmail('pkce-bind2')];
      const [s1, s2] = [new MemoryStorage(), new MemoryStorage()];
      await client(a, { storage: s1 }).auth.signInWithOtp({ email: e1 });
      await client(a, { storage: s2 }).auth.signInWithOtp({ email: e2 });
      const c1 = (await follow(codeAndLink(await smtp.waitFor(e1)).link)).searchParams.get('code')!;
      const c2 = (await follow(codeAndLink(await smtp.waitFor(e2)).link)).searchParams.get('code')!;
      expect((await pkceGrant(a, c1, s2.verifier())).body.error_code).toBe('bad_code_verifier');
      const ok = await pkceGrant(a, c2, s2.verifier());
      expect(ok.status).toBe(200);
      expect(ok.body.user.email).toBe(e2);
    });

    it('a code of project A means nothing in project B, even with the right verifier', async () => {
      const email = uniqueEmail('pkce-iso');
      const storage = new MemoryStorage();
      await client(a, { storage }).auth.signInWithOtp({ email });
      const code = (await follow(codeAndLink(await smtp.waitFor(email)).link)).searchParams.get('code')!;
      const inB = await pkceGrant(b, code, storage.verifier());
      expect(inB.status).toBe(404);
      expect(inB.body.error_code).toBe('flow_state_not_found');
      expect((await pkceGrant(a, code, storage.verifier())).status).toBe(200);
    });

    it('an auth code expires after 5 minutes (422 flow_state_expired)', async () => {
      const email = uniqueEmail('pkce-exp');
      const storage = new MemoryStorage();
      await client(a, { storage }).auth.signInWithOtp({ email });
      const code = (await follow(codeAndLink(await smtp.waitFor(email)).link)).searchParams.get('code')!;
      t.clock.travel(301_000); // forward only: rate-limit windows follow the same clock
      const late = await pkceGrant(a, code, storage.verifier());
      expect(late.status).toBe(422);
      expect(late.body.error_code).toBe('flow_state_expired');
    });

    it('resetPasswordForEmail: the recovery link gives a code; the exchange signs in with amr recovery and the password can be set', async () => {
      const email = uniqueEmail('pkce-recover');
      const admin = client(a, { key: a.secret, pkce: false });
      expect((await admin.auth.admin.createUser({ email, password: PASSWORD, email_confirm: true })).error).toBeNull();
      const sb = client(a);
      expect((await sb.auth.resetPasswordForEmail(email, { redirectTo: `${APP}/reset` })).error).toBeNull();
      const to = await follow(codeAndLink(await smtp.waitFor(email)).link);
      expect(to.pathname).toBe('/reset');
      const { data, error } = await sb.auth.exchangeCodeForSession(to.searchParams.get('code')!);
      expect(error).toBeNull();
      expect((data as { redirectType?: string }).redirectType).toBe('recovery');
      expect(decodeJwt(data.session!.access_token).amr).toEqual([{ method: 'recovery', timestamp: expect.any(Number) }]);
      expect((await sb.auth.updateUser({ password: 'An0ther-secret-pass' })).error).toBeNull();
      expect((await client(a, { pkce: false }).auth.signInWithPassword({ email, password: 'An0ther-secret-pass' })).error).toBeNull();
    });

    it('updateUser({email}): the change link to the new address gives a code; the exchange completes the change', async () => {
      const [email, next] = [uniqueEmail('pkce-chg'), uniqueEmail('pkce-chg-new')];
      const admin = client(a, { key: a.secret, pkce: false });
      expect((await admin.auth.admin.createUser({ email, password: PASSWORD, email_confirm: true })).error).toBeNull();
      const storage = new MemoryStorage();
      const sb = client(a, { storage });
      expect((await sb.auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();
      expect((await sb.auth.updateUser({ email: next }, { emailRedirectTo: `${APP}/changed` })).error).toBeNull();
      // supabase-js drops the stored verifier once updateUser returns, so the test takes the one it stored.
      const verifier = storage.verifier();
      const to = await follow(codeAndLink(await smtp.waitFor(next)).link);
      expect(to.hash).toBe('');
      const res = await pkceGrant(a, to.searchParams.get('code')!, verifier);
      expect(res.status).toBe(200);
      expect(res.body.user.email).toBe(next);
      expect(decodeJwt(res.body.access_token).amr).toEqual([{ method: 'email_change', timestamp: expect.any(Number) }]);
    });

    it('the emailed 6-digit code still verifies directly (session in the answer) and voids the link’s flow', async () => {
      const email = uniqueEmail('pkce-code');
      await client(a).auth.signInWithOtp({ email });
      const { code, link } = codeAndLink(await smtp.waitFor(email));
      const { data, error } = await client(a).auth.verifyOtp({ email, token: code, type: 'email' });
      expect(error).toBeNull();
      expect(data.session!.access_token).toEqual(expect.any(String));
      const to = await follow(link);
      expect(to.searchParams.get('code')).toBeNull();
      expect(new URLSearchParams(to.hash.slice(1)).get('error_code')).toBe('otp_expired');
    });

    it('refuses the plain method, half a pair and malformed challenges with 400 validation_failed, sending nothing', async () => {
      const email = uniqueEmail('pkce-plain');
      const verifier = randomBytes(32).toString('base64url');
      const s256 = createHash('sha256').update(verifier).digest('base64url');
      const bodies = [
        { email, code_challenge: verifier, code_challenge_method: 'plain' },
        { email, code_challenge: s256 },
        { email, code_challenge_method: 's256' },
        { email, code_challenge: 'short', code_challenge_method: 's256' },
        { email, code_challenge: `${s256.slice(0, 42)}!`, code_challenge_method: 'S256' },
      ];
      for (const body of bodies) {
        const res = await t.http().post(authPath(a, '/otp')).set('apikey', a.publishable).send(body);
        expect(res.status).toBe(400);
        expect(res.body.error_code).toBe('validation_failed');
      }
      const plainRecover = await t.http().post(authPath(a, '/recover')).set('apikey', a.publishable).send(bodies[0]);
      expect(plainRecover.status).toBe(400);
      expect((await t.sql.query(`SELECT count(*)::int AS n FROM "t_${a.ref}"._auth_users WHERE email = $1`, [email])).rows[0].n).toBe(0);
      expect(smtp.countTo(email)).toBe(0);
    });

    it('grant_type=pkce without auth_code or verifier is a 400, and an unknown code a 404', async () => {
      const missing = await t.http().post(authPath(a, '/token?grant_type=pkce')).set('apikey', a.publishable).send({ auth_code: 'x' });
      expect(missing.status).toBe(400);
      expect(missing.body.error_code).toBe('validation_failed');
      const unknown = await pkceGrant(a, '00000000-0000-4000-8000-000000000000', randomBytes(32).toString('base64url'));
      expect(unknown.status).toBe(404);
    });
  });

  describe('MFA (TOTP)', () => {
    let email: string;
    let sb: SupabaseClient;
    let factorId: string;
    let secret: string;
    const totpAt = (s: string, ms = t.clock.nowMs()) => new TOTP({ secret: Secret.fromBase32(s), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: ms });
    const level = async (c: SupabaseClient) => (await c.auth.mfa.getAuthenticatorAssuranceLevel()).data;

    beforeAll(async () => {
      email = uniqueEmail('mfa');
      sb = client(m, { pkce: false });
      expect((await sb.auth.signUp({ email, password: PASSWORD })).error).toBeNull();
      await declareTable(t, owner, m, { name: 'secrets', columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }, { name: 'note', type: 'text' }] });
      await putRules(t, owner, m, 'secrets', [{ role: 'authenticated', action: 'read', where: { '$auth.aal': 'aal2' } }]);
      await t.http().post(`/p/${m.ref}/rest/v1/secrets`).set('apikey', m.secret).send({ note: 'behind a second factor' }).expect(201);
    });

    it('enrolls a TOTP factor: secret, otpauth URI and an SVG QR code; the factor is listed unverified and the level stays aal1', async () => {
      const { data, error } = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' });
      expect(error).toBeNull();
      factorId = data!.id;
      secret = data!.totp.secret;
      expect(data).toMatchObject({ type: 'totp', friendly_name: 'phone app' });
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(data!.totp.uri).toMatch(new RegExp(`^otpauth://totp/app\\.example\\.com:${encodeURIComponent(email).replace(/\./g, '\\.')}\\?`));
      expect(data!.totp.uri).toContain(`secret=${secret}`);
      expect(data!.totp.qr_code).toMatch(/^data:image\/svg\+xml;utf-8,<svg[\s\S]*<\/svg>\s*$/);
      const factors = await sb.auth.mfa.listFactors();
      expect(factors.data!.all).toEqual([expect.objectContaining({ id: factorId, status: 'unverified', factor_type: 'totp', friendly_name: 'phone app' })]);
      expect(factors.data!.totp).toEqual([]);
      expect(await level(sb)).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal1' });
      const dup = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' });
      expect(dup.error).toMatchObject({ status: 422, code: 'mfa_factor_name_conflict' });
    });

    const denied = async (c: SupabaseClient) => (await c.from('secrets').select('note')).error?.code;

    it('rules with "$auth.aal": "aal2" grant nothing to an aal1 session (42501, as without a rule)', async () => {
      expect(await denied(sb)).toBe('42501');
    });

    it('challenge + verify raises the session to aal2 with new tokens (amr totp first); the rule now shows the row', async () => {
      const before = (await sb.auth.getSession()).data.session!;
      const challenge = await sb.auth.mfa.challenge({ factorId });
      expect(challenge.error).toBeNull();
      expect(challenge.data).toMatchObject({ type: 'totp', expires_at: expect.any(Number) });
      const { data, error } = await sb.auth.mfa.verify({ factorId, challengeId: challenge.data!.id, code: totpAt(secret) });
      expect(error).toBeNull();
      expect(data!.access_token).not.toBe(before.access_token);
      expect(data!.refresh_token).not.toBe(before.refresh_token);
      const claims = decodeJwt(data!.access_token);
      expect(claims).toMatchObject({ aal: 'aal2', session_id: decodeJwt(before.access_token).session_id });
      expect((claims.amr as Array<{ method: string }>).map((e) => e.method)).toEqual(['totp', 'password']);
      expect(await level(sb)).toMatchObject({ currentLevel: 'aal2', nextLevel: 'aal2' });
      expect((await sb.auth.getUser()).data.user!.factors).toEqual([expect.objectContaining({ id: factorId, status: 'verified' })]);
      expect((await sb.from('secrets').select('note')).data).toEqual([{ note: 'behind a second factor' }]);
      // The aal1 refresh token is gone with the elevation; the new one keeps aal2.
      const old = await t.http().post(`/p/${m.ref}/auth/v1/token?grant_type=refresh_token`).set('apikey', m.publishable).send({ refresh_token: before.refresh_token });
      expect(old.status).toBe(400);
      const refreshed = await t.http().post(`/p/${m.ref}/auth/v1/token?grant_type=refresh_token`).set('apikey', m.publishable).send({ refresh_token: data!.refresh_token });
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.access_token).aal).toBe('aal2');
      await sb.auth.setSession({ access_token: refreshed.body.access_token, refresh_token: refreshed.body.refresh_token });
    });

    it('refuses a replayed code (the same step) and an older one, even on a fresh challenge', async () => {
      const used = totpAt(secret);
      const c = await sb.auth.mfa.challenge({ factorId });
      const replay = await sb.auth.mfa.verify({ factorId, challengeId: c.data!.id, code: used });
      expect(replay.error).toMatchObject({ status: 422, code: 'mfa_verification_failed' });
      const older = await sb.auth.mfa.verify({ factorId, challengeId: c.data!.id, code: totpAt(secret, t.clock.nowMs() - 30_000) });
      expect(older.error).toMatchObject({ code: 'mfa_verification_failed' });
    });

    it('a new password sign-in is aal1 with nextLevel aal2; five wrong codes kill the challenge', async () => {
      const other = client(m, { pkce: false });
      expect((await other.auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull();
      expect(await level(other)).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' });
      expect(await denied(other)).toBe('42501');
      t.clock.travel(30_000); // a step not used yet
      {
        const c = await other.auth.mfa.challenge({ factorId });
        for (let i = 0; i < 5; i++) {
          const wrong = await other.auth.mfa.verify({ factorId, challengeId: c.data!.id, code: String((Number(totpAt(secret)) + 1 + i) % 1_000_000).padStart(6, '0') });
          expect(wrong.error).toMatchObject({ code: 'mfa_verification_failed' });
        }
        const dead = await other.auth.mfa.verify({ factorId, challengeId: c.data!.id, code: totpAt(secret) });
        expect(dead.error).toMatchObject({ status: 422, code: 'mfa_challenge_expired' });
        const c2 = await other.auth.mfa.challenge({ factorId });
        expect((await other.auth.mfa.verify({ factorId, challengeId: c2.data!.id, code: totpAt(secret) })).error).toBeNull();
        expect(await level(other)).toMatchObject({ currentLevel: 'aal2' });
      }
    });

    it('an expired challenge is refused (422 mfa_challenge_expired)', async () => {
      const c = await sb.auth.mfa.challenge({ factorId });
      t.clock.travel(301_000 + 60_000);
      const late = await sb.auth.mfa.verify({ factorId, challengeId: c.data!.id, code: totpAt(secret) });
      expect(late.error).toMatchObject({ status: 422, code: 'mfa_challenge_expired' });
    });

    it('another user can’t challenge, verify or delete this factor; another project doesn’t know it', async () => {
      const mallory = client(m, { pkce: false });
      expect((await mallory.auth.signUp({ email: uniqueEmail('mallory'), password: PASSWORD })).error).toBeNull();
      expect((await mallory.auth.mfa.challenge({ factorId })).error).toMatchObject({ status: 404, code: 'mfa_factor_not_found' });
      const mine = await sb.auth.mfa.challenge({ factorId });
      expect((await mallory.auth.mfa.verify({ factorId, challengeId: mine.data!.id, code: totpAt(secret) })).error).toMatchObject({ code: 'mfa_factor_not_found' });
      expect((await mallory.auth.mfa.unenroll({ factorId })).error).toMatchObject({ status: 404 });
      const token = (await mallory.auth.getSession()).data.session!.access_token;
      const crossProject = await t.http().post(authPath(b, `/factors/${factorId}/challenge`)).set('apikey', b.publishable).set('authorization', `Bearer ${token}`).send({});
      expect(crossProject.status).toBe(403); // A's token isn't a session in B
      const bAdmin = client(b, { key: b.secret, pkce: false });
      const { data: users } = await client(m, { key: m.secret, pkce: false }).auth.admin.listUsers();
      const me = users.users.find((u) => u.email === email)!;
      expect((await bAdmin.auth.admin.mfa.deleteFactor({ userId: me.id, id: factorId })).error).toMatchObject({ status: 404 });
      expect((await sb.auth.mfa.listFactors()).data!.totp).toHaveLength(1);
    });

    it('enrolling a second factor needs aal2; unenrolling a verified factor from aal1 is 422 insufficient_aal', async () => {
      const aal1 = client(m, { pkce: false });
      await aal1.auth.signInWithPassword({ email, password: PASSWORD });
      expect((await aal1.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'second' })).error).toMatchObject({ status: 403, code: 'insufficient_aal' });
      expect((await aal1.auth.mfa.unenroll({ factorId })).error).toMatchObject({ status: 422, code: 'insufficient_aal' });
      expect((await aal1.auth.mfa.enroll({ factorType: 'phone', phone: '+15555550100' })).error).toMatchObject({ status: 422 });
    });

    it('admin lists and deletes a user’s factors (secret key only); sessions then refresh to aal1', async () => {
      const admin = client(m, { key: m.secret, pkce: false });
      const { data: users } = await admin.auth.admin.listUsers();
      const me = users.users.find((u) => u.email === email)!;
      const list = await admin.auth.admin.mfa.listFactors({ userId: me.id });
      expect(list.error).toBeNull();
      expect(list.data!.factors).toEqual([expect.objectContaining({ id: factorId, status: 'verified', factor_type: 'totp' })]);
      expect(JSON.stringify(list.data)).not.toContain(secret);
      const asUser = await t.http().get(authPath(m, `/admin/users/${me.id}/factors`)).set('apikey', m.publishable);
      expect(asUser.status).toBe(403);
      const del = await admin.auth.admin.mfa.deleteFactor({ userId: me.id, id: factorId });
      expect(del.error).toBeNull();
      expect((await admin.auth.admin.mfa.listFactors({ userId: me.id })).data!.factors).toEqual([]);
      const refreshed = await sb.auth.refreshSession();
      expect(decodeJwt(refreshed.data.session!.access_token).aal).toBe('aal1');
      expect(await denied(sb)).toBe('42501');
    });

    it('unenrolling a factor downgrades to aal1 exactly the sessions it raised; sessions raised by another factor stay aal2', async () => {
      const who = uniqueEmail('mfa-per-factor');
      const a1 = client(m, { pkce: false });
      expect((await a1.auth.signUp({ email: who, password: PASSWORD })).error).toBeNull();
      const f1 = (await a1.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'one' })).data!;
      expect((await a1.auth.mfa.challengeAndVerify({ factorId: f1.id, code: totpAt(f1.totp.secret) })).error).toBeNull();
      const f2 = (await a1.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'two' })).data!;
      // b raises itself with the second factor, c with the first (a later step: a code is accepted once).
      const b2 = client(m, { pkce: false });
      expect((await b2.auth.signInWithPassword({ email: who, password: PASSWORD })).error).toBeNull();
      expect((await b2.auth.mfa.challengeAndVerify({ factorId: f2.id, code: totpAt(f2.totp.secret) })).error).toBeNull();
      t.clock.travel(30_000);
      const c1 = client(m, { pkce: false });
      expect((await c1.auth.signInWithPassword({ email: who, password: PASSWORD })).error).toBeNull();
      expect((await c1.auth.mfa.challengeAndVerify({ factorId: f1.id, code: totpAt(f1.totp.secret) })).error).toBeNull();
      for (const c of [a1, b2, c1]) expect(await level(c)).toMatchObject({ currentLevel: 'aal2' });

      expect((await a1.auth.mfa.unenroll({ factorId: f1.id })).error).toBeNull();
      for (const c of [a1, b2, c1]) expect((await c.auth.refreshSession()).error).toBeNull();
      // a and c were raised by the deleted factor: aal1 now, with the other factor left to step up with.
      expect(await level(a1)).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' });
      expect(await level(c1)).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' });
      expect(await denied(c1)).toBe('42501');
      const cClaims = decodeJwt((await c1.auth.getSession()).data.session!.access_token);
      expect((cClaims.amr as Array<{ method: string }>).map((e) => e.method)).toEqual(['password']);
      // b was raised by the factor that remains: still aal2, and the token's amr holds only GoTrue's claim fields.
      expect(await level(b2)).toMatchObject({ currentLevel: 'aal2', nextLevel: 'aal2' });
      expect((await b2.from('secrets').select('note')).data).toEqual([{ note: 'behind a second factor' }]);
      const bClaims = decodeJwt((await b2.auth.getSession()).data.session!.access_token);
      expect(bClaims.amr).toEqual([{ method: 'totp', timestamp: expect.any(Number) }, { method: 'password', timestamp: expect.any(Number) }]);
      // a can step up again with the factor that is left.
      t.clock.travel(30_000);
      expect((await a1.auth.mfa.challengeAndVerify({ factorId: f2.id, code: totpAt(f2.totp.secret) })).error).toBeNull();
      expect(await level(a1)).toMatchObject({ currentLevel: 'aal2' });
      // With the last factor gone too, b is downgraded and nothing is left to step up with.
      expect((await a1.auth.mfa.unenroll({ factorId: f2.id })).error).toBeNull();
      expect((await b2.auth.refreshSession()).error).toBeNull();
      expect(await level(b2)).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal1' });
    });

    it('a user unenrolls their own verified factor from an aal2 session', async () => {
      const enrolled = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'again' });
      const s = enrolled.data!.totp.secret;
      t.clock.travel(90_000);
      expect((await sb.auth.mfa.challengeAndVerify({ factorId: enrolled.data!.id, code: totpAt(s) })).error).toBeNull();
      const { data, error } = await sb.auth.mfa.unenroll({ factorId: enrolled.data!.id });
      expect(error).toBeNull();
      expect(data).toEqual({ id: enrolled.data!.id });
      expect(await count(m, '_auth_mfa_factors')).toBe(0);
    });
  });
});
