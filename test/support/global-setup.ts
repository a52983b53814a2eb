import { Redis } from 'ioredis';
import { Client } from 'pg';
import { ensureDatabase, startEmbeddedPostgres } from '../../libs/database/src/embedded-postgres';
import { runMigrations } from '../../libs/database/src/migrate';
import { ensureTenantLoginRole } from '../../libs/database/src/tenant-login';

/** The secret every e2e app boots with (test/support/test-app.ts). */
export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789';

/**
 * Gives the e2e run a fresh database with migrations applied: on DATABASE_URL's server when set (CI),
 * otherwise on an embedded Postgres kept under .plinth/test-pg. Workers inherit PLINTH_TEST_DATABASE_URL.
 */
export default async function globalSetup(): Promise<void> {
  const name = `plinth_test_${Date.now()}_${process.pid}`;
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const pg = await startEmbeddedPostgres(`${process.cwd()}/.plinth/test-pg`, 54330, 'postgres');
    (globalThis as { __plinthEmbedded?: { stop(): Promise<void> } }).__plinthEmbedded = pg;
    serverUrl = pg.url;
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await ensureDatabase(url.toString());
  await runMigrations(url.toString());
  await ensureTenantLoginRole(url.toString(), TEST_SECRET);
  process.env.PLINTH_TEST_DATABASE_URL = url.toString();
  // Every test app's Redis keys start with this run's prefix (bootTestApp), and the teardown deletes them: a test
  // run touches nothing else in REDIS_URL's database and leaves nothing behind.
  process.env.PLINTH_TEST_REDIS_PREFIX = `pt-${Date.now().toString(36)}-${process.pid}`;
  process.env.PLINTH_TEST_SERVER_URL = serverUrl;
}

/** Drops the run's database and the tenant roles its projects created (roles are cluster-wide). */
export async function dropTestDatabase(): Promise<void> {
  const testUrl = process.env.PLINTH_TEST_DATABASE_URL;
  if (!testUrl) return;
  const name = new URL(testUrl).pathname.slice(1);
  const db = new Client({ connectionString: testUrl });
  await db.connect();
  const { rows } = await db.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE rolname ~ '^t_[a-z0-9]{12}_(data|owner)$'
       AND rolname IN (SELECT owner_role FROM control.projects UNION SELECT data_role FROM control.projects)`,
  );
  await db.end();
  const admin = new URL(testUrl);
  admin.pathname = '/postgres';
  const c = new Client({ connectionString: admin.toString() });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  for (const r of rows) await c.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => undefined);
  await c.end();
}

/** Deletes this run's Redis keys (those under PLINTH_TEST_REDIS_PREFIX), when the run used Redis. */
export async function deleteTestRedisKeys(): Promise<void> {
  const prefix = process.env.PLINTH_TEST_REDIS_PREFIX;
  if (!process.env.REDIS_URL || !prefix) return;
  const redis = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}
