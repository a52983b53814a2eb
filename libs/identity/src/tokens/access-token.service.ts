import { Inject, Injectable } from '@nestjs/common';
import { hkdfSync } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';

const ISSUER = 'plinth-console';
const TYPE = 'console+access';

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/** Short-lived console access tokens: HS256 JWTs keyed by a key derived from PLINTH_SECRET. */
@Injectable()
export class AccessTokenService {
  private readonly key: Uint8Array;

  constructor(@Inject(PLINTH_CONFIG) private readonly config: PlinthConfig) {
    this.key = new Uint8Array(hkdfSync('sha256', config.secret, 'plinth', 'console-access-token', 32));
  }

  get ttlSeconds(): number {
    return this.config.tokens.accessTtlSeconds;
  }

  sign(claims: AccessClaims): Promise<string> {
    return new SignJWT({ sid: claims.sessionId, typ: TYPE })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** The claims of a valid token, or null for anything else (bad signature, expired, wrong type, `alg: none`). */
  async verify(token: string): Promise<AccessClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER });
      if (payload.typ !== TYPE || typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null;
      return { userId: payload.sub, sessionId: payload.sid };
    } catch {
      return null;
    }
  }
}
