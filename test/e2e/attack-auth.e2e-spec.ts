import { createClient, SupabaseClient } from '@supabase/supabase-js';
import ws from 'ws';
import { codeAndLink, SmtpCapture } from '../support/smtp-capture';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

/**
 * Attacks on the end-user auth runtime (issue 13): pre-account hijack, open redirect through the allow-list,
 * exhausting a project's email budget with mails that are never sent. Each test names the attack and the
 * answer required.
 */
const VICTIM_PW = 'Victim-own-pass-1';
const ATTACKER_PW = 'Attacker-pass-666';
const RELAXED_LIMITS = {
  sign_in_per_ip: 10_000, password_per_account: 10_000, token_refresh_per_ip: 10_000, verify_per_ip: 10_000,
  emails_per_hour: 10_000, email_requests_per_ip: 10_000, email_interval_seconds: 0, anonymous_per_ip_per_hour: 10_000,
};

describe('attacks on end-user auth (/p/:ref/auth/v1)', () => {
  let t: TestApp;
  let smtp: SmtpCapture;
  let owner: TestUser;
  /** Email confirmation required (the default), relaxed limits. */
  let h: TestProject;

  const client = (p: TestProject): SupabaseClient =>
    createClient(`${t.baseUrl}/p/${p.ref}`, p.publishable, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      realtime: { transport: ws as never },
    });
  const authPath = (p: TestProject, path: string) => `/p/${p.ref}/auth/v1${path}`;
  const patchConfig = async (p: TestProject, body: Record<string, unknown>) => {
    const res = await t.http().patch(`/v1/projects/${p.ref}/auth/config`).set(owner.auth).send(body);
    if (res.status !== 200) throw new Error(`patch config: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const passwordGrant = (p: TestProject, email: string, password: string) =>
    t.http().post(authPath(p, '/token?grant_type=password')).set('apikey', p.publishable).send({ email, password });
  const refresh = (p: TestProject, token: string) =>
    t.http().post(authPath(p, '/token?grant_type=refresh_token')).set('apikey', p.publishable).send({ refresh_token: token });
  const getUser = (p: TestProject, accessToken: string) =>
    t.http().get(authPath(p, '/user')).set('apikey', p.publishable).set('authorization', `Bearer ${accessToken}`);
  /** Follows an emailed link as the browser would; returns the session in the redirect's fragment. */
  const followLink = async (p: TestProject, link: string) => {
    const url = new URL(link);
    const res = await t.http().get(`${url.pathname}${url.search}`).set('apikey', p.publishable);
    expect(res.status).toBe(303);
    const fragment = new URLSearchParams(new URL(res.headers.location).hash.slice(1));
    expect(fragment.get('error_code')).toBeNull();
    return { accessToken: fragment.get('access_token')!, location: res.headers.location as string };
  };

  beforeAll(async () => {
    smtp = new SmtpCapture();
    await smtp.start();
    // TRUST_PROXY: requests can say which client IP they come from (X-Forwarded-For), to act as many clients.
    t = await bootTestApp(
      { LOG_LEVEL: process.env.AUTH_E2E_LOG ?? 'silent', SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, JOBS_POLL_MS: '20', TRUST_PROXY: 'true' },
      undefined,
      { withWorker: true },
    );
    owner = await signup(t, 'attack-auth-owner');
    await upgradeOrg(t, owner);
    h = await createProject(t, owner, 'attack-hijack');
    await patchConfig(h, { rate_limits: RELAXED_LIMITS, site_url: 'https://h.example.com' });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  describe('pre-account hijack', () => {
    it('an attacker signs up unconfirmed with the victim’s email; the victim signs up with their own password and confirms with the emailed code: the victim’s password signs in (200), the attacker’s gets 400 invalid_credentials', async () => {
      const victim = uniqueEmail('victim-code');
      expect((await client(h).auth.signUp({ email: victim, password: ATTACKER_PW })).error).toBeNull();
      await smtp.waitFor(victim); // the confirmation the attacker caused lands in the victim's mailbox, unused

      expect((await client(h).auth.signUp({ email: victim, password: VICTIM_PW })).error).toBeNull();
      const { code } = codeAndLink(await smtp.waitFor(victim));
      const confirmed = await client(h).auth.verifyOtp({ email: victim, token: code, type: 'signup' });
      expect(confirmed.error).toBeNull();

      expect((await passwordGrant(h, victim, VICTIM_PW)).status).toBe(200);
      const attacker = await passwordGrant(h, victim, ATTACKER_PW);
      expect(attacker.status).toBe(400);
      expect(attacker.body).toEqual({ code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' });
    });

    it('same, the victim confirming with the emailed link: the victim’s password signs in (200), the attacker’s gets 400 invalid_credentials', async () => {
      const victim = uniqueEmail('victim-link');
      await client(h).auth.signUp({ email: victim, password: ATTACKER_PW });
      await smtp.waitFor(victim);
      await client(h).auth.signUp({ email: victim, password: VICTIM_PW });
      await followLink(h, codeAndLink(await smtp.waitFor(victim)).link);

      expect((await passwordGrant(h, victim, VICTIM_PW)).status).toBe(200);
      const attacker = await passwordGrant(h, victim, ATTACKER_PW);
      expect(attacker.status).toBe(400);
      expect(attacker.body.error_code).toBe('invalid_credentials');
    });

    it.each([
      ['the magic link', 'link'],
      ['the one-time code', 'code'],
    ])('an attacker pre-registers the victim’s email with a password; the victim signs in with %s: the attacker’s password gets 400 invalid_credentials, and the victim sets their own with PUT /user', async (_name, how) => {
      const victim = uniqueEmail(`victim-otp-${how}`);
      await client(h).auth.signUp({ email: victim, password: ATTACKER_PW });
      await smtp.waitFor(victim);

      expect((await t.http().post(authPath(h, '/otp')).set('apikey', h.publishable).send({ email: victim })).status).toBe(200);
      const mail = codeAndLink(await smtp.waitFor(victim));
      let accessToken: string;
      if (how === 'link') {
        ({ accessToken } = await followLink(h, mail.link));
      } else {
        const v = await t.http().post(authPath(h, '/verify')).set('apikey', h.publishable).send({ type: 'email', email: victim, token: mail.code });
        expect(v.status).toBe(200);
        accessToken = v.body.access_token;
      }
      const me = await getUser(h, accessToken);
      expect(me.status).toBe(200);
      expect(me.body.email_confirmed_at).toEqual(expect.any(String));

      const attacker = await passwordGrant(h, victim, ATTACKER_PW);
      expect(attacker.status).toBe(400);
      expect(attacker.body.error_code).toBe('invalid_credentials');

      const set = await t.http().put(authPath(h, '/user')).set('apikey', h.publishable).set('authorization', `Bearer ${accessToken}`).send({ password: VICTIM_PW });
      expect(set.status).toBe(200);
      expect((await passwordGrant(h, victim, VICTIM_PW)).status).toBe(200);
      expect((await passwordGrant(h, victim, ATTACKER_PW)).status).toBe(400);
    });

    describe('sessions issued before confirmation', () => {
      /** The attacker's session on an unconfirmed account: possible while the project doesn't require confirmation. */
      const attackerSession = async (victim: string) => {
        await client(h).auth.signUp({ email: victim, password: ATTACKER_PW });
        await smtp.waitFor(victim);
        await patchConfig(h, { email_confirm_required: false });
        try {
          const res = await passwordGrant(h, victim, ATTACKER_PW);
          expect(res.status).toBe(200);
          expect(res.body.user.email_confirmed_at).toBeUndefined();
          return { access: res.body.access_token as string, refresh: res.body.refresh_token as string };
        } finally {
          await patchConfig(h, { email_confirm_required: true });
        }
      };

      it('the victim confirming by one-time code ends the attacker’s earlier session: refresh gets 400, the access token 403 bad_jwt on GET /user and 401 on the data runtime', async () => {
        const victim = uniqueEmail('victim-session');
        const stolen = await attackerSession(victim);
        expect((await getUser(h, stolen.access)).status).toBe(200);

        await t.http().post(authPath(h, '/otp')).set('apikey', h.publishable).send({ email: victim });
        const v = await t.http().post(authPath(h, '/verify')).set('apikey', h.publishable)
          .send({ type: 'email', email: victim, token: codeAndLink(await smtp.waitFor(victim)).code });
        expect(v.status).toBe(200);

        const r = await refresh(h, stolen.refresh);
        expect(r.status).toBe(400);
        expect(r.body.error_code).toBe('refresh_token_not_found');
        const me = await getUser(h, stolen.access);
        expect(me.status).toBe(403);
        expect(me.body.error_code).toBe('bad_jwt');
        const rest = await t.http().get(`/p/${h.ref}/rest/v1/`).set('apikey', h.publishable).set('authorization', `Bearer ${stolen.access}`);
        expect(rest.status).toBe(401);
        // The victim's own session, issued by the confirmation, works.
        expect((await getUser(h, v.body.access_token)).status).toBe(200);
      });

      it('the victim’s sign-up over the unconfirmed account ends the attacker’s earlier session at once (refresh 400, GET /user 403)', async () => {
        const victim = uniqueEmail('victim-resignup');
        const stolen = await attackerSession(victim);
        expect((await client(h).auth.signUp({ email: victim, password: VICTIM_PW })).error).toBeNull();
        await smtp.waitFor(victim);
        expect((await refresh(h, stolen.refresh)).status).toBe(400);
        expect((await getUser(h, stolen.access)).status).toBe(403);
      });
    });

    it('a sign-up on a confirmed address changes nothing and says nothing: 200 with an obfuscated user, no mail, the owner’s password still signs in and the attacker’s gets 400 invalid_credentials', async () => {
      const victim = uniqueEmail('victim-confirmed');
      await client(h).auth.signUp({ email: victim, password: VICTIM_PW });
      const first = await client(h).auth.verifyOtp({ email: victim, token: codeAndLink(await smtp.waitFor(victim)).code, type: 'signup' });
      const realId = first.data.user!.id;

      const res = await t.http().post(authPath(h, '/signup')).set('apikey', h.publishable).send({ email: victim, password: ATTACKER_PW, data: { pwned: true } });
      expect(res.status).toBe(200);
      expect(res.body.id).not.toBe(realId);
      expect(res.body.identities).toEqual([]);
      await new Promise((r) => setTimeout(r, 800));
      expect(smtp.countTo(victim)).toBe(0);
      expect((await passwordGrant(h, victim, VICTIM_PW)).status).toBe(200);
      expect((await passwordGrant(h, victim, ATTACKER_PW)).status).toBe(400);
      const { rows } = await t.sql.query(`SELECT user_metadata FROM "t_${h.ref}"._auth_users WHERE email = $1`, [victim]);
      expect(rows[0].user_metadata).toEqual({});
    });
  });

  describe('open redirect through a wildcard allow-list entry', () => {
    let r: TestProject;
    beforeAll(async () => {
      r = await createProject(t, owner, 'attack-redirect');
      await patchConfig(r, { rate_limits: RELAXED_LIMITS, site_url: 'https://site.example.org', redirect_urls: ['https://*.example.com/**'] });
    });

    it('GET /verify?redirect_to=https://evil.com%5C.example.com/ gets 303 to the site URL, not to evil.com', async () => {
      const res = await t.http().get(`${authPath(r, '/verify')}?token=not-a-token&type=magiclink&redirect_to=https://evil.com%5C.example.com/`).set('apikey', r.publishable);
      expect(res.status).toBe(303);
      const location = new URL(res.headers.location);
      expect(`${location.origin}${location.pathname}`).toBe('https://site.example.org/');
      expect(new URLSearchParams(location.hash.slice(1)).get('error_code')).toBe('otp_expired');
      // An allow-listed URL is still honoured.
      const ok = await t.http().get(`${authPath(r, '/verify')}?token=not-a-token&type=magiclink&redirect_to=https://pr-7.example.com/cb`).set('apikey', r.publishable);
      expect(new URL(ok.headers.location).host).toBe('pr-7.example.com');
    });

    it('POST /otp?redirect_to=https://evil.com%5C.example.com/ mails a link that redirects to the site URL, not to evil.com', async () => {
      const email = uniqueEmail('redirect');
      const res = await t.http().post(`${authPath(r, '/otp')}?redirect_to=https://evil.com%5C.example.com/`).set('apikey', r.publishable).send({ email });
      expect(res.status).toBe(200);
      const link = new URL(codeAndLink(await smtp.waitFor(email)).link);
      expect(link.searchParams.get('redirect_to')).toBe('https://site.example.org');
    });

    it('PATCH auth/config refuses an allow-list entry with a backslash or credentials (400) and keeps the old list', async () => {
      for (const bad of ['https://evil.com\\.example.com/**', 'https://user@*.example.com/**']) {
        const res = await t.http().patch(`/v1/projects/${r.ref}/auth/config`).set(owner.auth).send({ redirect_urls: [bad] });
        expect(res.status).toBe(400);
      }
      const cfg = await t.http().get(`/v1/projects/${r.ref}/auth/config`).set(owner.auth);
      expect(cfg.body.redirect_urls).toEqual(['https://*.example.com/**']);
    });

    it('an entry stored before entries were validated as URLs (a backslash) is ignored: the redirect falls back to the site URL, and PATCHing another field gets 200', async () => {
      const s = await createProject(t, owner, 'attack-redirect-legacy');
      await patchConfig(s, { site_url: 'https://site.example.org' });
      await t.sql.query(
        `UPDATE control.auth_configs SET settings = jsonb_set(settings, '{redirect_urls}', $2::jsonb), updated_at = clock_timestamp() WHERE project_id = $1`,
        [s.id, JSON.stringify(['https://evil.com\\.example.com/**', 'https://ok.example.com/**'])],
      );
      await patchConfig(s, { otp_ttl_seconds: 600 }); // also drops the cached settings
      const cfg = await t.http().get(`/v1/projects/${s.ref}/auth/config`).set(owner.auth);
      expect(cfg.body.redirect_urls).toEqual(['https://ok.example.com/**']);
      const res = await t.http().get(`${authPath(s, '/verify')}?token=x&type=magiclink&redirect_to=https://evil.com%5C.example.com/`).set('apikey', s.publishable);
      expect(new URL(res.headers.location).host).toBe('site.example.org');
    });
  });

  describe('email budget', () => {
    let e: TestProject;
    const admin = () => t.http().post(authPath(e, '/admin/users')).set('apikey', e.secret);
    const recover = (email: string, ip: string) =>
      t.http().post(authPath(e, '/recover')).set('apikey', e.publishable).set('x-forwarded-for', ip).send({ email });
    const realUser = async (tag: string) => {
      const email = uniqueEmail(tag);
      const res = await admin().send({ email, password: VICTIM_PW, email_confirm: true });
      expect(res.status).toBe(200);
      return email;
    };
    beforeAll(async () => {
      e = await createProject(t, owner, 'attack-email-budget');
      // A budget of 20 mails an hour; the other limits stay at their defaults (30 requests per IP per hour, 60 s per address).
      await patchConfig(e, { rate_limits: { emails_per_hour: 20 } });
    });

    it('60 /recover (200) and /otp with create_user: false (422 otp_disabled) requests to random unknown addresses from 60 IPs spend none of the 20-mail budget: a real user’s /recover still gets its mail', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const ip = `198.51.100.${i + 1}`;
        const res = i % 2
          ? await recover(uniqueEmail('random'), ip)
          : await t.http().post(authPath(e, '/otp')).set('apikey', e.publishable).set('x-forwarded-for', ip).send({ email: uniqueEmail('random'), create_user: false });
        statuses.push(res.status);
      }
      expect(statuses).toEqual(Array.from({ length: 60 }, (_, i) => (i % 2 ? 200 : 422)));
      const real = await realUser('real-recover');
      const res = await recover(real, '203.0.113.1');
      expect(res.status).toBe(200);
      expect((await smtp.waitFor(real)).subject).toBe('Reset your password');
    });

    it('one IP asking for mail to 31 addresses gets 429 over_request_rate_limit on the 31st (30 per IP per hour), and the project can still mail a real user from elsewhere', async () => {
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 31; i++) {
        last = await recover(uniqueEmail('one-ip'), '192.0.2.77');
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 30)).toEqual(Array(30).fill(200));
      expect(last!.status).toBe(429);
      expect(last!.body).toMatchObject({ code: 429, error_code: 'over_request_rate_limit' });
      expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
      const real = await realUser('real-after-ip');
      expect((await recover(real, '203.0.113.2')).status).toBe(200);
      await smtp.waitFor(real);
    });

    it('a second request for the same address within the interval gets 429 over_email_send_rate_limit, for a known and an unknown address alike', async () => {
      const known = await realUser('interval-known');
      const unknown = uniqueEmail('interval-unknown');
      for (const email of [known, unknown]) {
        expect((await recover(email, '203.0.113.3')).status).toBe(200);
        const again = await recover(email, '203.0.113.4');
        expect(again.status).toBe(429);
        expect(again.body.error_code).toBe('over_email_send_rate_limit');
      }
      await smtp.waitFor(known);
    });
  });
});
