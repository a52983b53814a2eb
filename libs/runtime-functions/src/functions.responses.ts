import { z } from 'zod';
import { apiTime } from '@plinth/common';

/** Response schemas of the function management endpoints, for the OpenAPI document. */
export const functionSettingsSchema = z.object({
  verify_jwt: z.boolean().describe("Callers need a signed-in end user's access token (or the secret key); others get 401"),
  service_role: z.boolean().describe('env.db acts as the service role (every table, no rules) instead of the caller'),
  rpc: z.boolean().describe('Also reachable as supabase.rpc(name, args) (POST)'),
  rpc_read_only: z.boolean().describe('As rpc, and GET too'),
  memory_mb: z.number().int(),
  timeout_ms: z.number().int(),
  cron: z.string().nullable().describe('5-field cron expression (UTC) it runs on, or null'),
});

const language = z.enum(['js', 'ts']);

export const functionSchema = z.object({
  name: z.string(),
  version: z.number().int().describe('The current version'),
  language,
  settings: functionSettingsSchema,
  created_at: apiTime,
  updated_at: apiTime,
});

export const functionWithSourceSchema = functionSchema.extend({ source: z.string().describe("The current version's source as deployed") });

export const functionVersionSchema = z.object({
  version: z.number().int(),
  current: z.boolean(),
  language,
  settings: functionSettingsSchema,
  created_at: apiTime,
});

/** A secret by name only: values are sealed and never come back out of the API. */
export const functionSecretSchema = z.object({ name: z.string(), updated_at: apiTime });

export const functionLogSchema = z.object({
  request_id: z.string(),
  version: z.number().int(),
  level: z.enum(['log', 'warn', 'error']).describe("The invocation's worst level: error if it failed or logged an error, warn if it logged a warning"),
  status: z.number().int().describe('HTTP status it answered'),
  duration_ms: z.number().int(),
  cpu_ms: z.number().int(),
  memory_mb: z.number().int(),
  error: z.string().nullable(),
  timestamp: apiTime,
  lines: z.array(z.object({ timestamp: apiTime, level: z.string().describe('log, info, debug, warn or error'), message: z.string() })),
});
