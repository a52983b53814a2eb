import { z } from 'zod';

/** The OAuth / OpenID Connect providers a project can enable. All but GitHub speak OpenID Connect. */
export const OAUTH_PROVIDERS = ['google', 'github', 'gitlab', 'azure', 'apple', 'oidc'] as const;
export type OAuthProviderName = (typeof OAUTH_PROVIDERS)[number];

/** Issuers of the well-known OIDC providers (`issuer` overrides; the generic `oidc` provider needs one). */
export const DEFAULT_ISSUERS: Partial<Record<OAuthProviderName, string>> = {
  google: 'https://accounts.google.com',
  gitlab: 'https://gitlab.com',
  azure: 'https://login.microsoftonline.com/common/v2.0',
  apple: 'https://appleid.apple.com',
};
export const DEFAULT_SCOPES: Record<OAuthProviderName, string> = {
  google: 'openid email profile',
  github: 'read:user user:email',
  gitlab: 'openid email profile',
  azure: 'openid email profile',
  apple: 'openid email name',
  oidc: 'openid email profile',
};

const base = {
  enabled: z.boolean(),
  client_id: z.string().trim().min(1).max(500).nullable(),
  /** Space-separated, added to the provider's defaults. */
  scopes: z.string().max(1000).regex(/^[\x21-\x7e ]*$/, 'printable ASCII scopes separated by spaces'),
  /** OIDC issuer (its discovery document is `<issuer>/.well-known/openid-configuration`); required for `oidc`. */
  issuer: z.url({ protocol: /^https?$/ }).max(500).nullable(),
  /**
   * Apple only: the team id and key id of the Sign in with Apple key. With both set, `client_secret` is that key
   * (the .p8 PEM) and each token request carries a client secret JWT signed with it (ES256); without them,
   * `client_secret` is a client secret JWT made elsewhere.
   */
  team_id: z.string().regex(/^[A-Z0-9]{10}$/, 'a 10-character Apple team id').nullable().optional(),
  key_id: z.string().regex(/^[A-Z0-9]{10}$/, 'a 10-character Apple key id').nullable().optional(),
};

/** A provider as stored: the client secret sealed (AES-GCM bound to project and provider), never shown. */
export const storedProviderSchema = z.object({ ...base, client_secret_enc: z.string().max(4000).nullable() }).strict();
export type StoredProvider = z.infer<typeof storedProviderSchema>;
export const storedProvidersSchema = z.partialRecord(z.enum(OAUTH_PROVIDERS), storedProviderSchema);

/** PATCH: any subset of a provider's fields; `client_secret` is write-only (omit to keep, null to remove). */
export const patchProviderSchema = z
  .object({ ...base, client_secret: z.string().min(1).max(4000).nullable() })
  .partial()
  .strict();
export const patchProvidersSchema = z.partialRecord(z.enum(OAUTH_PROVIDERS), patchProviderSchema);
export type PatchProviders = z.infer<typeof patchProvidersSchema>;

export const EMPTY_PROVIDER: StoredProvider = { enabled: false, client_id: null, scopes: '', issuer: null, client_secret_enc: null };

/** What the management API shows of a provider. */
export function providerView(p: StoredProvider) {
  const { client_secret_enc, ...rest } = p;
  return { ...rest, client_secret_set: client_secret_enc !== null };
}

/** Why an enabled provider can't work (null when it can). */
export function providerProblem(name: OAuthProviderName, p: StoredProvider): string | null {
  if (!p.enabled) return null;
  if (!p.client_id) return `providers.${name}: client_id is required to enable it`;
  if (!p.client_secret_enc) return `providers.${name}: client_secret is required to enable it`;
  if (name === 'oidc' && !p.issuer) return `providers.${name}: issuer is required`;
  return null;
}

/** Why team_id / key_id can't be as given (null when fine): Apple's only, both or neither. */
export function appleKeyProblem(name: OAuthProviderName, p: StoredProvider): string | null {
  const some = Boolean(p.team_id) || Boolean(p.key_id);
  if (name !== 'apple') return some ? `providers.${name}: team_id and key_id are for apple only` : null;
  if (some && !(p.team_id && p.key_id)) return 'providers.apple: team_id and key_id go together';
  return null;
}

export function secretContext(projectId: string, name: OAuthProviderName): string {
  return `oauth-client:${projectId}:${name}`;
}
