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
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
  TENANT_POOL_MAX: z.coerce.number().int().min(1).max(500).default(10),
  TENANT_POOL_MAX_USES: z.coerce.number().int().min(0).default(5000),
  EMBEDDED_PG_DIR: z.string().min(1).default('.plinth/pg'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54320),
  REDIS_URL: z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL')
    .optional(),
  PLINTH_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  PLINTH_SECRET_FILE: z.string().min(1).default('.plinth/secret'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86400).default(900),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().min(300).default(30 * 86400),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
  KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(5000).default(5000),
  TRUST_PROXY: bool.default(false),
});

export type RawEnv = z.infer<typeof envSchema>;
