import { createPrivateKey, KeyObject, sign } from 'node:crypto';

/**
 * What two providers need beyond plain OpenID Connect, as GoTrue handles them:
 * - Microsoft Entra ID (azure) multi-tenant: the `common` / `organizations` / `consumers` issuer's discovery names
 *   `https://login.microsoftonline.com/{tenantid}/v2.0`, so an ID token's issuer is checked against its own `tid`.
 * - Apple: the client secret is an ES256 JWT the app signs with its key (team id, key id, .p8 private key).
 */

const AZURE_MULTI_TENANT = new Set(['common', 'organizations', 'consumers']);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an Azure issuer is a multi-tenant one (`https://login.microsoftonline.com/common/v2.0` and the like). */
export function isAzureMultiTenant(issuer: string): boolean {
  try {
    const [tenant, version, ...rest] = new URL(issuer).pathname.split('/').filter(Boolean);
    return AZURE_MULTI_TENANT.has(tenant) && version === 'v2.0' && rest.length === 0;
  } catch {
    return false;
  }
}

/**
 * Why an ID token from a multi-tenant Azure issuer is not acceptable (null when it is): its `tid` must be a tenant
 * id and its `iss` exactly `<origin>/<tid>/v2.0` of the configured issuer's origin.
 */
export function azureIssuerProblem(configuredIssuer: string, claims: Record<string, unknown>): string | null {
  if (typeof claims.tid !== 'string' || !GUID.test(claims.tid)) return 'the ID token has no tenant id (tid)';
  const expected = `${new URL(configuredIssuer).origin}/${claims.tid}/v2.0`;
  if (claims.iss !== expected) return `the ID token's issuer is not its tenant's (${expected})`;
  return null;
}

export interface AppleKey {
  clientId: string;
  teamId: string;
  keyId: string;
  /** The .p8 private key (PKCS#8 PEM, P-256). */
  privateKeyPem: string;
}

/** Apple accepts client secrets valid up to 6 months; Plinth signs short ones and renews them before they end. */
export const APPLE_SECRET_TTL_S = 3600;
const APPLE_RENEW_BEFORE_S = 300;

/** The key object of an Apple .p8 key, or null when it isn't an EC P-256 private key. */
export function appleKeyObject(pem: string): KeyObject | null {
  try {
    const key = createPrivateKey(pem);
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? key : null;
  } catch {
    return null;
  }
}

/** Apple's client secret: an ES256 JWT `{iss: team id, sub: client id, aud: https://appleid.apple.com}` signed with the key. */
export function appleClientSecret(k: AppleKey, nowS: number, ttlS = APPLE_SECRET_TTL_S): string {
  const key = appleKeyObject(k.privateKeyPem);
  if (!key) throw new Error('the Apple key is not an EC P-256 private key');
  const enc = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${enc({ alg: 'ES256', kid: k.keyId, typ: 'JWT' })}.${enc({ iss: k.teamId, iat: nowS, exp: nowS + ttlS, aud: 'https://appleid.apple.com', sub: k.clientId })}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** Apple client secrets, signed on first use and reused until shortly before they expire. */
export class AppleSecretCache {
  private readonly secrets = new Map<string, { jwt: string; exp: number }>();

  constructor(private readonly nowS: () => number) {}

  get(cacheKey: string, k: AppleKey): string {
    const now = this.nowS();
    const hit = this.secrets.get(cacheKey);
    if (hit && hit.exp - APPLE_RENEW_BEFORE_S > now) return hit.jwt;
    const jwt = appleClientSecret(k, now);
    if (this.secrets.size > 10_000) this.secrets.clear();
    this.secrets.set(cacheKey, { jwt, exp: now + APPLE_SECRET_TTL_S });
    return jwt;
  }
}
