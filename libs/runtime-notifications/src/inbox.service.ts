import { Injectable } from '@nestjs/common';
import { Clock, ErrorCode, PlinthException } from '@plinth/common';
import type { TenantContext } from '@plinth/gateway';
import { InboxRow, NotificationsRepository } from './notifications.repository';

export interface InboxItem {
  id: string;
  cursor: string;
  message_id: string;
  title: string | null;
  body: string | null;
  data: Record<string, unknown>;
  read: boolean;
  archived: boolean;
  read_at: string | null;
  created_at: string;
}

export function inboxItem(r: InboxRow): InboxItem {
  return {
    id: r.id,
    cursor: r.seq,
    message_id: r.message_id,
    title: r.title,
    body: r.body,
    data: r.data,
    read: r.read_at !== null,
    archived: r.archived_at !== null,
    read_at: r.read_at ? new Date(r.read_at).toISOString() : null,
    created_at: new Date(r.created_at).toISOString(),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The signed-in end user of a tenant request; the inbox is theirs alone (401 for any other caller). */
export function inboxOwner(t: TenantContext): { projectId: string; userId: string } {
  if (t.role !== 'authenticated' || !t.user) {
    throw new PlinthException(ErrorCode.Unauthorized, 'The inbox needs a signed-in end user (publishable key plus the user\'s access token)', undefined, { 'www-authenticate': 'Bearer' });
  }
  return { projectId: t.project.id, userId: t.user.id };
}

/** An end user's in-app inbox: list, unread count, mark read/archived, read all. Always scoped to (project, user). */
@Injectable()
export class InboxService {
  constructor(
    private readonly repo: NotificationsRepository,
    private readonly clock: Clock,
  ) {}

  async list(t: TenantContext, q: { unread?: boolean; archived?: boolean; limit: number; before?: string }) {
    const { projectId, userId } = inboxOwner(t);
    const rows = await this.repo.listInbox(projectId, userId, { unread: q.unread ?? false, archived: q.archived ?? false, limit: q.limit, beforeSeq: q.before ?? null });
    const unread = await this.repo.unreadCount(projectId, userId);
    return { items: rows.map(inboxItem), unread_count: unread, next_before: rows.length === q.limit ? rows[rows.length - 1].seq : null };
  }

  async unreadCount(t: TenantContext) {
    const { projectId, userId } = inboxOwner(t);
    return { unread_count: await this.repo.unreadCount(projectId, userId) };
  }

  async update(t: TenantContext, id: string, patch: { read?: boolean; archived?: boolean }): Promise<InboxItem> {
    const { projectId, userId } = inboxOwner(t);
    const row = UUID.test(id) ? await this.repo.updateInbox(projectId, userId, id, patch, this.clock.now()) : null;
    if (!row) throw PlinthException.notFound('Notification');
    return inboxItem(row);
  }

  async readAll(t: TenantContext) {
    const { projectId, userId } = inboxOwner(t);
    return { updated: await this.repo.readAll(projectId, userId, this.clock.now()) };
  }
}
