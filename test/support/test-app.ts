import { INestApplication } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { Writable } from 'node:stream';
import { Client } from 'pg';
import request from 'supertest';
import { loadConfig, PlinthConfig } from '@plinth/config';
import { SEND_INVITATION_EMAIL_JOB, SEND_VERIFICATION_EMAIL_JOB, SendInvitationEmailJob, SendVerificationEmailJob } from '@plinth/identity';
import type { JobData, JobHandler } from '@plinth/jobs';
import { PlatformEmail, PlatformMailer } from '@plinth/mail';
import { Clock } from '@plinth/common';
import { API_APP_OPTIONS, configureApiApp } from '../../apps/api/src/app.factory';
import { ApiModule } from '../../apps/api/src/api.module';
import { TEST_SECRET } from './global-setup';
import { TestClock } from './test-clock';

export interface TestApp {
  app: INestApplication;
  config: PlinthConfig;
  http: () => ReturnType<typeof request>;
  baseUrl: string;
  /** A superuser connection to the test database, for asserting on what is stored. */
  sql: Client;
  /** Every email the app handed to its platform mailer (whether SMTP or the log then took it), oldest first. */
  mails: PlatformEmail[];
  /** Whether the app runs its job processors (then emails go out by themselves). */
  withWorker: boolean;
  /** The app's clock (its `Clock` provider): tests move this app's time with it. */
  clock: TestClock;
  close(): Promise<void>;
}

/** A provider of the app replaced for a test (e.g. the project-ref generator, to force a collision). */
export interface ProviderOverride {
  provide: unknown;
  useValue: unknown;
}

/** Boots the real api (migrations already applied by global setup) on a random port.
 * `withWorker` also runs the job processors in the app (as `npm start` does without REDIS_URL). */
export async function bootTestApp(
  env: Record<string, string> = {},
  logStream?: Writable,
  opts: { withWorker?: boolean; overrides?: ProviderOverride[] } = {},
): Promise<TestApp> {
  const databaseUrl = process.env.PLINTH_TEST_DATABASE_URL;
  if (!databaseUrl) throw new Error('e2e tests need the global setup (run them through jest)');
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    PLINTH_SECRET: TEST_SECRET,
    PORT: '0',
    // Suites that hammer one project would trip the free plan's rate limits; the limits suite turns them on.
    RATE_LIMITS_ENABLED: 'false',
    // This run's keys only (deleted by the global teardown); suites that need their own add to it (testRedisPrefix).
    REDIS_PREFIX: testRedisPrefix(),
    ...env,
  });
  // The app as `npm start` builds it, from a testing module so providers can be overridden: every test app gets a
  // clock of its own that the test moves, and whatever else the test replaces.
  const clock = new TestClock();
  let builder = Test.createTestingModule({ imports: [ApiModule.register({ config, databaseUrl, withWorker: opts.withWorker ?? false, logStream })] })
    .overrideProvider(Clock)
    .useValue(clock);
  for (const o of opts.overrides ?? []) builder = builder.overrideProvider(o.provide).useValue(o.useValue);
  const moduleRef = await builder.compile();
  const app = configureApiApp(moduleRef.createNestApplication<NestExpressApplication>(API_APP_OPTIONS), config);
  // Keep a copy of what the app sends, so tests follow emailed codes and tokens as a recipient would.
  const mails: PlatformEmail[] = [];
  const mailer = app.get(PlatformMailer);
  const send = mailer.send.bind(mailer);
  mailer.send = (mail) => {
    mails.push(mail);
    return send(mail);
  };
  // A suite that needs the public URL to be this server (OAuth redirects) passes a free PORT; others get any port.
  await app.listen(Number(env.PORT ?? 0), '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const sql = new Client({ connectionString: databaseUrl });
  await sql.connect();
  return {
    app,
    config,
    baseUrl,
    sql,
    mails,
    withWorker: opts.withWorker ?? false,
    clock,
    http: () => request(app.getHttpServer()),
    close: async () => {
      await sql.end();
      await app.close();
    },
  };
}

/** This test run's Redis key prefix, with `suffix` for a suite that needs keys of its own. */
export function testRedisPrefix(suffix?: string): string {
  const run = process.env.PLINTH_TEST_REDIS_PREFIX;
  if (!run) throw new Error('e2e tests need the global setup (run them through jest)');
  return suffix ? `${run}-${suffix}` : run;
}

let counter = 0;
/** A unique email per call, so tests sharing a database never collide. */
export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${Date.now().toString(36)}-${process.pid}-${counter++}@example.com`;
}

export const PASSWORD = 'Corr3ct-Horse-Battery';

export interface TestUser {
  id: string;
  email: string;
  token: string;
  refresh: string;
  orgId: string;
  auth: { authorization: string };
  /** Set once {@link verifyEmail} has verified the account's address. */
  verified?: boolean;
}

export async function signup(t: TestApp, tag = 'user'): Promise<TestUser> {
  const email = uniqueEmail(tag);
  const res = await t.http().post('/v1/auth/signup').send({ email, password: PASSWORD, name: tag });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    id: res.body.user.id,
    email,
    token: res.body.access_token,
    refresh: res.body.refresh_token,
    orgId: res.body.org.id,
    auth: { authorization: `Bearer ${res.body.access_token}` },
  };
}

export interface TestProject {
  ref: string;
  id: string;
  publishable: string;
  secret: string;
}

export async function createProject(t: TestApp, user: TestUser, name = 'demo', orgId = user.orgId): Promise<TestProject> {
  const res = await t.http().post(`/v1/orgs/${orgId}/projects`).set(user.auth).send({ name });
  if (res.status !== 201) throw new Error(`create project failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ref: res.body.ref, id: res.body.id, publishable: res.body.keys.publishable, secret: res.body.keys.secret };
}

/** Puts `user`'s org on `plan` through the billing API (ledger-only here: no payment method needed). The free
 * plan allows 2 projects per org; suites that need more in one org upgrade it. */
export async function upgradeOrg(t: TestApp, user: TestUser, plan = 'pro', orgId = user.orgId): Promise<void> {
  const res = await t.http().put(`/v1/orgs/${orgId}/billing/plan`).set(user.auth).send({ plan });
  if (res.status !== 200) throw new Error(`plan change failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * Adds `member` to `owner`'s org with `role`, through the real invitation flow: both verify their address (as
 * inviting and accepting require), and the member accepts with the token from the invitation email.
 */
export async function addMember(t: TestApp, owner: TestUser, member: TestUser, role: string, orgId = owner.orgId): Promise<void> {
  await verifyEmail(t, owner);
  await verifyEmail(t, member);
  const inv = await t.http().post(`/v1/orgs/${orgId}/invitations`).set(owner.auth).send({ email: member.email, role });
  if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${JSON.stringify(inv.body)}`);
  const token = await invitationToken(t, inv.body.id, member.email);
  const acc = await t.http().post(`/v1/invitations/${inv.body.id}/accept`).set(member.auth).send({ token });
  if (acc.status !== 200) throw new Error(`accept failed: ${acc.status} ${JSON.stringify(acc.body)}`);
}

/** A new account whose address is verified (it may accept and send invitations). */
export async function signupVerified(t: TestApp, tag = 'user'): Promise<TestUser> {
  const user = await signup(t, tag);
  await verifyEmail(t, user);
  return user;
}

/** Verifies `user`'s address as its owner would: the code from the latest verification email, at POST /v1/auth/verify. */
export async function verifyEmail(t: TestApp, user: { id: string; email: string; verified?: boolean }): Promise<void> {
  if (user.verified) return;
  const mail = await platformMail(t, user.email, /^Verify your email/, t.app.get(SendVerificationEmailJob), SEND_VERIFICATION_EMAIL_JOB, 'userId', user.id);
  const code = /Verification code: (\d{6})/.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in the verification email: ${mail.text}`);
  const res = await t.http().post('/v1/auth/verify').send({ email: user.email, code });
  if (res.status !== 200) throw new Error(`verify failed: ${res.status} ${JSON.stringify(res.body)}`);
  user.verified = true;
}

/** The token the invitation email to `email` carries. */
export async function invitationToken(t: TestApp, invitationId: string, email: string): Promise<string> {
  const mail = await platformMail(t, email, /invited to join/, t.app.get(SendInvitationEmailJob), SEND_INVITATION_EMAIL_JOB, 'invitationId', invitationId);
  const token = /Invitation token: (pl_inv_[A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  if (!token) throw new Error(`no token in the invitation email: ${mail.text}`);
  return token;
}

/**
 * The latest email to `to` whose subject matches, from what the app's mailer was given. An app with its job
 * processors sends it by itself; without them, the helper runs the email's outbox job (the newest one of `name`
 * whose data has `key` = `value`) through its real handler, as the worker would: handlers are idempotent.
 */
export async function platformMail<T extends JobData>(
  t: TestApp,
  to: string,
  subject: RegExp,
  handler: JobHandler<T>,
  name: string,
  key: string,
  value: string,
): Promise<PlatformEmail> {
  const find = () =>
    [...t.mails].reverse().find((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((x) => x.toLowerCase() === to.toLowerCase()) && subject.test(m.subject));
  if (t.withWorker) {
    const deadline = Date.now() + 15_000;
    while (!find() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  } else {
    const { rows } = await t.sql.query(`SELECT id, data FROM control.outbox WHERE name = $1 AND data->>$2 = $3 ORDER BY id DESC LIMIT 1`, [name, key, value]);
    if (!rows[0]) throw new Error(`no ${name} job with ${key} = ${value}`);
    await handler.handle(rows[0].data as T, { id: String(rows[0].id), attempt: 1, maxAttempts: 1 });
  }
  const mail = find();
  if (!mail) throw new Error(`no email to ${to} matching ${subject}`);
  return mail;
}
