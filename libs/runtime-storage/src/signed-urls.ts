import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { RenderOptions } from './render-options';
import { StorageException } from './storage.exception';

/** What a signed URL's token grants: one object of one bucket of one project, until `exp` (seconds). */
export interface SignedClaims {
  /** Project ref. */
  r: string;
  b: string;
  p: string;
  exp: number;
  /** Upload tokens only: single-use id and whether it may replace an existing object. */
  kind: 'download' | 'upload';
  jti?: string;
  upsert?: boolean;
  /** Download tokens for `/render/image/sign`: the transformation they were signed for (normalised options). */
  tf?: RenderOptions;
}

/**
 * Tokens of signed URLs: the claims as base64url JSON and an HMAC-SHA256 over them with a key of the project's own
 * (derived from PLINTH_SECRET and the project id, so one project's token can't be verified — or forged — with
 * another's key). A token names its project, bucket, path and kind, and is checked against the URL it comes with.
 */
export class SignedUrls {
  constructor(private readonly secret: string) {}

  sign(projectId: string, claims: Omit<SignedClaims, 'jti'>): string {
    const full: SignedClaims = claims.kind === 'upload' ? { ...claims, jti: randomUUID() } : claims;
    const body = Buffer.from(JSON.stringify(full)).toString('base64url');
    return `${body}.${this.mac(projectId, body)}`;
  }

  /** The claims of `token` if it is genuine, unexpired, and for exactly this project, bucket, path and kind; else 400. */
  verify(projectId: string, token: unknown, expect: { r: string; b: string; p: string; kind: SignedClaims['kind'] }, nowMs: number): SignedClaims {
    if (typeof token !== 'string' || token.length > 4096) throw StorageException.signature('A valid token is required');
    const [body, mac, extra] = token.split('.');
    if (!body || !mac || extra !== undefined) throw StorageException.signature();
    const want = Buffer.from(this.mac(projectId, body));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw StorageException.signature();
    let claims: SignedClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SignedClaims;
    } catch {
      throw StorageException.signature();
    }
    if (claims.r !== expect.r || claims.b !== expect.b || claims.p !== expect.p || claims.kind !== expect.kind) throw StorageException.signature();
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= nowMs) throw StorageException.signature('The signed URL has expired');
    return claims;
  }

  private mac(projectId: string, body: string): string {
    const key = createHmac('sha256', this.secret).update(`storage-signed-url:${projectId}`).digest();
    return createHmac('sha256', key).update(body).digest('base64url');
  }
}
