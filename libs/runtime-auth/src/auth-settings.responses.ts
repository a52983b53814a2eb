import { z } from 'zod';
import { authSettingsSchema, smtpSchema } from './auth-config.dto';

/** Response schemas of the project auth settings endpoints, for the OpenAPI document. */
export const authSettingsViewSchema = authSettingsSchema.extend({
  smtp: smtpSchema
    .omit({ pass: true })
    .extend({ pass_set: z.boolean().describe('Whether a password is stored (it is never shown)') })
    .nullable(),
});
export const rotatedSigningKeySchema = z.object({ kid: z.string(), previous_kid: z.string().nullable() });
