import { Inject, Injectable } from '@nestjs/common';
import { sign as ecdsaSign } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import type { EndUser, EndUserTokenVerifier, TenantProject } from '@plinth/gateway';
import { AuthRepository } from './auth.repository';
import { appMetadata, UserRow } from './auth-user.view';
import { SigningKeysService } from './signing-keys.service';

const SESSION_CACHE_MS = 5000;
/** amr methods that are a second factor. */
const AAL2_METHODS = new Set(['totp']);
const MAX_CACHED = 50_000;

export interface AccessTokenInput {
  user: UserRow;
  sessionId: string;
  amr: Array<{ method: string; timestamp: number }>;
  ttlSeconds: number;
}

/**
 * Access tokens: ES256 JWTs signed with the project's key, GoTrue's claims. Verification (for the gateway and
 * the auth endpoints) accepts only ES256 with a kid of this project's JWKS, checks `exp`, `aud`, `iss`, and that
 * the session still exists (cached for a few seconds; revoked at once on this instance).
 */
@Injectable()
export class AuthTokensService implements EndUserTokenVerifier {
  private readonly sessions = new Map<string, { active: boolean; until: number }>();
  private readonly verified = new Map<string, { user: EndUser; exp: number; projectId: string }>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly keys: SigningKeysService,
    private readonly repo: AuthRepository,
  ) {}

  issuer(ref: string): string {
    return `${this.config.http.publicUrl}/p/${ref}/auth/v1`;
  }

  async sign(project: TenantProject, input: AccessTokenInput): Promise<{ token: string; expiresAt: number }> {
    const { kid, privateKey } = await this.keys.signingKey(project.id);
    const now = Math.floor(Date.now() / 1000);
    const exp = now + input.ttlSeconds;
    const u = input.user;
    const claims = {
      aud: 'authenticated',
      role: 'authenticated',
      email: u.email ?? '',
      phone: '',
      app_metadata: appMetadata(u),
      user_metadata: u.user_metadata ?? {},
      // aal2 once the session has a second factor in its amr (GoTrue's CalculateAALAndAMR).
      aal: input.amr.some((e) => AAL2_METHODS.has(e.method)) ? 'aal2' : 'aal1',
      // Only GoTrue's claim fields: a session's amr entries also record which factor raised it (for unenroll).
      amr: input.amr.map((e) => ({ method: e.method, timestamp: e.timestamp })),
      session_id: input.sessionId,
      is_anonymous: u.is_anonymous,
      sub: u.id,
      iss: this.issuer(project.ref),
      iat: now,
      exp,
    };
    // Compact JWS by hand with node:crypto's one-shot ECDSA (R‖S, RFC 7518 §3.4): half the CPU of WebCrypto's
    // sign, which also queues on libuv's thread pool behind password hashes. Verification stays with jose.
    const input64 = `${base64url({ alg: 'ES256', kid, typ: 'JWT' })}.${base64url(claims)}`;
    const signature = ecdsaSign('sha256', Buffer.from(input64), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const token = `${input64}.${signature.toString('base64url')}`;
    this.sessions.set(`${project.id}:${input.sessionId}`, { active: true, until: Date.now() + SESSION_CACHE_MS });
    return { token, expiresAt: exp };
  }

  /** The gateway's hook: the end user of a valid access token of this project, or null. */
  async verify(project: TenantProject, token: string): Promise<EndUser | null> {
    const nowS = Date.now() / 1000;
    const cached = this.verified.get(token);
    if (cached && cached.projectId === project.id && cached.exp > nowS) {
      return (await this.isSessionActive(project, String(cached.user.claims.session_id))) ? cached.user : null;
    }
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return null;
    }
    if (header.alg !== 'ES256' || typeof header.kid !== 'string' || header.kid.length > 64) return null;
    const key = await this.keys.publicKey(project.id, header.kid);
    if (!key) return null;
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, key, {
        algorithms: ['ES256'],
        audience: 'authenticated',
        issuer: this.issuer(project.ref),
        requiredClaims: ['exp', 'sub', 'session_id'],
      }));
    } catch {
      return null;
    }
    if (typeof claims.sub !== 'string' || typeof claims.session_id !== 'string' || typeof claims.exp !== 'number') return null;
    if (!(await this.isSessionActive(project, claims.session_id))) return null;
    const user: EndUser = { id: claims.sub, claims };
    if (this.verified.size >= MAX_CACHED) this.verified.clear();
    this.verified.set(token, { user, exp: claims.exp, projectId: project.id });
    return user;
  }

  /** Marks sessions ended on this instance at once (others notice within the cache time). */
  forgetSessions(projectId: string, sessionIds: string[]): void {
    for (const id of sessionIds) this.sessions.set(`${projectId}:${id}`, { active: false, until: Date.now() + SESSION_CACHE_MS });
  }

  private async isSessionActive(project: TenantProject, sessionId: string): Promise<boolean> {
    const key = `${project.id}:${sessionId}`;
    const hit = this.sessions.get(key);
    if (hit && hit.until > Date.now()) return hit.active;
    if (!/^[0-9a-f-]{36}$/i.test(sessionId)) return false;
    const active = await this.repo.run(project, (t) => this.repo.sessionActive(t, sessionId));
    if (this.sessions.size >= MAX_CACHED) this.sessions.clear();
    this.sessions.set(key, { active, until: Date.now() + SESSION_CACHE_MS });
    return active;
  }
}

function base64url(json: object): string {
  return Buffer.from(JSON.stringify(json)).toString('base64url');
}
