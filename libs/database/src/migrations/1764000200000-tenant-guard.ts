import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 13, noisy neighbours and role confinement.
 *
 * `tenant_guard.assert_role(expected)`: the tenant executor calls it after every statement of a tenant transaction;
 * it raises (XX000, aborting the transaction) unless `current_user` is still the project's data role. The tenant
 * login role may switch into every project's data role, so a statement that switched role (SQL injected into a
 * generated statement) must not hand the rest of the transaction to another tenant. SECURITY INVOKER, so it sees
 * the caller's role; the schema holds nothing else and nobody but its owner may create in it, so the name can't be
 * shadowed; the operator is schema-qualified, so a changed `search_path` can't redirect it.
 *
 * Plans get statement timeouts (`limits.statement_timeout_ms`, and a shorter `anon_statement_timeout_ms` for
 * publishable-key callers without an end user), capped by DATA_STATEMENT_TIMEOUT_MS.
 */
export class TenantGuard1764000200000 implements MigrationInterface {
  name = 'TenantGuard1764000200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE SCHEMA tenant_guard;
      REVOKE ALL ON SCHEMA tenant_guard FROM PUBLIC;
      GRANT USAGE ON SCHEMA tenant_guard TO PUBLIC;
      CREATE FUNCTION tenant_guard.assert_role(expected text) RETURNS void
        LANGUAGE plpgsql STABLE SECURITY INVOKER
        AS $$
        BEGIN
          IF current_user::text OPERATOR(pg_catalog.<>) expected THEN
            RAISE EXCEPTION 'tenant transaction left its data role'
              USING ERRCODE = 'XX000', DETAIL = pg_catalog.format('expected %s, running as %s', expected, current_user);
          END IF;
        END
        $$;
      REVOKE ALL ON FUNCTION tenant_guard.assert_role(text) FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION tenant_guard.assert_role(text) TO PUBLIC;

      UPDATE control.plans SET limits = limits || '{"statement_timeout_ms": 3000, "anon_statement_timeout_ms": 1000}' WHERE id = 'free';
      UPDATE control.plans SET limits = limits || '{"statement_timeout_ms": 5000, "anon_statement_timeout_ms": 3000}' WHERE id = 'pro';
      UPDATE control.plans SET limits = limits || '{"statement_timeout_ms": 15000, "anon_statement_timeout_ms": 3000}' WHERE id = 'enterprise';
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      UPDATE control.plans SET limits = limits - 'statement_timeout_ms' - 'anon_statement_timeout_ms';
      DROP SCHEMA tenant_guard CASCADE;
    `);
  }
}
