import { randomInt } from 'node:crypto';
import {
  bootTestApp,
  createProject,
  invitationToken,
  PASSWORD,
  platformMail,
  signup,
  signupVerified,
  TestApp,
  TestUser,
  uniqueEmail,
  verifyEmail,
} from '../support/test-app';
import { SEND_VERIFICATION_EMAIL_JOB, SendVerificationEmailJob } from '@plinth/identity';

/**
 * Attacks on console accounts (issue 13, items 3 and 6): claiming an org invitation by registering the invited
 * address, and guessing console passwords without limit. The app trusts X-Forwarded-For (TRUST_PROXY) so each
 * test acts from addresses of its own (random per run: limits may live in a Redis shared with other runs).
 */
describe('attacks on console accounts: invitations and sign-in', () => {
  let t: TestApp;
  const net = `10.${randomInt(256)}.${randomInt(256)}`;
  let host = 1;
  /** A fresh client address. */
  const ip = () => `${net}.${host++}`;

  beforeAll(async () => {
    t = await bootTestApp({ TRUST_PROXY: 'true' });
  });
  afterAll(() => t.close());

  const invite = (owner: TestUser, email: string, role = 'developer') =>
    t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth).send({ email, role });
  const accept = (user: { auth: { authorization: string } }, id: string, body?: object) =>
    t.http().post(`/v1/invitations/${id}/accept`).set(user.auth).send(body);
  const memberEmails = async (owner: TestUser) =>
    (await t.http().get(`/v1/orgs/${owner.orgId}/members`).set(owner.auth)).body.map((m: { email: string }) => m.email);
  const login = (email: string, password: string, from: string) =>
    t.http().post('/v1/auth/login').set('x-forwarded-for', from).send({ email, password });
  /** Signs up with a given address (as an attacker registering someone else's would). */
  async function signupAs(email: string): Promise<TestUser> {
    const res = await t.http().post('/v1/auth/signup').send({ email, password: PASSWORD });
    expect(res.status).toBe(201);
    const b = res.body;
    return { id: b.user.id, email, token: b.access_token, refresh: b.refresh_token, orgId: b.org.id, auth: { authorization: `Bearer ${b.access_token}` } };
  }

  describe('item 3: invitations need a verified address and the emailed token', () => {
    it('an attacker who registers the invited address (unverified) gets 403 on POST /v1/invitations/:id/accept, even holding the token', async () => {
      const owner = await signupVerified(t, 'owner');
      const victimEmail = uniqueEmail('invited');
      const inv = await invite(owner, victimEmail);
      expect(inv.status).toBe(201);
      const attacker = await signupAs(victimEmail);
      // It doesn't even learn which orgs invited the address.
      expect((await t.http().get('/v1/me/invitations').set(attacker.auth)).body).toEqual([]);

      const res = await accept(attacker, inv.body.id, { token: await invitationToken(t, inv.body.id, victimEmail) });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/Verify your email address before accepting invitations/);
      expect(await memberEmails(owner)).toEqual([owner.email]);
      expect((await t.http().get('/v1/me').set(attacker.auth)).body).toMatchObject({ email_verified: false, email_verified_at: null });
    });

    it('the verified invitee gets 400 on POST /v1/invitations/:id/accept without a token and 404 with a wrong one (the invitation id is not the token)', async () => {
      const owner = await signupVerified(t, 'owner');
      const invitee = await signupVerified(t, 'invitee');
      const inv = await invite(owner, invitee.email);
      expect(inv.status).toBe(201);

      expect((await accept(invitee, inv.body.id)).status).toBe(400);
      expect((await accept(invitee, inv.body.id, { token: inv.body.id })).status).toBe(404);
      // A real token, but another invitation's.
      const other = await invite(owner, uniqueEmail('other'));
      expect((await accept(invitee, inv.body.id, { token: await invitationToken(t, other.body.id, other.body.email) })).status).toBe(404);
      expect(await memberEmails(owner)).toEqual([owner.email]);
    });

    it('another verified account holding the emailed token gets 403 on POST /v1/invitations/:id/accept', async () => {
      const owner = await signupVerified(t, 'owner');
      const invitee = await signupVerified(t, 'invitee');
      const thief = await signupVerified(t, 'thief');
      const inv = await invite(owner, invitee.email);
      const token = await invitationToken(t, inv.body.id, invitee.email);

      const res = await accept(thief, inv.body.id, { token });
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/another email address/);
      expect(await memberEmails(owner)).toEqual([owner.email]);
    });

    it('the invited, verified account with the emailed token gets 200 on POST /v1/invitations/:id/accept and joins with the invited role', async () => {
      const owner = await signupVerified(t, 'owner');
      const invitee = await signupVerified(t, 'invitee');
      const inv = await invite(owner, invitee.email, 'viewer');
      const res = await accept(invitee, inv.body.id, { token: await invitationToken(t, inv.body.id, invitee.email) });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: owner.orgId, role: 'viewer' });
      expect((await memberEmails(owner)).sort()).toEqual([owner.email, invitee.email].sort());
    });

    it('an unverified account gets 403 on POST /v1/orgs/:orgId/invitations but 201 on POST /v1/orgs/:orgId/projects in its own org', async () => {
      const u = await signup(t, 'fresh');
      const res = await invite(u, uniqueEmail('friend'));
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/Verify your email address before inviting others/);
      expect((await t.http().get(`/v1/orgs/${u.orgId}/invitations`).set(u.auth)).body).toEqual([]);
      expect((await t.sql.query(`SELECT count(*)::int AS n FROM control.org_invitations WHERE org_id = $1`, [u.orgId])).rows[0].n).toBe(0);
      await createProject(t, u, 'allowed');
    });
  });

  describe('item 3: the verification code and link', () => {
    const verificationMail = (u: TestUser) =>
      platformMail(t, u.email, /^Verify your email/, t.app.get(SendVerificationEmailJob), SEND_VERIFICATION_EMAIL_JOB, 'userId', u.id);

    it('a verification code dies after 5 wrong tries: POST /v1/auth/verify with the right code then gets 400', async () => {
      const u = await signup(t, 'guessed');
      const code = /Verification code: (\d{6})/.exec((await verificationMail(u)).text)![1];
      const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
      for (let i = 0; i < 5; i++) {
        const res = await t.http().post('/v1/auth/verify').set('x-forwarded-for', ip()).send({ email: u.email, code: wrong });
        expect(res.status).toBe(400);
      }
      expect((await t.http().post('/v1/auth/verify').set('x-forwarded-for', ip()).send({ email: u.email, code })).status).toBe(400);
      expect((await t.http().get('/v1/me').set(u.auth)).body.email_verified).toBe(false);
      // Only hashes are stored.
      const { rows } = await t.sql.query(`SELECT code_hash, token_hash, attempts FROM control.email_verifications WHERE user_id = $1`, [u.id]);
      expect(rows).toEqual([expect.objectContaining({ attempts: 5 })]);
      expect(JSON.stringify(rows)).not.toContain(code);
    });

    it('wrong codes for one account from many IPs get 429 with Retry-After on POST /v1/auth/verify after 10', async () => {
      const u = await signup(t, 'sprayed');
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 11; i++) {
        const res = await t.http().post('/v1/auth/verify').set('x-forwarded-for', ip()).send({ email: u.email, code: '000000' });
        statuses.push(res.status);
        retryAfter ??= res.headers['retry-after'];
      }
      expect(statuses).toEqual([...Array(10).fill(400), 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    });

    it('GET /v1/auth/verify?token= from the email answers 200 with a "verified" page, again 200 when repeated, and 400 for a forged token', async () => {
      const u = await signup(t, 'linked');
      const link = /Or open this link: (\S+)/.exec((await verificationMail(u)).text)![1];
      const url = new URL(link);
      expect(url.pathname).toBe('/v1/auth/verify');
      const first = await t.http().get(`${url.pathname}${url.search}`);
      expect(first.status).toBe(200);
      expect(first.headers['content-type']).toMatch(/^text\/html/);
      expect(first.text).toContain('Email address verified');
      expect(first.headers['cache-control']).toBe('no-store');
      expect((await t.http().get('/v1/me').set(u.auth)).body).toMatchObject({ email_verified: true });
      const again = await t.http().get(`${url.pathname}${url.search}`);
      expect(again.status).toBe(200);
      const forged = await t.http().get(`/v1/auth/verify?token=pl_ev_${'A'.repeat(43)}`);
      expect(forged.status).toBe(400);
      expect(forged.text).toContain('Link invalid or expired');
    });

    it('POST /v1/auth/verify/resend answers 202 alike for an unknown and an unverified address, and 429 with Retry-After to a second resend within a minute', async () => {
      const u = await signup(t, 'resend');
      const from = ip();
      const known = await t.http().post('/v1/auth/verify/resend').set('x-forwarded-for', from).send({ email: u.email });
      const unknown = await t.http().post('/v1/auth/verify/resend').set('x-forwarded-for', from).send({ email: uniqueEmail('nobody') });
      expect(known.status).toBe(202);
      expect(unknown.status).toBe(202);
      expect(known.text).toBe(unknown.text);
      const again = await t.http().post('/v1/auth/verify/resend').set('x-forwarded-for', from).send({ email: u.email });
      expect(again.status).toBe(429);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(0);
      // The resent email's code works, and it replaced the first one.
      await verifyEmail(t, u);
      expect((await t.http().get('/v1/me').set(u.auth)).body.email_verified).toBe(true);
      const rows = (await t.sql.query(`SELECT consumed_at FROM control.email_verifications WHERE user_id = $1 ORDER BY created_at`, [u.id])).rows;
      expect(rows.map((r) => r.consumed_at !== null)).toEqual([false, true]);
    });
  });

  describe('item 6: console sign-in is limited per account and per IP', () => {
    it('40 wrong passwords for one account from one IP within a second: 10 get 401, the rest 429 with Retry-After', async () => {
      const victim = await signup(t, 'victim');
      const attacker = ip();
      const answers = await Promise.all(Array.from({ length: 40 }, () => login(victim.email, 'Wr0ng-password!', attacker)));
      const statuses = answers.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(30);
      for (const r of answers.filter((x) => x.status === 429)) {
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
        expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(900);
      }
    });

    it('while the attacker IP is limited, the owner signs in from another IP (200), and after Retry-After the attacker IP is released', async () => {
      const victim = await signup(t, 'victim');
      const attacker = ip();
      let retryAfter = 0;
      for (let i = 0; i < 11; i++) {
        const res = await login(victim.email, 'Wr0ng-password!', attacker);
        if (res.status === 429) retryAfter = Number(res.headers['retry-after']);
      }
      expect(retryAfter).toBeGreaterThan(0);
      // Even the right password is refused from the limited IP: a lock that a correct guess passes is no lock.
      expect((await login(victim.email, PASSWORD, attacker)).status).toBe(429);
      expect((await login(victim.email, PASSWORD, ip())).status).toBe(200);

      const clock = t.clock;
      clock.travel((retryAfter + 1) * 1000);
      try {
        expect((await login(victim.email, 'Wr0ng-password!', attacker)).status).toBe(401);
        expect((await login(victim.email, PASSWORD, attacker)).status).toBe(200);
      } finally {
        clock.travel(-(retryAfter + 1) * 1000);
      }
    });

    it('one IP spraying wrong passwords over many accounts gets 429 with Retry-After after 20 failures', async () => {
      const sprayer = ip();
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) statuses.push((await login(uniqueEmail('sprayed'), 'Wr0ng-password!', sprayer)).status);
      expect(statuses).toEqual([...Array(20).fill(401), 429]);
    });

    it('failures spread over many IPs cap the account at 100 for unfamiliar IPs (429), while the owner still signs in from an IP they used before (200)', async () => {
      const victim = await signup(t, 'botnet-victim');
      const home = ip();
      expect((await login(victim.email, PASSWORD, home)).status).toBe(200);
      for (let bot = 0; bot < 10; bot++) {
        const from = ip();
        const answers = await Promise.all(Array.from({ length: 10 }, () => login(victim.email, 'Wr0ng-password!', from)));
        expect(answers.map((r) => r.status)).toEqual(Array(10).fill(401));
      }
      const refused = await login(victim.email, PASSWORD, ip());
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await login(victim.email, PASSWORD, home)).status).toBe(200);
    });
  });
});
