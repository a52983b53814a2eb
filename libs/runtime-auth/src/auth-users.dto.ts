import { z } from 'zod';

/** Go-style durations as GoTrue's `ban_duration` takes them (`24h`, `1h30m`, `90s`), or `none` to lift a ban. */
const BAN = /^(none|(\d+(\.\d+)?(ms|h|m|s))+)$/;
const metadata = z.record(z.string(), z.unknown());

/** `GET /v1/projects/:ref/auth/users`: a page of the project's end users, optionally matching `search`. */
export const listAuthUsersQuerySchema = z
  .object({
    search: z.string().trim().max(200).optional().describe('Part of an email address, or a user id'),
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    per_page: z.coerce.number().int().min(1).max(100).default(50),
  })
  .strict();
export type ListAuthUsersQuery = z.infer<typeof listAuthUsersQuerySchema>;

export const createAuthUserSchema = z
  .object({
    email: z.string().trim().email('must be an email address').max(255),
    password: z.string().min(1).max(128).optional().describe("Checked against the project's password rules"),
    email_confirm: z.boolean().optional().describe('Create the user with the address already confirmed'),
    user_metadata: metadata.optional(),
    app_metadata: metadata.optional(),
  })
  .strict();
export type CreateAuthUser = z.infer<typeof createAuthUserSchema>;

export const updateAuthUserSchema = z
  .object({
    email: z.string().trim().email('must be an email address').max(255).optional(),
    password: z.string().min(1).max(128).optional(),
    email_confirm: z.literal(true).optional().describe('Confirms the address now'),
    ban_duration: z.string().regex(BAN, 'must be a duration such as "24h" or "none"').max(40).optional()
      .describe('How long the user is banned from now (`24h`, `876000h` for good); `none` lifts a ban. A ban ends every session.'),
    user_metadata: metadata.optional().describe('Merged into the stored metadata key by key'),
    app_metadata: metadata.optional().describe('Merged into the stored metadata key by key'),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change' });
export type UpdateAuthUser = z.infer<typeof updateAuthUserSchema>;

/** An end user as the management API shows them: GoTrue's user object. */
export const authUserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    email_confirmed_at: z.string().optional(),
    last_sign_in_at: z.string().optional(),
    banned_until: z.string().optional().describe('Set while the user is banned'),
    created_at: z.string(),
    updated_at: z.string(),
    is_anonymous: z.boolean(),
    user_metadata: metadata,
    app_metadata: metadata,
    identities: z.array(z.object({ provider: z.string(), email: z.string().optional() }).passthrough()),
  })
  .passthrough();

export const authUsersPageSchema = z.object({
  users: z.array(authUserSchema),
  total: z.number().int().describe('Users matching the search, across all pages'),
  page: z.number().int(),
  per_page: z.number().int(),
});
