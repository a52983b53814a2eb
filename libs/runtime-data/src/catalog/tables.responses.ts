import { z } from 'zod';
import { apiTime } from '@plinth/common';

/** Response schema of the table catalog endpoints, for the OpenAPI document. */
export const tableSchema = z.object({
  name: z.string(),
  columns: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      nullable: z.boolean(),
      default: z.unknown().optional().describe('"now()", "gen_random_uuid()", "auth.uid", "identity", or a literal value ({"value": …} for objects and reserved words)'),
      primary_key: z.boolean(),
      unique: z.boolean(),
      references: z.object({ table: z.string(), column: z.string(), on_delete: z.string() }).optional(),
    }),
  ),
  indexes: z.array(z.object({ name: z.string(), columns: z.array(z.string()), unique: z.boolean() })),
  primary_key: z.array(z.string()),
  rules: z.array(
    z.object({
      role: z.enum(['anon', 'authenticated']),
      action: z.array(z.enum(['read', 'create', 'update', 'delete'])),
      where: z.record(z.string(), z.unknown()).optional().describe('Conditions in CASL query language over columns ($auth.uid for the caller)'),
      columns: z.array(z.string()).optional(),
    }),
  ),
  created_at: apiTime,
  updated_at: apiTime,
});
