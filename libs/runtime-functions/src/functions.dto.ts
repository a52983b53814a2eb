import { z } from 'zod';
import { parseCron } from './cron';

/** Function names: what a URL segment can carry plainly; `secrets` is the secrets API's. */
export const functionNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, 'must start with a letter and hold only letters, digits, _ and - (at most 63)')
  .refine((n) => n !== 'secrets', '"secrets" is reserved');

export const deployFunctionSchema = z
  .object({
    source: z.string().min(1).max(50_000_000),
    language: z.enum(['js', 'ts']).default('ts'),
    verify_jwt: z.boolean().default(true),
    service_role: z.boolean().default(false),
    rpc: z.boolean().default(false),
    rpc_read_only: z.boolean().default(false),
    memory_mb: z.number().int().min(8).max(4096).optional(),
    timeout_ms: z.number().int().min(100).max(900_000).optional(),
    cron: z
      .string()
      .max(100)
      .nullable()
      .optional()
      .refine(
        (c) => {
          if (c === null || c === undefined) return true;
          try {
            parseCron(c);
            return true;
          } catch {
            return false;
          }
        },
        { message: 'must be a 5-field cron expression (minute hour day-of-month month day-of-week, UTC)' },
      ),
  })
  .strict();
export type DeployFunctionInput = z.infer<typeof deployFunctionSchema>;

export const rollbackSchema = z.object({ version: z.number().int().min(1) }).strict();
export type RollbackInput = z.infer<typeof rollbackSchema>;

const secretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'secret names are letters, digits and _');
export const putSecretsSchema = z
  .record(secretName, z.string().max(64 * 1024))
  .refine((r) => Object.keys(r).length > 0 && Object.keys(r).length <= 100, 'between 1 and 100 secrets at once');
export type PutSecretsInput = z.infer<typeof putSecretsSchema>;

export const logsQuerySchema = z.object({
  since: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  level: z.enum(['log', 'info', 'debug', 'warn', 'error']).optional(),
  request_id: z.string().max(200).optional(),
});
export type LogsQuery = z.infer<typeof logsQuerySchema>;
