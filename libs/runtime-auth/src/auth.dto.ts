import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import { z } from 'zod';
import { GoTrueCode, GoTrueException } from './gotrue.exception';

const metadata = z
  .record(z.string().max(200), z.unknown())
  .refine((v) => JSON.stringify(v).length <= 16_384, 'must be at most 16 KiB of JSON');
const password = z.string().max(1000);
const email = z.string().max(320);

/** Bodies as supabase-js sends them; unknown fields (captcha, PKCE, …) are ignored as GoTrue does. */
export const signupSchema = z.object({ email: email.optional(), phone: z.string().max(50).optional(), password: password.optional(), data: metadata.optional() });
export const passwordGrantSchema = z.object({ email: email.optional(), phone: z.string().max(50).optional(), password });
export const refreshGrantSchema = z.object({ refresh_token: z.string().min(1).max(200) });
export const updateUserSchema = z.object({
  email: email.optional(),
  password: password.optional(),
  data: metadata.optional(),
  phone: z.string().max(50).optional(),
  /** The code from `GET /reauthenticate`, when the project requires it for a password change. */
  nonce: z.string().max(20).optional(),
});
export const otpSchema = z.object({ email: email.optional(), phone: z.string().max(50).optional(), create_user: z.boolean().optional(), data: metadata.optional() });
export const VERIFY_TYPES = ['signup', 'invite', 'magiclink', 'recovery', 'email_change', 'email'] as const;
export const verifySchema = z.object({
  type: z.enum([...VERIFY_TYPES, 'sms', 'phone_change']),
  token: z.string().min(1).max(200).optional(),
  token_hash: z.string().min(1).max(200).optional(),
  email: email.optional(),
  phone: z.string().max(50).optional(),
});
export const verifyLinkSchema = z.object({ token: z.string().min(1).max(200), type: z.enum(VERIFY_TYPES), redirect_to: z.string().max(2000).optional() });
export const recoverSchema = z.object({ email });
/** `POST /resend`: email confirmations only (phone types aren't supported). */
export const resendSchema = z.object({ type: z.enum(['signup', 'email_change']), email });
export const adminUserSchema = z.object({
  email: email.optional(),
  password: password.optional(),
  email_confirm: z.boolean().optional(),
  user_metadata: metadata.optional(),
  app_metadata: metadata.optional(),
  ban_duration: z.string().max(40).optional(),
  phone: z.string().max(50).optional(),
});
export const generateLinkSchema = z.object({
  type: z.enum(['signup', 'invite', 'magiclink', 'recovery', 'email_change_current', 'email_change_new']),
  email,
  new_email: email.optional(),
  password: password.optional(),
  data: metadata.optional(),
  redirect_to: z.string().max(2000).optional(),
});
/** `POST /invite` (admin): the address and the new user's metadata; the link's redirect comes in `?redirect_to`. */
export const inviteSchema = z.object({ email, data: metadata.optional() });
export const listUsersQuerySchema = z.object({
  page: z.union([z.literal(''), z.coerce.number().int().min(1).max(1_000_000)]).optional(),
  per_page: z.union([z.literal(''), z.coerce.number().int().min(1).max(1000)]).optional(),
  // GoTrue's `sort=<column> [asc|desc]`; users sort by creation time, newest first unless told otherwise.
  sort: z
    .string()
    .regex(/^created_at(\s+(asc|desc))?$/i, 'sort by created_at, asc or desc')
    .optional(),
});
export const logoutQuerySchema = z.object({ scope: z.enum(['local', 'global', 'others']).optional() });
export const tokenQuerySchema = z.object({ grant_type: z.string().max(50).optional() });

export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw GoTrueException.validation(`${first.path.length ? first.path.join('.') : 'body'}: ${first.message}`);
}

/** JSON media types, as the body reader takes them (`application/json`, `application/*+json`). */
const JSON_MEDIA = /^application\/(?:json|[^/;\s]+\+json)\s*(?:;|$)/i;

/**
 * The JSON body validated by `schema`, GoTrue style: a body that isn't JSON (wrong content type) is a 400
 * bad_json, an invalid one a 400 validation_failed. An absent body counts as `{}`.
 */
export function gotrueBody<T extends z.ZodType>(schema: T, headers: IncomingHttpHeaders, parsed: unknown): z.infer<T> {
  const length = Number(headers['content-length'] ?? 0);
  const hasBody = length > 0 || headers['transfer-encoding'] !== undefined;
  if (hasBody && !JSON_MEDIA.test(headers['content-type'] ?? '')) {
    throw GoTrueException.badRequest(GoTrueCode.BadJson, 'Could not parse request body as JSON: content type must be application/json');
  }
  const body: unknown = parsed ?? {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw GoTrueException.badRequest(GoTrueCode.BadJson, 'Could not parse request body as JSON: expected an object');
  }
  return parseOrThrow(schema, body);
}

/** The query string (as Express's simple parser reads it: repeats become arrays) validated by `schema`, with GoTrue errors. */
export function gotrueQuery<T extends z.ZodType>(schema: T, query: string): z.infer<T> {
  return parseOrThrow(schema, { ...parseQueryString(query) });
}

const EMAIL = /^[^\s@"(),:;<>[\\\]]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** Lower-cased and validated, or a 400 email_address_invalid. */
export function normalizeEmail(raw: string): string {
  const e = raw.trim().toLowerCase();
  if (e.length > 255 || !EMAIL.test(e) || e.split('@')[0].length > 64) {
    throw GoTrueException.badRequest(GoTrueCode.EmailInvalid, 'Unable to validate email address: invalid format');
  }
  return e;
}
