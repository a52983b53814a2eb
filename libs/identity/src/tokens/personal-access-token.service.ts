import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditService } from '@plinth/audit';
import { generateToken, hashToken, isWellFormedToken, PlinthException } from '@plinth/common';
import type { Principal } from '../authz/principal';
import { PersonalAccessTokenEntity } from './personal-access-token.entity';

export const PAT_PREFIX = 'pl_pat';
const LAST_USED_RESOLUTION_MS = 60_000;

export interface PersonalAccessTokenView {
  id: string;
  name: string;
  last4: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** Personal access tokens for scripts and CI: hashed at rest, shown once. */
@Injectable()
export class PersonalAccessTokenService {
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    @InjectRepository(PersonalAccessTokenEntity) private readonly repo: Repository<PersonalAccessTokenEntity>,
    private readonly audit: AuditService,
  ) {}

  async create(principal: Principal, name: string, expiresInDays?: number): Promise<PersonalAccessTokenView & { token: string }> {
    const token = generateToken(PAT_PREFIX);
    const row = await this.repo.manager.transaction(async (m) => {
      const saved = await m.save(
        m.create(PersonalAccessTokenEntity, {
          userId: principal.userId,
          name,
          tokenHash: hashToken(token),
          last4: token.slice(-4),
          expiresAt: expiresInDays ? new Date(Date.now() + expiresInDays * 86400_000) : null,
          lastUsedAt: null,
          revokedAt: null,
        }),
      );
      await this.audit.record(m, principal.actor, { orgId: null, action: 'pat.create', targetType: 'pat', targetId: saved.id });
      return saved;
    });
    return { ...view(row), token };
  }

  async list(userId: string): Promise<PersonalAccessTokenView[]> {
    const rows = await this.repo.find({ where: { userId }, order: { createdAt: 'DESC' } });
    return rows.filter((r) => !r.revokedAt).map(view);
  }

  async revoke(principal: Principal, id: string): Promise<void> {
    await this.repo.manager.transaction(async (m) => {
      const row = await m.findOne(PersonalAccessTokenEntity, { where: { id, userId: principal.userId } });
      if (!row || row.revokedAt) throw PlinthException.notFound('Token');
      await m.update(PersonalAccessTokenEntity, { id }, { revokedAt: new Date() });
      await this.audit.record(m, principal.actor, { orgId: null, action: 'pat.revoke', targetType: 'pat', targetId: id });
    });
  }

  /** The owner and id of a valid token, or null. Last-used time is written at most once a minute per token. */
  async verify(token: string): Promise<{ userId: string; tokenId: string } | null> {
    if (!isWellFormedToken(token, PAT_PREFIX)) return null;
    const row = await this.repo.findOne({ where: { tokenHash: hashToken(token) } });
    if (!row || row.revokedAt || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return null;
    const now = Date.now();
    if ((this.lastUsedWritten.get(row.id) ?? 0) + LAST_USED_RESOLUTION_MS < now) {
      this.lastUsedWritten.set(row.id, now);
      await this.repo.update({ id: row.id }, { lastUsedAt: new Date(now) });
    }
    return { userId: row.userId, tokenId: row.id };
  }
}

function view(r: PersonalAccessTokenEntity): PersonalAccessTokenView {
  return {
    id: r.id,
    name: r.name,
    last4: r.last4,
    created_at: r.createdAt.toISOString(),
    expires_at: r.expiresAt?.toISOString() ?? null,
    last_used_at: r.lastUsedAt?.toISOString() ?? null,
  };
}
