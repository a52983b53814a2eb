import { z } from 'zod';
import { apiId, apiTime } from '@plinth/common';

/** Response schemas of the project and API-key endpoints, for the OpenAPI document. */
export const projectSchema = z.object({
  id: apiId,
  ref: z.string().describe('The project reference, in its tenant URLs /p/<ref>/…'),
  org_id: apiId,
  name: z.string(),
  status: z.enum(['active', 'deleted']),
  cluster: z.string().describe('The database cluster the project lives on'),
  endpoint: z.url().describe('Base URL for supabase-js: createClient(endpoint, key)'),
  created_at: apiTime,
});
export const createdProjectSchema = projectSchema.extend({
  keys: z.object({ publishable: z.string(), secret: z.string() }).describe('The two default keys, shown only in this answer'),
});

export const apiKeySchema = z.object({
  id: apiId,
  type: z.enum(['publishable', 'secret', 'restricted']),
  name: z.string(),
  last4: z.string(),
  display: z.string().describe('Prefix and last four characters, for recognising the key'),
  scopes: z.array(z.string()).nullable(),
  tables: z.array(z.string()).nullable(),
  buckets: z.array(z.string()).nullable(),
  read_only: z.boolean(),
  allowed_origins: z.array(z.string()).nullable(),
  allowed_ips: z.array(z.string()).nullable(),
  allow_browser: z.boolean(),
  expires_at: apiTime.nullable(),
  revoked_at: apiTime.nullable(),
  rotated_from: apiId.nullable(),
  created_at: apiTime,
  last_used_at: apiTime.nullable(),
});
export const createdApiKeySchema = apiKeySchema.extend({ key: z.string().describe('The key itself, shown only in this answer') });
export const rotatedApiKeySchema = createdApiKeySchema.extend({ previous: apiKeySchema.describe('The old key, valid until its expires_at') });
