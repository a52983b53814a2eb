import { z } from 'zod';
import { apiId, apiTime } from '@plinth/common';

/** Response schemas of the account endpoints, for the OpenAPI document. */
export const accountSchema = z.object({
  id: apiId,
  email: z.email(),
  name: z.string().nullable(),
  email_verified: z.boolean(),
  email_verified_at: apiTime.nullable(),
  created_at: apiTime,
});

const tokens = {
  access_token: z.string().describe('Console access token (JWT), sent as Authorization: Bearer'),
  token_type: z.literal('bearer'),
  expires_in: z.number().int().describe('Seconds until the access token expires'),
  refresh_token: z.string().describe('Single use: POST /v1/auth/refresh exchanges it for a new pair'),
};
export const refreshedSessionSchema = z.object(tokens);
export const sessionSchema = z.object({ ...tokens, user: accountSchema });
export const signupResultSchema = sessionSchema.extend({ org: z.object({ id: apiId, name: z.string() }).describe('The personal organization created with the account') });
export const verifiedSchema = z.object({ email: z.email(), email_verified: z.literal(true) });
export const messageSchema = z.object({ message: z.string() });

export const personalTokenSchema = z.object({
  id: apiId,
  name: z.string(),
  last4: z.string(),
  created_at: apiTime,
  expires_at: apiTime.nullable(),
  last_used_at: apiTime.nullable(),
});
export const createdPersonalTokenSchema = personalTokenSchema.extend({ token: z.string().describe('The token itself, shown only in this answer') });
