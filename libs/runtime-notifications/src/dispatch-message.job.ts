import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { JobHandler, JobRegistry, OutboxService, QUEUES } from '@plinth/jobs';
import type { EntityManager } from 'typeorm';
import { ProjectsRepository, tenantNames } from '@plinth/tenancy';
import { DELIVER_WEBHOOK_JOB, DeliverWebhookData, DISPATCH_MESSAGE_JOB, DispatchMessageData, SEND_EMAIL_JOB, SEND_PUSH_JOB, SendEmailData, SendPushData } from './job-names';
import { NotificationsRepository } from './notifications.repository';
import { DigestsRepository } from './digests.repository';
import { enqueueFlush } from './flush-digest.job';
import { InboxWriter } from './inbox-writer';
import { PreferencesRepository } from './preferences.repository';
import { PushRepository } from './push.repository';
import { allows } from './preferences.service';

/** Enqueues a message's fan-out in the caller's transaction (once per message). */
export function enqueueDispatch(outbox: OutboxService, m: EntityManager, orgId: string, projectId: string, messageId: string): Promise<string | null> {
  return outbox.enqueue<DispatchMessageData>(m, { queue: QUEUES.notifications, name: DISPATCH_MESSAGE_JOB, data: { orgId, projectId, messageId }, dedupeKey: `dispatch:${messageId}` });
}

/**
 * Fans one message out, in one transaction: the in-app inbox entry (announced to every api instance on commit),
 * one webhook delivery per subscribed endpoint with the job of its first attempt, and a delivery-log row per channel.
 * Idempotent: entries and deliveries are unique per message, so a re-run adds nothing and enqueues nothing.
 */
@Injectable()
export class DispatchMessageJob implements JobHandler<DispatchMessageData>, OnModuleInit {
  readonly queue = QUEUES.notifications;
  readonly name = DISPATCH_MESSAGE_JOB;

  constructor(
    private readonly registry: JobRegistry,
    private readonly tx: ControlTransactions,
    private readonly repo: NotificationsRepository,
    private readonly outbox: OutboxService,
    private readonly inboxWriter: InboxWriter,
    private readonly prefs: PreferencesRepository,
    private readonly push: PushRepository,
    private readonly projects: ProjectsRepository,
    private readonly digests: DigestsRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(data: DispatchMessageData): Promise<void> {
    const msg = await this.repo.message(data.messageId);
    if (!msg) return; // the project (and its messages) is gone
    const now = this.clock.now();
    const added = await this.tx.run(async (m) => {
      let inbox = 0;
      // The users this message is for: the one named, or a topic's subscribers; each one's preferences decide
      // which channels reach them (a topic's opt-out silences all of them).
      const topic = msg.recipient.topic;
      const users = topic !== undefined ? await this.prefs.subscribers(m, msg.project_id, topic) : msg.recipient.user_id ? [msg.recipient.user_id] : [];
      const prefs = await this.prefs.many(m, msg.project_id, users);
      // A send to one user wrote its entry itself; this adds the rest (topics, triggers) and nothing twice.
      if (msg.channels.includes('inapp')) inbox = await this.inboxWriter.write(m, msg, users, topic, now);
      if (msg.channels.includes('webhook')) {
        for (const endpoint of await this.repo.endpointsFor(m, msg.project_id, msg.event)) {
          const id = randomUUID();
          const fresh = await this.repo.insertDelivery(m, { id, project_id: msg.project_id, message_id: msg.id, channel: 'webhook', endpoint_id: endpoint.id, target: endpoint.id, event: msg.event, status: 'pending', created_at: now, updated_at: now });
          if (!fresh) continue;
          await this.outbox.enqueue<DeliverWebhookData>(m, {
            queue: QUEUES.notifications,
            name: DELIVER_WEBHOOK_JOB,
            data: { orgId: data.orgId, projectId: msg.project_id, deliveryId: id, attempt: 1, step: 1 },
            dedupeKey: `attempt:${id}:1`,
          });
        }
      }
      if (msg.channels.includes('email')) {
        // An address given as is goes out as is; users (by id or topic) get theirs from the auth runtime, unless
        // they opted out, and their email carries a one-click unsubscribe link.
        const targets: Array<{ email: string; userId?: string }> = msg.recipient.email ? [{ email: msg.recipient.email }] : [];
        const emailUsers = users.filter((u) => allows(prefs.get(u), 'email', topic));
        if (emailUsers.length) {
          const [project] = await this.projects.refsByIds([msg.project_id]);
          const addresses = project ? await this.prefs.userEmails(m, tenantNames(project.ref).schema, emailUsers) : new Map<string, string>();
          for (const u of emailUsers) if (addresses.has(u) && addresses.get(u) !== msg.recipient.email) targets.push({ email: addresses.get(u)!, userId: u });
        }
        for (const target of targets) {
          if (msg.content.digest && msg.content.template) {
            // A digest template: the send joins the address's open digest (opening it, and its flush when the
            // window closes, if there is none) instead of going out on its own.
            if (await this.digests.joined(m, msg.id, target.email)) continue;
            const window = msg.content.digest.window_seconds * 1000;
            const digest = await this.digests.open(m, { id: randomUUID(), project_id: msg.project_id, template: msg.content.template, digest_key: msg.content.digest.key, target: target.email, user_id: target.userId ?? null, topic: topic ?? null, created_at: now, closes_at: new Date(now.getTime() + window) });
            // In the order the sends were accepted (fan-outs run concurrently, so not in theirs).
            await this.digests.addItem(m, digest.id, { message_id: msg.id, data: msg.data, title: msg.content.title ?? null, body: msg.content.body ?? null, created_at: msg.created_at });
            if (digest.fresh) await enqueueFlush(this.outbox, m, data.orgId, msg.project_id, digest.id, window);
            continue;
          }
          const id = randomUUID();
          const fresh = await this.repo.insertDelivery(m, { id, project_id: msg.project_id, message_id: msg.id, channel: 'email', endpoint_id: null, target: target.email, event: msg.event, status: 'pending', created_at: now, updated_at: now });
          if (!fresh) continue;
          const job: SendEmailData = { orgId: data.orgId, projectId: msg.project_id, deliveryId: id, ...(target.userId ? { userId: target.userId } : {}), ...(topic !== undefined ? { topic } : {}) };
          await this.outbox.enqueue<SendEmailData>(m, { queue: QUEUES.email, name: SEND_EMAIL_JOB, data: job, dedupeKey: `email:${id}` });
        }
      }
      if (msg.channels.includes('push')) {
        const pushUsers = users.filter((u) => allows(prefs.get(u), 'push', topic));
        for (const sub of await this.push.ofUsers(m, msg.project_id, pushUsers)) {
          const id = randomUUID();
          const fresh = await this.repo.insertDelivery(m, { id, project_id: msg.project_id, message_id: msg.id, channel: 'push', endpoint_id: null, target: sub.id, event: msg.event, status: 'pending', created_at: now, updated_at: now });
          if (!fresh) continue;
          await this.outbox.enqueue<SendPushData>(m, { queue: QUEUES.notifications, name: SEND_PUSH_JOB, data: { orgId: data.orgId, projectId: msg.project_id, deliveryId: id, subscriptionId: sub.id }, dedupeKey: `push:${id}` });
        }
      }
      return { inbox };
    });
    // Metered once per inbox entry actually added (a re-run adds none); webhooks when delivered.
    this.inboxWriter.metered(msg.project_id, added.inbox);
  }
}
