import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { invalidationNotice } from '@plinth/database';
import { METERS, MeteringService } from '@plinth/metering';
import { INBOX_TOPIC } from './job-names';
import { MessageRow, NotificationsRepository } from './notifications.repository';
import { PreferencesRepository } from './preferences.repository';
import { allows } from './preferences.service';

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
    private readonly prefs: PreferencesRepository,
    private readonly metering: MeteringService,
  ) {}

  /** Adds the entries; returns how many were new (meter them with {@link metered} once committed). */
  async write(m: EntityManager, msg: MessageRow, users: string[], topic: string | undefined, now: Date, known?: Map<string, Parameters<typeof allows>[0]>): Promise<number> {
    if (!users.length) return 0;
    const prefs = known ?? (await this.prefs.many(m, msg.project_id, users));
    let added = 0;
    // Sorted, so two fan-outs taking several users' cursor locks take them in one order (no deadlock).
    for (const userId of [...users].sort()) {
      if (!allows(prefs.get(userId), 'inapp', topic)) continue;
      const fresh = await this.repo.insertInbox(m, { id: randomUUID(), projectId: msg.project_id, userId, messageId: msg.id, title: msg.content.title ?? null, body: msg.content.body ?? null, data: msg.data, at: now });
      if (!fresh) continue;
      added++;
      await this.repo.insertDelivery(m, { id: randomUUID(), project_id: msg.project_id, message_id: msg.id, channel: 'inapp', endpoint_id: null, target: userId, event: msg.event, status: 'succeeded', created_at: now, updated_at: now });
      // Delivered on commit only: this instance's streams hear of it with every other's, once it can be read.
      await m.query('SELECT pg_notify($1, $2)', invalidationNotice(INBOX_TOPIC, `${msg.project_id}:${userId}`));
    }
    return added;
  }

  /** Meters entries written by a committed {@link write}. */
  metered(projectId: string, added: number): void {
    if (added) this.metering.record(projectId, `${METERS.notifications}:inapp`, added);
  }
}
