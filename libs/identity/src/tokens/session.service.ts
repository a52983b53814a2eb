import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { EntityManager, IsNull, Repository } from 'typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ErrorCode, generateToken, hashToken, isWellFormedToken, PlinthException } from '@plinth/common';
import { AccessTokenService } from './access-token.service';
import { RefreshTokenEntity } from './refresh-token.entity';

export const REFRESH_PREFIX = 'pl_rt';

export interface TokenPair {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  refresh_token: string;
}

/**
 * Console sessions: a family of rotating refresh tokens. Each refresh spends its token and issues the next;
 * presenting a spent token again means it leaked, so the whole family is revoked.
 */
@Injectable()
export class SessionService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectRepository(RefreshTokenEntity) private readonly repo: Repository<RefreshTokenEntity>,
    private readonly access: AccessTokenService,
  ) {}

  /** Starts a new session (family) for a user inside the caller's transaction. */
  async start(manager: EntityManager, userId: string): Promise<TokenPair> {
    return this.issue(manager, userId, randomUUID());
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const invalid = new PlinthException(ErrorCode.Unauthorized, 'Invalid or expired refresh token');
    if (!isWellFormedToken(refreshToken, REFRESH_PREFIX)) throw invalid;
    const outcome = await this.repo.manager.transaction(async (m) => {
      const row = await m.findOne(RefreshTokenEntity, {
        where: { tokenHash: hashToken(refreshToken) },
        lock: { mode: 'pessimistic_write' },
      });
      if (!row) return null;
      if (row.revokedAt) return null;
      if (row.usedAt) {
        await this.revokeFamilyWith(m, row.familyId);
        return 'reused' as const;
      }
      if (row.expiresAt.getTime() <= Date.now()) return null;
      await m.update(RefreshTokenEntity, { id: row.id }, { usedAt: new Date() });
      return this.issue(m, row.userId, row.familyId);
    });
    if (outcome === null || outcome === 'reused') throw invalid;
    return outcome;
  }

  /** Ends a session: every token of the family stops working, including live access tokens (checked per request). */
  async revokeFamily(familyId: string): Promise<void> {
    await this.revokeFamilyWith(this.repo.manager, familyId);
  }

  /** Ends the session a refresh token belongs to (spent or not); an unknown token changes nothing. */
  async revokeByToken(refreshToken: string): Promise<void> {
    if (!isWellFormedToken(refreshToken, REFRESH_PREFIX)) return;
    const row = await this.repo.findOne({ where: { tokenHash: hashToken(refreshToken) } });
    if (row) await this.revokeFamily(row.familyId);
  }

  async isActive(familyId: string): Promise<boolean> {
    return this.repo.exists({ where: { familyId, revokedAt: IsNull() } });
  }

  private async revokeFamilyWith(m: EntityManager, familyId: string): Promise<void> {
    await m.update(RefreshTokenEntity, { familyId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }

  private async issue(m: EntityManager, userId: string, familyId: string): Promise<TokenPair> {
    const refresh = generateToken(REFRESH_PREFIX);
    await m.insert(RefreshTokenEntity, {
      userId,
      familyId,
      tokenHash: hashToken(refresh),
      expiresAt: new Date(Date.now() + this.config.tokens.refreshTtlSeconds * 1000),
    });
    return {
      access_token: await this.access.sign({ userId, sessionId: familyId }),
      token_type: 'bearer',
      expires_in: this.access.ttlSeconds,
      refresh_token: refresh,
    };
  }
}
