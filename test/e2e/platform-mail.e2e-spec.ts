import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { DelinquencyNoticesJob } from '@plinth/billing';
import { OutboxService } from '@plinth/jobs';
import { MeteringService } from '@plinth/metering';
import { PlansService, UsageAlertJob, UsageAlertsService } from '@plinth/quotas';
import { bootBillingApp, DAY, fastJobs, waitFor } from '../support/billing-harness';
import { CapturedMail, codeAndLink, SmtpCapture } from '../support/smtp-capture';
import { addMember, createProject, PASSWORD, signup, signupVerified, TestApp, TestUser, uniqueEmail } from '../support/test-app';

/**
 * Plinth's own emails (usage alerts, delinquency notices, org invitations) through the outbox, the in-process job
 * runner, the platform mailer and a real SMTP server (smtp-server) at SMTP_URL.
 */
describe('platform emails through the outbox and a real SMTP server', () => {
  const smtp = new SmtpCapture();
  let t: TestApp;

  beforeAll(async () => {
    await smtp.start();
    t = await bootBillingApp({ ...fastJobs, SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, SMTP_FROM: 'Plinth <no-reply@mail.plinth.test>' });
  });
  afterAll(async () => {
    await t?.close();
    await smtp.stop();
  });

  /** A header of the raw message, unfolded (long subjects span lines). */
  const header = (mail: CapturedMail, name: string) =>
    new RegExp(`^${name}: *(.*)$`, 'im').exec(mail.raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' '))?.[1]?.trim();
  /** Mails received so far to `to` whose (unfolded) subject matches. */
  const mailsTo = (to: string, subject: RegExp) => smtp.mails.filter((m) => m.to.includes(to.toLowerCase()) && subject.test(header(m, 'Subject') ?? ''));
  const mailTo = (to: string, subject: RegExp): Promise<CapturedMail> =>
    waitFor(`a mail to ${to} matching ${subject}`, async () => mailsTo(to, subject)[0], 10_000);
  /** Lets the in-process runner pick up anything that might (wrongly) send a second mail. */
  const settle = () => new Promise((r) => setTimeout(r, 400));

  async function orgWithRoles(tag: string): Promise<{ owner: TestUser; billing: TestUser; developer: TestUser; viewer: TestUser }> {
    const owner = await signup(t, `${tag}-owner`);
    const billing = await signup(t, `${tag}-billing`);
    const developer = await signup(t, `${tag}-dev`);
    const viewer = await signup(t, `${tag}-viewer`);
    await addMember(t, owner, billing, 'billing');
    await addMember(t, owner, developer, 'developer');
    await addMember(t, owner, viewer, 'viewer');
    return { owner, billing, developer, viewer };
  }

  it('an alert crossing 50 % sends one email to the owners and billing members only, once, even when the webhook is retried', async () => {
    const { owner, billing, developer, viewer } = await orgWithRoles('alert');
    await t.sql.query(
      `INSERT INTO control.plans (id, name, public, sort, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits)
       VALUES ('test_mail_ten', 'test_mail_ten', false, 99, 0, true, '{"requests": 10}', '{}',
               '{"project": {"limit": 1000, "window_s": 1}, "key": {"limit": 1000, "window_s": 1}, "anon_ip": {"limit": 1000, "window_s": 1}}', '{}')
       ON CONFLICT (id) DO NOTHING`,
    );
    t.app.get(PlansService).forget();
    await t.app.get(PlansService).setOrgPlan(owner.orgId, 'test_mail_ten');
    const p = await createProject(t, owner, 'alerted');

    // The webhook fails once: the job is retried, and the retry must not send the email again.
    const hooks: unknown[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hooks.push(JSON.parse(body));
        res.statusCode = hooks.length === 1 ? 500 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      await t.http().put(`/v1/projects/${p.ref}/limits`).set(owner.auth).send({ alert_webhook_url: url }).expect(200);

      for (let i = 0; i < 6; i++) expect((await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
      await t.app.get(MeteringService).flush();
      await t.app.get(UsageAlertsService).evaluate([p.id]);
      const alerts = async () =>
        (await t.sql.query(`SELECT threshold, emailed_at, notified_at FROM control.usage_alerts WHERE project_id = $1 ORDER BY threshold`, [p.id])).rows;
      expect((await alerts()).map((r) => r.threshold)).toEqual([50]);

      const mail = await mailTo(owner.email, /reached 50% of its requests included amount/);
      expect(header(mail, 'Subject')).toBe(`Project ${p.ref} reached 50% of its requests included amount`);
      expect(mail.to.sort()).toEqual([owner.email, billing.email].map((e) => e.toLowerCase()).sort());
      expect(mail.body).toContain(`Project ${p.ref} has used 6 of 10 (50%)`);
      expect(mail.body).toContain(`/v1/projects/${p.ref}/usage`);
      expect(header(mail, 'From')).toBe('Plinth <no-reply@mail.plinth.test>');
      const job = await t.sql.query(`SELECT id FROM control.outbox WHERE name = 'usage-alert' AND data->>'projectId' = $1`, [p.id]);
      expect(job.rows).toHaveLength(1);
      expect(header(mail, 'Message-ID')).toBe(`<usage-alert-${job.rows[0].id}@mail.plinth.test>`);

      // Delivered: the webhook answered on the second attempt, and only then is the alert notified.
      await waitFor('the alert to be notified', async () => (await alerts())[0].notified_at);
      expect(hooks).toHaveLength(2);
      const row = (await alerts())[0];
      expect(row.emailed_at.getTime()).toBeLessThanOrEqual(row.notified_at.getTime());

      // A redelivered job, more usage under 80 %, and a new evaluation send nothing more.
      await t.app.get(UsageAlertJob).handle(
        { orgId: owner.orgId, projectId: p.id, projectRef: p.ref, periodStart: new Date((await t.sql.query(`SELECT period_start FROM control.usage_alerts WHERE project_id = $1`, [p.id])).rows[0].period_start).toISOString(), meter: 'requests', kind: 'included', threshold: 50, used: 6, amount: 10 },
        { id: job.rows[0].id, attempt: 3, maxAttempts: 8 },
      );
      await t.http().get(`/p/${p.ref}/rest/v1/`).set('apikey', p.secret);
      await t.app.get(MeteringService).flush();
      await t.app.get(UsageAlertsService).evaluate([p.id]);
      await settle();
      expect(mailsTo(owner.email, /reached/)).toHaveLength(1);
      expect(mailsTo(billing.email, /reached/)).toHaveLength(1);
      for (const other of [developer, viewer]) expect(mailsTo(other.email, /reached/)).toHaveLength(0);
      expect(hooks).toHaveLength(2);
      expect(await t.app.get(OutboxService).listDead(owner.orgId)).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('a delinquent org gets a grace notice, then a read-only notice, each once, to owners and billing members', async () => {
    const { owner, billing, developer } = await orgWithRoles('delinquent');
    const clock = t.clock;
    const since = new Date(clock.nowMs() - 60_000);
    // Ledger-only mode has no failed payments; plant the delinquency a failed Stripe invoice would have started.
    // (A free-plan account with no period of its own, so other suites' period closers never pick it up.)
    await t.sql.query(
      `INSERT INTO control.billing_accounts (org_id, currency, plan_id, delinquent_since, created_at, updated_at) VALUES ($1, 'usd', 'free', $2, now(), now())`,
      [owner.orgId, since],
    );
    const job = t.app.get(DelinquencyNoticesJob);
    const recipients = [owner.email, billing.email].map((e) => e.toLowerCase()).sort();

    const first = (await job.run()).find((n) => n.orgId === owner.orgId);
    expect(first).toMatchObject({ state: 'grace', queued: true });
    expect([...first!.to].sort()).toEqual(recipients);
    const grace = await mailTo(owner.email, /^Payment failed/);
    expect(grace.to.sort()).toEqual(recipients);
    const readOnlyAt = new Date(since.getTime() + t.config.billing.graceDays * DAY);
    expect(header(grace, 'Subject')).toContain(readOnlyAt.toISOString().slice(0, 10));
    expect(grace.body).toContain(readOnlyAt.toISOString());
    expect(header(grace, 'Message-ID')).toMatch(/^<billing-notice-\d+@mail\.plinth\.test>$/);

    // The next daily run, same state: nothing new.
    expect((await job.run()).find((n) => n.orgId === owner.orgId)).toMatchObject({ state: 'grace', queued: false });
    await settle();
    expect(mailsTo(owner.email, /Payment failed/)).toHaveLength(1);

    clock.travel(t.config.billing.graceDays * DAY + 3_600_000);
    try {
      expect((await job.run()).find((n) => n.orgId === owner.orgId)).toMatchObject({ state: 'read_only', queued: true });
      const readOnly = await mailTo(billing.email, /projects are read-only/);
      expect(readOnly.to.sort()).toEqual(recipients);
      expect(readOnly.body).toContain('refuse writes');
      expect((await job.run()).find((n) => n.orgId === owner.orgId)).toMatchObject({ state: 'read_only', queued: false });
      await settle();
      expect(mailsTo(owner.email, /projects are read-only/)).toHaveLength(1);
      expect(mailsTo(developer.email, /Payment failed|are read-only|suspended/)).toHaveLength(0);
      const notices = await t.sql.query(`SELECT state, notified_at FROM control.billing_notices WHERE org_id = $1 ORDER BY created_at`, [owner.orgId]);
      expect(notices.rows.map((r) => [r.state, r.notified_at !== null])).toEqual([['grace', true], ['read_only', true]]);
    } finally {
      clock.travel(-(t.config.billing.graceDays * DAY + 3_600_000));
      await t.sql.query(`UPDATE control.billing_accounts SET delinquent_since = NULL WHERE org_id = $1`, [owner.orgId]);
    }
  });

  it('an invitation sends an email whose token accepts the invite (and a refused invitation sends nothing)', async () => {
    const owner = await signupVerified(t, 'inviter');
    const email = uniqueEmail('invitee');
    const inv = await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth).send({ email, role: 'developer' });
    expect(inv.status).toBe(201);

    const mail = await mailTo(email, /invited/);
    expect(mail.to).toEqual([email.toLowerCase()]);
    expect(header(mail, 'Subject')).toMatch(/^You are invited to join .+ on Plinth$/);
    expect(mail.body).toContain(owner.email);
    expect(mail.body).toContain('as developer');
    const token = /Invitation token: (pl_inv_[A-Za-z0-9_-]{43})/.exec(mail.body)?.[1];
    expect(token).toBeDefined();
    expect(mail.body).toContain(`/v1/invitations/${inv.body.id}/accept`);
    // The token is only in the email: not in the API's answers, not in the job's data.
    expect(JSON.stringify(inv.body)).not.toContain(token);
    const job = await t.sql.query(`SELECT id FROM control.outbox WHERE name = 'identity.invitation-email' AND data->>'invitationId' = $1`, [inv.body.id]);
    expect(header(mail, 'Message-ID')).toBe(`<org-invitation-${job.rows[0].id}@mail.plinth.test>`);

    const jobData = await t.sql.query(`SELECT data::text AS d FROM control.outbox WHERE id = $1`, [job.rows[0].id]);
    expect(jobData.rows[0].d).not.toContain(token);

    // The invitee signs up with the invited address, verifies it from the verification email, and accepts with
    // the emailed token.
    const res = await t.http().post('/v1/auth/signup').send({ email, password: PASSWORD, name: 'invitee' });
    expect(res.status).toBe(201);
    const verification = await mailTo(email, /^Verify your email address/);
    expect(header(verification, 'Message-ID')).toMatch(/^<email-verification-\d+@mail\.plinth\.test>$/);
    const { code } = codeAndLink(verification);
    expect((await t.http().post('/v1/auth/verify').send({ email, code })).status).toBe(200);
    const accepted = await t.http().post(`/v1/invitations/${inv.body.id}/accept`).set({ authorization: `Bearer ${res.body.access_token}` }).send({ token });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ id: owner.orgId, role: 'developer' });
    const members = await t.http().get(`/v1/orgs/${owner.orgId}/members`).set(owner.auth);
    expect(members.body.map((m: { email: string; role: string }) => [m.email, m.role])).toContainEqual([email.toLowerCase(), 'developer']);

    // Inviting an existing member is a 409 and rolls back with its email job; bad input is a 400.
    const jobs = async () => (await t.sql.query(`SELECT count(*)::int AS n FROM control.outbox WHERE name = 'identity.invitation-email' AND org_id = $1`, [owner.orgId])).rows[0].n;
    const before = await jobs();
    expect((await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth).send({ email, role: 'viewer' })).status).toBe(409);
    expect((await t.http().post(`/v1/orgs/${owner.orgId}/invitations`).set(owner.auth).send({ email: 'not-an-email', role: 'viewer' })).status).toBe(400);
    expect(await jobs()).toBe(before);
    await settle();
    expect(mailsTo(email, /invited/)).toHaveLength(1);
  });
});
