import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { invalidationNotice } from '@plinth/database';
import { METERS, MeteringService } from '@plinth/metering';
import { INBOX_TOPIC } from './job-names';
import { MessageRow, NotificationsRepository } from './notifications.repository';

/**
 * Writes a message's in-app entries, in the caller's transaction: one per user whose preferences allow it, each with
 * its delivery-log row, announced to every api instance's streams on commit. Used by the send itself for a message
 * to one user (so the entry is committed with the 202, with no job pick-up in between: that hop was most of the
 * send → stream latency) and by the fan-out job for topics; entries are unique per (message, user), so whichever
 * runs second adds nothing. Per user, entries get their cursor in commit order (see the repository), so a stream
 * reading "after my cursor" never skips one that committed late.
 */
@Injectable()
export class InboxWriter {
  constructor(
    private readonly repo: NotificationsRepository,
    private readonly metering: MeteringService,
  ) {}

  /** Adds the entries (one round trip per user); returns how many were new (meter them with {@link metered} once committed). */
  async write(m: EntityManager, msg: MessageRow, users: string[], topic: string | undefined, now: Date): Promise<number> {
    let added = 0;
    // Sorted, so two fan-outs taking several users' cursor locks take them in one order (no deadlock).
    for (const userId of [...users].sort()) {
      // Announced on commit only: this instance's streams hear of it with every other's, once it can be read.
      const fresh = await this.repo.addInboxEntry(
        m,
        { id: randomUUID(), deliveryId: randomUUID(), projectId: msg.project_id, userId, messageId: msg.id, event: msg.event, title: msg.content.title ?? null, body: msg.content.body ?? null, data: msg.data, at: now, topic: topic ?? null },
        invalidationNotice(INBOX_TOPIC, `${msg.project_id}:${userId}`),
      );
      if (fresh) added++;
    }
    return added;
  }

  /** Meters entries written by a committed {@link write}. */
  metered(projectId: string, added: number): void {
    if (added) this.metering.record(projectId, `${METERS.notifications}:inapp`, added);
  }
}
