import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
  .refine((v) => {
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  }, 'is not a valid URL');

/**
 * Every environment variable Plinth reads, with its default. The README's configuration table and
 * `.env.example` document the same list; keep the three in step.
 */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_CLUSTER_NAME: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a short lowercase name')
    .default('default'),
  // Further Postgres clusters for tenant schemas (issue 21): `name=postgres://…` pairs, comma separated. The control
  // plane and the default cluster (DATABASE_CLUSTER_NAME) stay on DATABASE_URL.
  DATABASE_CLUSTERS: z.string().optional(),
  // Where new projects go: the cluster with the fewest projects, or the fewest bytes in tenant schemas.
  DATABASE_PLACEMENT: z.enum(['fewest-projects', 'least-bytes']).default('fewest-projects'),
  // Orgs whose new projects always go to one cluster: `<org id>=<cluster>` pairs, comma separated.
  DATABASE_ORG_PINS: z.string().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
  // A database started beside Plinth (compose, Kubernetes) may come up later: retry the first connection this long.
  DATABASE_CONNECT_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(60_000),
  TENANT_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
  TENANT_POOL_MAX_USES: z.coerce.number().int().min(0).default(5000),
  TENANT_STATEMENT_CACHE: z.coerce.number().int().min(0).max(10000).default(100),
  // Fairness on the tenant pool: connections one project may hold at once (default a third of the pool, at least 1),
  // how many of its requests may wait beyond that, and for how long, before they are refused (429).
  TENANT_PROJECT_MAX_SHARE: z.coerce.number().int().min(1).max(500).optional(),
  TENANT_PROJECT_QUEUE: z.coerce.number().int().min(0).max(100_000).default(50),
  TENANT_PROJECT_QUEUE_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
  EMBEDDED_PG_DIR: z.string().min(1).default('.plinth/pg'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54320),
  REDIS_URL: z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL')
    .optional(),
  // Bearer token of the operator routes (/v1/admin/…, e.g. moving a project between clusters); unset = no such routes.
  OPERATOR_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  PLINTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  PLINTH_SECRET_FILE: z.string().min(1).default('.plinth/secret'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(300).default(30 * 86400),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
  // Keys and projects are cached this long on the request path; revocations and deletions are pushed to every
  // instance over LISTEN/NOTIFY and take effect at once, so the TTL only bounds memory (issue 21).
  KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(86_400_000).default(600_000),
  TRUST_PROXY: bool.default(false),
  // Node's defaults are 60 s for a request's headers and 300 s for the whole request; slow senders hold sockets that long.
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(20_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  // The console's built files (Vite's output), served at `/`; relative paths are against the working directory.
  CONSOLE_DIR: z.string().min(1).default('dist/console'),
  // Jobs (libs/jobs): outbox polling, retries and the lease after which a claimed or relayed job is taken back.
  JOBS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  JOBS_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(16),
  JOBS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  JOBS_BACKOFF_MS: z.coerce.number().int().min(10).max(3_600_000).default(1000),
  JOBS_LEASE_MS: z.coerce.number().int().min(1000).max(86_400_000).default(120_000),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be 1-32 letters, digits, _ . -').default('plinth'),
  // Metering and limits (libs/metering, libs/quotas).
  METERING_ENABLED: bool.default(true),
  METERING_FLUSH_MS: z.coerce.number().int().min(50).max(5000).default(2000),
  QUOTA_REFRESH_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  RATE_LIMITS_ENABLED: bool.default(true),
  // Most tokens of a large rate limit an api instance takes from Redis ahead (see RateLimiter); 0: a call per request.
  RATE_LIMIT_LEASE_MAX: z.coerce.number().int().min(0).max(10_000).default(256),
  // Connections to customer-chosen hosts (usage-alert webhooks, projects' own SMTP servers) to loopback, private,
  // link-local or other non-public addresses: refused in production unless set. WEBHOOK_ALLOW_PRIVATE is its old name.
  OUTBOUND_ALLOW_PRIVATE: bool.optional(),
  WEBHOOK_ALLOW_PRIVATE: bool.optional(),
  // Data runtime (libs/runtime-data): per-request bounds and the catalog limits used when a plan sets none.
  DATA_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  DATA_MAX_ROWS: z.coerce.number().int().min(1).max(100_000).default(1000),
  DATA_MAX_TABLES_PER_PROJECT: z.coerce.number().int().min(1).max(100_000).default(100),
  DATA_MAX_COLUMNS_PER_TABLE: z.coerce.number().int().min(1).max(1600).default(100),
  // Storage runtime (libs/runtime-storage): local disk by default; an S3-compatible store when STORAGE_S3_BUCKET is set.
  STORAGE_DIR: z.string().min(1).default('.plinth/storage'),
  STORAGE_S3_ENDPOINT: z.url().optional(),
  STORAGE_S3_REGION: z.string().min(1).max(64).default('us-east-1'),
  STORAGE_S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name').optional(),
  STORAGE_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  STORAGE_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  STORAGE_S3_FORCE_PATH_STYLE: bool.default(false),
  // Largest object when the plan sets no max_upload_bytes.
  STORAGE_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1).default(50 * 1024 * 1024),
  // Functions runtime (libs/runtime-functions, apps/function-runner): runner processes (0 = one per core) and their
  // warm isolates; per-invocation defaults and ceilings (plans cap them lower); output, fetch and log bounds.
  FUNCTION_RUNNERS: z.coerce.number().int().min(0).max(64).default(0),
  FUNCTION_ISOLATES_PER_RUNNER: z.coerce.number().int().min(1).max(1000).default(64),
  // Warm isolates per runner are also bounded by their total V8 heap (least recently used go first).
  FUNCTION_ISOLATES_HEAP_MB: z.coerce.number().int().min(1).max(65_536).default(1024),
  FUNCTION_MEMORY_MB: z.coerce.number().int().min(8).max(4096).default(128),
  FUNCTION_MAX_MEMORY_MB: z.coerce.number().int().min(8).max(4096).default(512),
  FUNCTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(900_000).default(10_000),
  FUNCTION_CPU_MS: z.coerce.number().int().min(10).max(900_000).default(2000),
  FUNCTION_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(20),
  FUNCTION_MAX_SOURCE_BYTES: z.coerce.number().int().min(1024).max(50_000_000).default(1_000_000),
  FUNCTION_MAX_RESPONSE_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(6_000_000),
  FUNCTION_MAX_REQUEST_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(6_000_000),
  FUNCTION_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  FUNCTION_FETCH_MAX_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(10_000_000),
  FUNCTION_LOG_RETENTION_HOURS: z.coerce.number().min(0.01).max(24 * 90).default(24),
  // Platform mailer (libs/mail): Plinth's own emails and auth emails of projects without their own SMTP; unset = log.
  SMTP_URL: z
    .string()
    .refine((v) => /^smtps?:\/\//.test(v), 'must be an smtp:// or smtps:// URL')
    .optional(),
  SMTP_FROM: z.string().min(3).max(200).default('Plinth <no-reply@plinth.local>'),
  // Notifications runtime (libs/runtime-notifications): one webhook attempt's bound and the response bytes kept,
  // and how often an idle inbox stream gets a heartbeat comment.
  NOTIFICATIONS_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  NOTIFICATIONS_WEBHOOK_RESPONSE_BYTES: z.coerce.number().int().min(0).max(65_536).default(2048),
  NOTIFICATIONS_SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  // Billing (libs/billing). No STRIPE_SECRET_KEY = ledger-only mode (invoices computed locally, nothing charged).
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a Stripe secret or restricted key').optional(),
  STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_', 'must be a webhook signing secret (whsec_…)').optional(),
  // Where the Stripe SDK connects (tests point it at a local Stripe-protocol server); Stripe's API by default.
  STRIPE_API_HOST: z.string().min(1).optional(),
  STRIPE_API_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  STRIPE_API_PROTOCOL: z.enum(['http', 'https']).optional(),
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(20_000),
  BILLING_CURRENCY: z.string().regex(/^[a-z]{3}$/, 'must be a lowercase ISO currency code').default('usd'),
  BILLING_GRACE_DAYS: z.coerce.number().min(0).max(90).default(7),
  BILLING_READ_ONLY_DAYS: z.coerce.number().min(0).max(365).default(14),
  BILLING_CHECKOUT_SUCCESS_URL: z.url().optional(),
  BILLING_CHECKOUT_CANCEL_URL: z.url().optional(),
  BILLING_PORTAL_RETURN_URL: z.url().optional(),
});

export type RawEnv = z.infer<typeof envSchema>;
