import { INestApplication } from '@nestjs/common';
import type { Writable } from 'node:stream';
import { Client } from 'pg';
import request from 'supertest';
import { loadConfig, PlinthConfig } from '@plinth/config';
import { createApiApp } from '../../apps/api/src/app.factory';
import { TEST_SECRET } from './global-setup';

export interface TestApp {
  app: INestApplication;
  config: PlinthConfig;
  http: () => ReturnType<typeof request>;
  baseUrl: string;
  /** A superuser connection to the test database, for asserting on what is stored. */
  sql: Client;
  close(): Promise<void>;
}

/** Boots the real api (migrations already applied by global setup) on a random port.
 * `withWorker` also runs the job processors in the app (as `npm start` does without REDIS_URL). */
export async function bootTestApp(env: Record<string, string> = {}, logStream?: Writable, opts: { withWorker?: boolean } = {}): Promise<TestApp> {
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
    ...env,
  });
  const app = await createApiApp(config, databaseUrl, opts.withWorker ?? false, logStream);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const sql = new Client({ connectionString: databaseUrl });
  await sql.connect();
  return {
    app,
    config,
    baseUrl,
    sql,
    http: () => request(app.getHttpServer()),
    close: async () => {
      await sql.end();
      await app.close();
    },
  };
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

/** Adds `member` to `owner`'s org with `role`, through the real invitation flow. */
export async function addMember(t: TestApp, owner: TestUser, member: TestUser, role: string, orgId = owner.orgId): Promise<void> {
  const inv = await t.http().post(`/v1/orgs/${orgId}/invitations`).set(owner.auth).send({ email: member.email, role });
  if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${JSON.stringify(inv.body)}`);
  const acc = await t.http().post(`/v1/invitations/${inv.body.id}/accept`).set(member.auth).send();
  if (acc.status !== 200) throw new Error(`accept failed: ${acc.status} ${JSON.stringify(acc.body)}`);
}
