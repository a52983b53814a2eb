import { z } from 'zod';
import { apiTime } from '@plinth/common';
import { RULE_FIELDS, STORAGE_ACTIONS, STORAGE_RULE_ROLES } from './bucket-rules';

/** Response schema of the bucket management endpoints, for the OpenAPI document. */
export const managedBucketSchema = z.object({
  id: z.string(),
  name: z.string(),
  owner: z.string().describe('Empty for buckets created by the console or a secret key'),
  public: z.boolean().describe('Objects readable by anyone at /p/:ref/storage/v1/object/public/…'),
  type: z.literal('STANDARD'),
  file_size_limit: z.number().int().nullable().describe('Bytes; null means the plan limit only'),
  allowed_mime_types: z.array(z.string()).nullable().describe('Types such as "image/png" or "image/*"; null allows any'),
  rules: z.array(
    z.object({
      role: z.enum(STORAGE_RULE_ROLES),
      action: z.array(z.enum(STORAGE_ACTIONS)),
      where: z.partialRecord(z.enum(RULE_FIELDS), z.unknown()).optional().describe('Conditions over owner_id, path, mime_type and size ($auth.uid for the caller)'),
    }),
  ),
  created_at: apiTime,
  updated_at: apiTime,
});
