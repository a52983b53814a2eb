import { z } from 'zod';
import { emailSchema } from '../accounts/auth.dto';
import { ORG_ROLES } from './org.entity';

export const orgNameSchema = z.object({ name: z.string().trim().min(1).max(100) }).strict();
export const inviteSchema = z.object({ email: emailSchema, role: z.enum(ORG_ROLES) }).strict();
/** The token is the secret from the invitation email (not the invitation id). */
export const acceptInvitationSchema = z.object({ token: z.string().min(1).max(200) }).strict();
export const changeRoleSchema = z.object({ role: z.enum(ORG_ROLES) }).strict();
export const auditQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: z.string().regex(/^[0-9]{1,18}$/, 'must be an entry id').optional(),
  })
  .strict();
