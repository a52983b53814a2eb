import { z } from 'zod';
import { patchProvidersSchema, storedProvidersSchema } from './oauth-providers';
import { parseRedirectPattern } from './redirect-allow-list';

const template = z.object({ subject: z.string().trim().min(1).max(200), html: z.string().min(1).max(20_000) }).strict();
/**
 * A redirect allow-list entry: `scheme://host[:port][/path][?query]`, where `*` stays within a host label or path
 * segment and `**` spans them (see redirect-allow-list.ts).
 */
const redirectPattern = z
  .string()
  .max(500)
  .refine((v) => parseRedirectPattern(v) !== null, 'must be an absolute URL scheme://host[:port][/path] (globs * and ** allowed; no credentials, fragment or backslash)');

export const rateLimitsSchema = z
  .object({
    /** Password sign-ins and sign-ups per IP per 5 minutes. */
    sign_in_per_ip: z.number().int().min(1).max(100_000),
    /** Password attempts per account per 5 minutes. */
    password_per_account: z.number().int().min(1).max(10_000),
    /** Refresh-token exchanges per IP per 5 minutes. */
    token_refresh_per_ip: z.number().int().min(1).max(100_000),
    /** Code / link verifications per IP per 5 minutes. */
    verify_per_ip: z.number().int().min(1).max(100_000),
    /** Emails sent by the project per hour (spent only on mails actually sent). */
    emails_per_hour: z.number().int().min(1).max(100_000),
    /** Requests that may send an email (`/otp`, `/recover`, sign-ups, email changes) per IP per hour, checked before the address is looked up. */
    email_requests_per_ip: z.number().int().min(1).max(100_000),
    /** Seconds before another email may go to the same address. */
    email_interval_seconds: z.number().int().min(0).max(3600),
    /** Anonymous sign-ins per IP per hour. */
    anonymous_per_ip_per_hour: z.number().int().min(1).max(100_000),
  })
  .strict();

export const smtpSchema = z
  .object({
    host: z.string().trim().min(1).max(253),
    port: z.number().int().min(1).max(65535),
    user: z.string().max(200).optional(),
    /** Write-only: stored encrypted, never returned. Omit on update to keep the stored one. */
    pass: z.string().max(500).optional(),
    secure: z.boolean().default(false),
    sender_email: z.email().max(255),
    sender_name: z.string().trim().max(100).optional(),
  })
  .strict();

export const templatesSchema = z
  .object({ confirmation: template, magic_link: template, recovery: template, email_change: template, invite: template, reauthentication: template })
  .partial()
  .strict();

/** A project's auth settings (`GET/PATCH /v1/projects/:ref/auth/config`). */
export const authSettingsSchema = z
  .object({
    signup_enabled: z.boolean(),
    email_confirm_required: z.boolean(),
    anonymous_sign_ins: z.boolean(),
    password_min_length: z.number().int().min(6).max(128),
    password_required_characters: z.enum(['none', 'letters_digits', 'lower_upper_digits', 'lower_upper_digits_symbols']),
    access_token_ttl_seconds: z.number().int().min(60).max(86_400),
    site_url: z.url().max(500).nullable(),
    redirect_urls: z.array(redirectPattern).max(100),
    otp_ttl_seconds: z.number().int().min(60).max(86_400),
    /** GoTrue's REFRESH_TOKEN_REUSE_INTERVAL: a spent refresh token replayed this soon gets the token it was exchanged for (two tabs refreshing at once); later, the session is revoked. 0 = never. */
    refresh_token_reuse_interval_seconds: z.number().int().min(0).max(3600),
    /** GoTrue's SECURITY_UPDATE_PASSWORD_REQUIRE_REAUTHENTICATION (`secure_password_change`): `PUT /user` with a password needs the nonce from `GET /reauthenticate` unless the session is under 24 h old. */
    update_password_require_reauthentication: z.boolean(),
    smtp: smtpSchema.nullable(),
    templates: templatesSchema,
    rate_limits: rateLimitsSchema,
    /** OAuth / OIDC providers (see oauth-providers.ts); client secrets stored sealed. */
    providers: storedProvidersSchema,
    /**
     * A provider sign-in whose email belongs to an existing user links to that user only when the provider says
     * the email is verified and this is on; otherwise it is refused (422 email_exists), never merged silently.
     */
    link_verified_provider_emails: z.boolean(),
    /**
     * GoTrue's SECURITY_MANUAL_LINKING_ENABLED: `linkIdentity` / `unlinkIdentity` (`/user/identities/*`) work only
     * when this is on (otherwise 404 manual_linking_disabled). Off by default, as in GoTrue.
     */
    manual_linking_enabled: z.boolean(),
  })
  .strict();
export type AuthSettings = z.infer<typeof authSettingsSchema>;

/** PATCH body: any subset; `rate_limits` and `templates` merge field by field; `smtp: null` removes it. */
export const patchAuthSettingsSchema = authSettingsSchema
  .extend({ rate_limits: rateLimitsSchema.partial(), smtp: smtpSchema.nullable(), providers: patchProvidersSchema })
  .partial()
  .strict();
export type PatchAuthSettings = z.infer<typeof patchAuthSettingsSchema>;

export const DEFAULT_RATE_LIMITS: AuthSettings['rate_limits'] = {
  sign_in_per_ip: 30,
  password_per_account: 10,
  token_refresh_per_ip: 150,
  verify_per_ip: 30,
  emails_per_hour: 30,
  email_requests_per_ip: 30,
  email_interval_seconds: 60,
  anonymous_per_ip_per_hour: 30,
};

/** Defaults follow GoTrue's hosted defaults: email confirmation on, anonymous sign-ins off, 1 h access tokens. */
export function defaultAuthSettings(): AuthSettings {
  return {
    signup_enabled: true,
    email_confirm_required: true,
    anonymous_sign_ins: false,
    password_min_length: 8,
    password_required_characters: 'none',
    access_token_ttl_seconds: 3600,
    site_url: null,
    redirect_urls: [],
    otp_ttl_seconds: 3600,
    refresh_token_reuse_interval_seconds: 10,
    update_password_require_reauthentication: false,
    smtp: null,
    templates: {},
    rate_limits: { ...DEFAULT_RATE_LIMITS },
    providers: {},
    link_verified_provider_emails: true,
    manual_linking_enabled: false,
  };
}
