import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { envSchema } from './config.schema';

/** Typed, validated configuration. Built once at boot by {@link loadConfig}; nothing else reads the environment. */
export interface PlinthConfig {
  env: 'development' | 'test' | 'production';
  http: {
    host: string;
    port: number;
    publicUrl: string;
    bodyLimitBytes: number;
    trustProxy: boolean;
    /** How long a client may take to send a request's headers, and the whole request (Node's `server.*Timeout`). */
    headersTimeoutMs: number;
    requestTimeoutMs: number;
  };
  log: { level: string };
  /** The console (single-page app) served at `/`: the folder of its built files (absolute). */
  console: { dir: string };
  database: {
    /** External Postgres, or undefined for the embedded default. */
    url: string | undefined;
    /** How long start-up waits for an external Postgres that isn't reachable yet. */
    connectWaitMs: number;
    /** The default cluster's name: it lives on the control database (DATABASE_URL). */
    clusterName: string;
    /** Further clusters by name (URL); the default cluster isn't listed (its URL is the control database's). */
    clusters: Record<string, string>;
    /** How new projects are placed, and orgs pinned to a cluster. */
    placement: { policy: 'fewest-projects' | 'least-bytes'; orgPins: Record<string, string> };
    poolMax: number;
    tenantPoolMax: number;
    tenantPoolMaxUses: number;
    /** Prepared statements kept per tenant connection (least recently used go first); 0 = none. */
    tenantStatementCache: number;
    /**
     * Per-project fairness on each tenant pool: at most `maxShare` connections per project; beyond that up to `queue`
     * requests of the project wait (FIFO) at most `queueWaitMs`, others are refused with 429.
     */
    tenantProject: { maxShare: number; queue: number; queueWaitMs: number };
    embedded: { dir: string; port: number };
  };
  /** Redis (BullMQ queues, shared rate limits); undefined = embedded default (in-process jobs, in-memory limits). */
  redis: { url: string | undefined; prefix: string };
  jobs: { pollMs: number; concurrency: number; maxAttempts: number; backoffMs: number; leaseMs: number };
  metering: { enabled: boolean; flushMs: number; quotaRefreshMs: number };
  rateLimits: { enabled: boolean; leaseMax: number };
  /**
   * Connections to customer-chosen hosts (webhook URLs, project SMTP servers) may reach non-public addresses
   * (default: everywhere but production).
   */
  outbound: { allowPrivate: boolean };
  /** Data runtime: statement timeout and row cap per request; catalog limits when the plan sets none. */
  data: { statementTimeoutMs: number; maxRows: number; maxTablesPerProject: number; maxColumnsPerTable: number };
  /**
   * Storage runtime: where object bytes go. `s3` null = local disk under `dir`; otherwise an S3-compatible store.
   * `maxUploadBytes` applies when the plan sets no `max_upload_bytes`.
   */
  storage: {
    dir: string;
    maxUploadBytes: number;
    s3: { endpoint: string | undefined; region: string; bucket: string; accessKeyId: string | undefined; secretAccessKey: string | undefined; forcePathStyle: boolean } | null;
  };
  /**
   * Functions runtime: runner processes (`runners`, at least 1), warm isolates per runner, per-invocation defaults
   * (`memoryMb`, `timeoutMs`, `cpuMs`) and ceilings (`maxMemoryMb`; plans cap lower), per-project concurrency, and the
   * source, response, fetch and log bounds.
   */
  functions: {
    runners: number;
    isolatesPerRunner: number;
    /** Total heap of a runner's warm isolates, in bytes. */
    isolatesHeapBytes: number;
    memoryMb: number;
    maxMemoryMb: number;
    timeoutMs: number;
    cpuMs: number;
    concurrency: number;
    maxSourceBytes: number;
    maxResponseBytes: number;
    /** Largest request body a function call may carry (enforced while it streams in). */
    maxRequestBytes: number;
    fetchTimeoutMs: number;
    fetchMaxBytes: number;
    logRetentionMs: number;
  };
  /** The platform mailer: SMTP URL (undefined = write mail to the log) and default sender. */
  mail: { smtpUrl: string | undefined; from: string };
  /** Notifications runtime: a webhook attempt's timeout and kept response excerpt; the inbox stream's heartbeat. */
  notifications: { webhookTimeoutMs: number; webhookResponseBytes: number; sseHeartbeatMs: number };
  /**
   * Billing: currency, delinquency timeline (grace, then read-only, then suspended), console return URLs, and
   * Stripe (null = ledger-only mode).
   */
  billing: {
    currency: string;
    graceDays: number;
    readOnlyDays: number;
    urls: { checkoutSuccess: string; checkoutCancel: string; portalReturn: string };
    stripe: { secretKey: string; webhookSecret: string | undefined; host?: string; port?: number; protocol?: 'http' | 'https'; timeoutMs: number } | null;
  };
  secret: string;
  tokens: { accessTtlSeconds: number; refreshTtlSeconds: number };
  keys: { cacheTtlMs: number };
  /** Bearer token of the operator routes (`/v1/admin/…`); undefined = those routes answer 404. */
  operatorToken: string | undefined;
}

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

/**
 * Validates the whole environment at once and throws a {@link ConfigValidationError} that lists every
 * problem. Outside production a missing PLINTH_SECRET is generated once and kept in PLINTH_SECRET_FILE,
 * so the embedded default needs no setup and survives restarts.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): PlinthConfig {
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(input);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join('.') || '(environment)';
      const value = env[name];
      problems.push(`${name}: ${issue.message}${value === undefined ? '' : ` (got "${redact(name, value)}")`}`);
    }
  }
  if (parsed.success && parsed.data.NODE_ENV === 'production') {
    if (!parsed.data.PLINTH_SECRET) problems.push('PLINTH_SECRET: required when NODE_ENV=production');
    if (!parsed.data.DATABASE_URL) problems.push('DATABASE_URL: required when NODE_ENV=production');
  }
  if (parsed.success && parsed.data.HTTP_HEADERS_TIMEOUT_MS > parsed.data.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push('HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (headers are part of the request)');
  }
  // The old name is an alias; two different answers can't both be meant, so neither wins silently.
  if (parsed.success && parsed.data.OUTBOUND_ALLOW_PRIVATE !== undefined && parsed.data.WEBHOOK_ALLOW_PRIVATE !== undefined && parsed.data.OUTBOUND_ALLOW_PRIVATE !== parsed.data.WEBHOOK_ALLOW_PRIVATE) {
    problems.push('WEBHOOK_ALLOW_PRIVATE: is the old name of OUTBOUND_ALLOW_PRIVATE and disagrees with it; set only OUTBOUND_ALLOW_PRIVATE');
  }
  const clusters = parsed.success ? pairs('DATABASE_CLUSTERS', parsed.data.DATABASE_CLUSTERS, problems) : {};
  const orgPins = parsed.success ? pairs('DATABASE_ORG_PINS', parsed.data.DATABASE_ORG_PINS, problems) : {};
  if (parsed.success) {
    const e = parsed.data;
    for (const [name, url] of Object.entries(clusters)) {
      if (!CLUSTER_NAME.test(name)) problems.push(`DATABASE_CLUSTERS: "${name}" must be a short lowercase name`);
      if (name === e.DATABASE_CLUSTER_NAME) problems.push(`DATABASE_CLUSTERS: "${name}" is the default cluster (DATABASE_CLUSTER_NAME), which is DATABASE_URL`);
      if (!/^postgres(ql)?:\/\/[^/]+\/[^/?]+/.test(url)) problems.push(`DATABASE_CLUSTERS: cluster "${name}" needs a postgres:// URL with a database (got "${redact('DATABASE_URL', url)}")`);
    }
    if (Object.keys(clusters).length > 0 && !e.DATABASE_URL) problems.push('DATABASE_CLUSTERS: needs DATABASE_URL (the control plane and default cluster)');
    for (const [org, cluster] of Object.entries(orgPins)) {
      if (!/^[0-9a-f-]{36}$/i.test(org)) problems.push(`DATABASE_ORG_PINS: "${org}" is not an org id`);
      if (cluster !== e.DATABASE_CLUSTER_NAME && clusters[cluster] === undefined) problems.push(`DATABASE_ORG_PINS: cluster "${cluster}" is not configured`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigValidationError(problems);
  const e = parsed.data;
  const publicHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? 'localhost' : e.HOST;
  return {
    env: e.NODE_ENV,
    http: {
      host: e.HOST,
      port: e.PORT,
      publicUrl: (e.PUBLIC_URL ?? `http://${publicHost}:${e.PORT}`).replace(/\/+$/, ''),
      bodyLimitBytes: e.BODY_LIMIT_BYTES,
      trustProxy: e.TRUST_PROXY,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
    },
    log: { level: e.LOG_LEVEL },
    console: { dir: resolve(e.CONSOLE_DIR) },
    database: {
      url: e.DATABASE_URL,
      connectWaitMs: e.DATABASE_CONNECT_WAIT_MS,
      clusterName: e.DATABASE_CLUSTER_NAME,
      clusters,
      placement: { policy: e.DATABASE_PLACEMENT, orgPins },
      poolMax: e.DATABASE_POOL_MAX,
      tenantPoolMax: e.TENANT_POOL_MAX,
      tenantPoolMaxUses: e.TENANT_POOL_MAX_USES,
      tenantStatementCache: e.TENANT_STATEMENT_CACHE,
      tenantProject: {
        maxShare: Math.min(e.TENANT_PROJECT_MAX_SHARE ?? Math.max(1, Math.floor(e.TENANT_POOL_MAX / 3)), e.TENANT_POOL_MAX),
        queue: e.TENANT_PROJECT_QUEUE,
        queueWaitMs: e.TENANT_PROJECT_QUEUE_WAIT_MS,
      },
      embedded: { dir: resolve(e.EMBEDDED_PG_DIR), port: e.EMBEDDED_PG_PORT },
    },
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX },
    jobs: {
      pollMs: e.JOBS_POLL_MS,
      concurrency: e.JOBS_CONCURRENCY,
      maxAttempts: e.JOBS_MAX_ATTEMPTS,
      backoffMs: e.JOBS_BACKOFF_MS,
      leaseMs: e.JOBS_LEASE_MS,
    },
    metering: { enabled: e.METERING_ENABLED, flushMs: e.METERING_FLUSH_MS, quotaRefreshMs: e.QUOTA_REFRESH_MS },
    rateLimits: { enabled: e.RATE_LIMITS_ENABLED, leaseMax: e.RATE_LIMIT_LEASE_MAX },
    outbound: { allowPrivate: e.OUTBOUND_ALLOW_PRIVATE ?? e.WEBHOOK_ALLOW_PRIVATE ?? e.NODE_ENV !== 'production' },
    data: {
      statementTimeoutMs: e.DATA_STATEMENT_TIMEOUT_MS,
      maxRows: e.DATA_MAX_ROWS,
      maxTablesPerProject: e.DATA_MAX_TABLES_PER_PROJECT,
      maxColumnsPerTable: e.DATA_MAX_COLUMNS_PER_TABLE,
    },
    storage: {
      dir: resolve(e.STORAGE_DIR),
      maxUploadBytes: e.STORAGE_MAX_UPLOAD_BYTES,
      s3: e.STORAGE_S3_BUCKET
        ? {
            endpoint: e.STORAGE_S3_ENDPOINT,
            region: e.STORAGE_S3_REGION,
            bucket: e.STORAGE_S3_BUCKET,
            accessKeyId: e.STORAGE_S3_ACCESS_KEY_ID,
            secretAccessKey: e.STORAGE_S3_SECRET_ACCESS_KEY,
            forcePathStyle: e.STORAGE_S3_FORCE_PATH_STYLE,
          }
        : null,
    },
    functions: {
      runners: e.FUNCTION_RUNNERS || Math.max(1, availableParallelism()),
      isolatesPerRunner: e.FUNCTION_ISOLATES_PER_RUNNER,
      isolatesHeapBytes: e.FUNCTION_ISOLATES_HEAP_MB * 1024 * 1024,
      memoryMb: Math.min(e.FUNCTION_MEMORY_MB, e.FUNCTION_MAX_MEMORY_MB),
      maxMemoryMb: e.FUNCTION_MAX_MEMORY_MB,
      timeoutMs: e.FUNCTION_TIMEOUT_MS,
      cpuMs: e.FUNCTION_CPU_MS,
      concurrency: e.FUNCTION_CONCURRENCY,
      maxSourceBytes: e.FUNCTION_MAX_SOURCE_BYTES,
      maxResponseBytes: e.FUNCTION_MAX_RESPONSE_BYTES,
      maxRequestBytes: e.FUNCTION_MAX_REQUEST_BYTES,
      fetchTimeoutMs: e.FUNCTION_FETCH_TIMEOUT_MS,
      fetchMaxBytes: e.FUNCTION_FETCH_MAX_BYTES,
      logRetentionMs: Math.round(e.FUNCTION_LOG_RETENTION_HOURS * 3_600_000),
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.SMTP_FROM },
    notifications: {
      webhookTimeoutMs: e.NOTIFICATIONS_WEBHOOK_TIMEOUT_MS,
      webhookResponseBytes: e.NOTIFICATIONS_WEBHOOK_RESPONSE_BYTES,
      sseHeartbeatMs: e.NOTIFICATIONS_SSE_HEARTBEAT_MS,
    },
    billing: {
      currency: e.BILLING_CURRENCY,
      graceDays: e.BILLING_GRACE_DAYS,
      readOnlyDays: e.BILLING_READ_ONLY_DAYS,
      urls: {
        checkoutSuccess: e.BILLING_CHECKOUT_SUCCESS_URL ?? `${(e.PUBLIC_URL ?? `http://${publicHost}:${e.PORT}`).replace(/\/+$/, '')}/billing?checkout=success`,
        checkoutCancel: e.BILLING_CHECKOUT_CANCEL_URL ?? `${(e.PUBLIC_URL ?? `http://${publicHost}:${e.PORT}`).replace(/\/+$/, '')}/billing?checkout=cancel`,
        portalReturn: e.BILLING_PORTAL_RETURN_URL ?? `${(e.PUBLIC_URL ?? `http://${publicHost}:${e.PORT}`).replace(/\/+$/, '')}/billing`,
      },
      stripe: e.STRIPE_SECRET_KEY
        ? {
            secretKey: e.STRIPE_SECRET_KEY,
            webhookSecret: e.STRIPE_WEBHOOK_SECRET,
            host: e.STRIPE_API_HOST,
            port: e.STRIPE_API_PORT,
            protocol: e.STRIPE_API_PROTOCOL,
            timeoutMs: e.STRIPE_TIMEOUT_MS,
          }
        : null,
    },
    secret: e.PLINTH_SECRET ?? localSecret(resolve(e.PLINTH_SECRET_FILE)),
    tokens: { accessTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS, refreshTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS },
    keys: { cacheTtlMs: e.KEY_CACHE_TTL_MS },
    operatorToken: e.OPERATOR_TOKEN,
  };
}

/** {@link loadConfig} for process entry points: on invalid configuration, print every problem and exit 1. */
export function loadConfigOrExit(): PlinthConfig {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigValidationError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}

const CLUSTER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** `a=b, c=d` into { a: 'b', c: 'd' }; a malformed or repeated entry is a problem. */
function pairs(name: string, raw: string | undefined, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of (raw ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = entry.indexOf('=');
    const key = entry.slice(0, i).trim();
    if (i <= 0 || !entry.slice(i + 1).trim()) problems.push(`${name}: "${redact('DATABASE_URL', entry)}" is not name=value`);
    else if (out[key] !== undefined) problems.push(`${name}: "${key}" is given twice`);
    else out[key] = entry.slice(i + 1).trim();
  }
  return out;
}

function localSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

function redact(name: string, value: string): string {
  if (/SECRET|PASSWORD|TOKEN/.test(name)) return '***';
  if (/_URL$/.test(name)) return value.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
