import { hkdfSync } from 'node:crypto';
import { Client } from 'pg';

/**
 * Tenant traffic logs in as its own role, not as the control plane's (often superuser) user. It may only
 * switch into projects' data roles (granted at provisioning); a stray role reset or role switch statement in a
 * tenant transaction lands on a role with no privileges, never on control data or superuser powers.
 */
export const TENANT_LOGIN_ROLE = 'plinth_tenant';

export function tenantLoginPassword(secret: string): string {
  return Buffer.from(hkdfSync('sha256', secret, 'plinth', 'tenant-login-role', 24)).toString('base64url');
}

/** The tenant pool's URL: the control URL with the tenant login role's credentials. */
export function tenantLoginUrl(controlUrl: string, secret: string): string {
  const url = new URL(controlUrl);
  url.username = TENANT_LOGIN_ROLE;
  url.password = tenantLoginPassword(secret);
  return url.toString();
}

/** Creates (or updates) the tenant login role and lets it connect. Idempotent; run at boot. */
export async function ensureTenantLoginRole(controlUrl: string, secret: string): Promise<void> {
  const client = new Client({ connectionString: controlUrl });
  await client.connect();
  try {
    const db = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0].db;
    const password = tenantLoginPassword(secret).replace(/'/g, "''");
    await client.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${TENANT_LOGIN_ROLE}') THEN
          CREATE ROLE ${TENANT_LOGIN_ROLE} LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE;
        END IF;
      EXCEPTION WHEN duplicate_object THEN NULL; -- created concurrently
      END $$;
    `);
    await client.query(`ALTER ROLE ${TENANT_LOGIN_ROLE} WITH LOGIN NOINHERIT PASSWORD '${password}'`);
    await client.query(`GRANT CONNECT ON DATABASE "${db.replace(/"/g, '""')}" TO ${TENANT_LOGIN_ROLE}`);
  } finally {
    await client.end();
  }
}
