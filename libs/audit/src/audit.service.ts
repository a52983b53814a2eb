import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, LessThan, Repository } from 'typeorm';
import type { RequestMeta } from '@plinth/common';
import { AuditEntryEntity } from './audit-entry.entity';

/** Who did something: a console user (session or personal token) or a project key. */
export interface AuditActor {
  type: 'user' | 'pat' | 'api_key' | 'system';
  id: string | null;
  meta: RequestMeta;
}

export interface AuditEvent {
  orgId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

export interface AuditEntryView {
  id: string;
  action: string;
  actor: { type: string; id: string | null };
  target: { type: string | null; id: string | null };
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown> | null;
  created_at: string;
}

/** Records mutating actions in the same transaction as the change, so the log never misses or invents one. */
@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEntryEntity) private readonly repo: Repository<AuditEntryEntity>) {}

  async record(manager: EntityManager, actor: AuditActor, event: AuditEvent): Promise<void> {
    await manager.insert(AuditEntryEntity, {
      orgId: event.orgId,
      actorId: actor.id,
      actorType: actor.type,
      action: event.action,
      targetType: event.targetType ?? null,
      targetId: event.targetId ?? null,
      ip: actor.meta.ip,
      userAgent: actor.meta.userAgent,
      requestId: actor.meta.requestId,
      // jsonb column: TypeORM's deep-partial typing doesn't model arbitrary JSON objects.
      details: (event.details ?? null) as never,
    });
  }

  /** Newest first; `before` is the id of the last entry of the previous page. */
  async list(orgId: string, limit: number, before?: string): Promise<{ entries: AuditEntryView[]; next_before: string | null }> {
    const rows = await this.repo.find({
      where: before ? { orgId, id: LessThan(before) } : { orgId },
      order: { id: 'DESC' },
      take: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      entries: page.map((r) => ({
        id: r.id,
        action: r.action,
        actor: { type: r.actorType, id: r.actorId },
        target: { type: r.targetType, id: r.targetId },
        ip: r.ip,
        user_agent: r.userAgent,
        request_id: r.requestId,
        details: r.details,
        created_at: r.createdAt.toISOString(),
      })),
      next_before: rows.length > limit ? page[page.length - 1].id : null,
    };
  }
}
