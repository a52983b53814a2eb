import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { bootTestApp, createProject, signup, TestApp, TestProject, TestUser, uniqueEmail, upgradeOrg } from '../support/test-app';

/**
 * SSRF through customer-chosen destinations (issue 13, item 5). The app runs with OUTBOUND_ALLOW_PRIVATE=false, as
 * in production. The only server anything may reach is the SMTP listener this suite starts on 127.0.0.1, and the
 * point is that nothing does.
 */
describe('attack: outbound connections to internal hosts', () => {
  let t: TestApp;
  let owner: TestUser;
  let p: TestProject;
  let smtp: SMTPServer;
  let smtpPort: number;
  let connections = 0;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onConnect: (_session, callback) => {
        connections++;
        callback();
      },
      onData: (stream, _session, callback) => {
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    t = await bootTestApp({ OUTBOUND_ALLOW_PRIVATE: 'false', JOBS_POLL_MS: '20', JOBS_BACKOFF_MS: '50' }, undefined, { withWorker: true });
    owner = await signup(t, 'outbound-owner');
    await upgradeOrg(t, owner); // more than the free plan's two projects
    p = await createProject(t, owner, 'outbound');
  });
  afterAll(async () => {
    await t?.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  const storedConfig = async (projectId: string) =>
    (await t.sql.query(`SELECT settings::text AS s FROM control.auth_configs WHERE project_id = $1`, [projectId])).rows[0]?.s ?? null;

  it.each(['127.0.0.1', 'localhost', '[::1]', '::1', '169.254.169.254', '10.0.0.5', '0x7f000001', '::ffff:127.0.0.1', 'mail.localhost'])(
    'PATCH /v1/projects/:ref/auth/config with smtp.host %s gets 400 and saves nothing',
    async (host) => {
      const before = await storedConfig(p.id);
      const res = await t
        .http()
        .patch(`/v1/projects/${p.ref}/auth/config`)
        .set(owner.auth)
        .send({ smtp: { host, port: smtpPort, sender_email: 'auth@customer.example.com', user: 'u', pass: 'p' } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.message).toMatch(/smtp\.host: .*(non-public address|loopback name)/);
      expect(res.body.error.details).toEqual([{ path: 'smtp.host', message: expect.any(String) }]);
      expect(await storedConfig(p.id)).toBe(before);
      const view = await t.http().get(`/v1/projects/${p.ref}/auth/config`).set(owner.auth);
      expect(view.body.smtp).toBeNull();
    },
  );

  it('PATCH /v1/projects/:ref/auth/config with a public-looking smtp.host name is 200 (names are checked when connecting)', async () => {
    const other = await createProject(t, owner, 'outbound-public');
    const res = await t
      .http()
      .patch(`/v1/projects/${other.ref}/auth/config`)
      .set(owner.auth)
      .send({ smtp: { host: 'smtp.customer.example.com', port: 587, sender_email: 'auth@customer.example.com' } });
    expect(res.status).toBe(200);
    expect(res.body.smtp).toMatchObject({ host: 'smtp.customer.example.com', port: 587 });
  });

  it('PUT /v1/projects/:ref/limits with alert_webhook_url at the metadata address gets 400 and saves nothing', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data', 'http://localhost:8080/hook', 'http://[::1]/hook']) {
      const res = await t.http().put(`/v1/projects/${p.ref}/limits`).set(owner.auth).send({ alert_webhook_url: url });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/alert_webhook_url: .*(non-public address|loopback name)/);
    }
    const { rows } = await t.sql.query(`SELECT alert_webhook_url FROM control.project_limits WHERE project_id = $1`, [p.id]);
    expect(rows.map((r) => r.alert_webhook_url).filter(Boolean)).toEqual([]);
  });

  // Settings saved before the guard existed (or while OUTBOUND_ALLOW_PRIVATE was true) still point inside: the send
  // itself must refuse them, once, without connecting.
  it.each(['localhost', '127.0.0.1'])(
    'an auth email for a project whose stored smtp.host is %s is refused at send time: the job is dead after one attempt and the local SMTP server sees no connection',
    async (host) => {
      const victim = await createProject(t, owner, `outbound-stored-${host.replace(/\W/g, '')}`);
      const settings = { smtp: { host, port: smtpPort, secure: false, sender_email: 'auth@customer.example.com' } };
      await t.sql.query(`INSERT INTO control.auth_configs (project_id, settings, smtp_password_enc, updated_at) VALUES ($1, $2, NULL, now())`, [
        victim.id,
        JSON.stringify(settings),
      ]);
      const email = uniqueEmail('outbound-victim');
      const res = await t
        .http()
        .post(`/p/${victim.ref}/auth/v1/signup`)
        .set('apikey', victim.publishable)
        .send({ email, password: 'Sup3r-secret-pass' });
      expect(res.status).toBe(200);

      const deadline = Date.now() + 20_000;
      let job: { status: string; attempts: number; last_error: string | null } | undefined;
      for (;;) {
        job = (
          await t.sql.query(`SELECT status, attempts, last_error FROM control.outbox WHERE name = 'auth.send-email' AND data->>'projectId' = $1`, [victim.id])
        ).rows[0];
        if (job && (job.status === 'dead' || job.status === 'done')) break; // (pending, running or, with Redis, relayed: not yet)
        if (Date.now() > deadline) throw new Error(`the email job did not finish: ${JSON.stringify(job)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(job).toMatchObject({ status: 'dead', attempts: 1 });
      expect(job.last_error).toMatch(/project SMTP server refused: refusing to connect to (localhost: it is a loopback name|the non-public address 127\.0\.0\.1)/);
      expect(connections).toBe(0);
    },
  );
});
