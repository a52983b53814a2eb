import { z } from 'zod';
import { apiTime } from '@plinth/common';
import { TX_END } from './data-settings';

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
      values: z.array(z.string()).optional().describe('type enum: the allowed values'),
      generated: z.object({ from: z.array(z.string()), language: z.string() }).optional().describe('type tsvector: the text columns it is generated from and the text search configuration'),
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

/** Response schema of the data settings endpoints. */
export const dataSettingsSchema = z.object({
  tx_end: z.enum(TX_END).describe("PostgREST's db-tx-end: how a request's transaction ends and whether Prefer: tx= may override it"),
  aggregates: z.boolean().describe('Whether select may use aggregate functions (count(), col.sum(), …)'),
});
