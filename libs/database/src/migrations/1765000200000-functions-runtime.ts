import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The functions runtime's metadata, in the control schema rather than per-project system tables: code, versions and
 * secrets are platform-managed (the runners need them whatever database cluster a project lives on), no tenant role
 * may read them, and provisioning stays DDL-free for functions. Versions are immutable; a function points at one.
 * Secrets are sealed (AES-256-GCM, key derived from the platform secret, bound to project and name). Logs are kept
 * for FUNCTION_LOG_RETENTION_HOURS. Plans gain `function_memory_mb` and `function_concurrency` ceilings.
 */
export class FunctionsRuntime1765000200000 implements MigrationInterface {
  name = 'FunctionsRuntime1765000200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE control.functions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        project_id uuid NOT NULL REFERENCES control.projects(id) ON DELETE CASCADE,
        name text NOT NULL,
        current_version int NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (project_id, name)
      );
      CREATE TABLE control.function_versions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        function_id uuid NOT NULL REFERENCES control.functions(id) ON DELETE CASCADE,
        version int NOT NULL,
        language text NOT NULL,
        source text NOT NULL,
        compiled text NOT NULL,
        settings jsonb NOT NULL,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (function_id, version)
      );
      CREATE TABLE control.function_secrets (
        project_id uuid NOT NULL REFERENCES control.projects(id) ON DELETE CASCADE,
        name text NOT NULL,
        value_enc text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, name)
      );
      CREATE TABLE control.function_logs (
        id bigserial PRIMARY KEY,
        project_id uuid NOT NULL,
        function_name text NOT NULL,
        version int NOT NULL,
        request_id text NOT NULL,
        level text NOT NULL,
        status int NOT NULL,
        duration_ms int NOT NULL,
        cpu_ms int NOT NULL,
        memory_mb int NOT NULL,
        lines jsonb NOT NULL,
        error text,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX function_logs_project_fn_at ON control.function_logs (project_id, function_name, created_at DESC);
      CREATE INDEX function_logs_at ON control.function_logs (created_at);
      UPDATE control.plans SET limits = limits || v.l
        FROM (VALUES ('free', '{"function_memory_mb": 128, "function_concurrency": 10}'::jsonb),
                     ('pro', '{"function_memory_mb": 256, "function_concurrency": 50}'::jsonb),
                     ('enterprise', '{"function_memory_mb": 512, "function_concurrency": 500}'::jsonb)) AS v(id, l)
       WHERE plans.id = v.id;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE control.function_logs; DROP TABLE control.function_secrets; DROP TABLE control.function_versions; DROP TABLE control.functions;
      UPDATE control.plans SET limits = limits - 'function_memory_mb' - 'function_concurrency';
    `);
  }
}
