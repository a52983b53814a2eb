import { z } from 'zod';
import { apiId, apiTime } from '@plinth/common';

const role = z.enum(['owner', 'admin', 'developer', 'billing', 'viewer']);

/** Response schemas of the organization endpoints, for the OpenAPI document. */
export const orgSchema = z.object({ id: apiId, name: z.string(), personal: z.boolean(), role: role.describe("The caller's role in it"), created_at: apiTime });
export const memberSchema = z.object({ user_id: apiId, email: z.email(), name: z.string().nullable(), role, joined_at: apiTime });
export const invitationSchema = z.object({ id: apiId, org_id: apiId, email: z.email(), role, created_at: apiTime, expires_at: apiTime });
export const myInvitationSchema = invitationSchema.extend({ org_name: z.string() });
export const auditLogSchema = z.object({
  entries: z.array(
    z.object({
      id: z.string().describe('Entry id; pass as `before` to page back'),
      action: z.string(),
      actor: z.object({ type: z.string(), id: z.string().nullable() }),
      target: z.object({ type: z.string().nullable(), id: z.string().nullable() }),
      ip: z.string().nullable(),
      user_agent: z.string().nullable(),
      request_id: z.string().nullable(),
      details: z.record(z.string(), z.unknown()).nullable(),
      created_at: apiTime,
    }),
  ),
  next_before: z.string().nullable().describe('Cursor for the next (older) page, null at the end'),
});
