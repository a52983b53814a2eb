import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Clock } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { JobHandler, JobRegistry, OutboxService, QUEUES } from '@plinth/jobs';
import { DigestItemRow, DigestRow, DigestsRepository } from './digests.repository';
import { FLUSH_DIGEST_JOB, FlushDigestData, SEND_EMAIL_JOB, SendEmailData } from './job-names';
import { MessageRow, NotificationsRepository } from './notifications.repository';
import { renderTemplate } from './template-renderer';
import { TemplatesRepository } from './templates.repository';

/** Enqueues a digest's flush for when its window closes, in the transaction that opened it. */
export function enqueueFlush(outbox: OutboxService, m: EntityManager, orgId: string | null, projectId: string, digestId: string, delayMs: number): Promise<string | null> {
  return outbox.enqueue<FlushDigestData>(m, { queue: QUEUES.notifications, name: FLUSH_DIGEST_JOB, data: { orgId, projectId, digestId }, delayMs, dedupeKey: `digest:${digestId}` });
}

/** The variables a digest's email renders with: every send's data in order (`events`), and each send's own rendering. */
export function digestScope(items: DigestItemRow[]): Record<string, unknown> {
  return {
    events: items.map((i) => i.data),
    notifications: items.map((i) => ({ title: i.title, body: i.body, data: i.data, created_at: new Date(i.created_at).toISOString() })),
    count: items.length,
  };
}

/**
 * Closes a digest when its window ends: its sends become one message rendered by the template's email part with
 * the list of events, and that message's email delivery (the ordinary email job: SMTP, List-Unsubscribe, log,
 * metering). Closing, the message and the email job commit together, and a closed digest is left alone, so a re-run
 * sends nothing twice; a send arriving after the close opens the next digest.
 */
@Injectable()
export class FlushDigestJob implements JobHandler<FlushDigestData>, OnModuleInit {
  readonly queue = QUEUES.notifications;
  readonly name = FLUSH_DIGEST_JOB;
  private readonly logger = new Logger(FlushDigestJob.name);

  constructor(
    private readonly registry: JobRegistry,
    private readonly tx: ControlTransactions,
    private readonly digests: DigestsRepository,
    private readonly repo: NotificationsRepository,
    private readonly templates: TemplatesRepository,
    private readonly outbox: OutboxService,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(data: FlushDigestData): Promise<void> {
    await this.tx.run(async (m) => {
      const d = await this.digests.lock(m, data.digestId);
      if (!d || d.status !== 'open') return;
      const items = await this.digests.items(m, d.id);
      const now = this.clock.now();
      const email = await this.render(d, items);
      const message: MessageRow = {
        id: randomUUID(),
        project_id: d.project_id,
        idempotency_key: null,
        event: 'notification.digest',
        recipient: { ...(d.user_id ? { user_id: d.user_id } : {}), email: d.target },
        content: { title: email.subject, body: email.text, template: d.template, email },
        data: { count: items.length, message_ids: items.map((i) => i.message_id) },
        channels: ['email'],
        created_at: now,
      };
      await this.repo.insertMessage(m, message);
      await this.digests.close(m, d.id, message.id);
      const deliveryId = randomUUID();
      await this.repo.insertDelivery(m, { id: deliveryId, project_id: d.project_id, message_id: message.id, channel: 'email', endpoint_id: null, target: d.target, event: message.event, status: 'pending', created_at: now, updated_at: now });
      const job: SendEmailData = { orgId: data.orgId, projectId: d.project_id, deliveryId, ...(d.user_id ? { userId: d.user_id } : {}), ...(d.topic ? { topic: d.topic } : {}) };
      await this.outbox.enqueue<SendEmailData>(m, { queue: QUEUES.email, name: SEND_EMAIL_JOB, data: job, dedupeKey: `email:${deliveryId}` });
    });
  }

  /** The template's email part with the events; a plain list of the sends when it is gone or fails (logged). */
  private async render(d: DigestRow, items: DigestItemRow[]): Promise<{ subject: string; text: string; html: string | null }> {
    const template = await this.templates.byName(d.project_id, d.template);
    if (template?.email) {
      try {
        const r = await renderTemplate({ email: template.email, inapp: null, webhook: null }, digestScope(items));
        if (r.email) return r.email;
      } catch (e) {
        this.logger.warn(`digest template ${d.template} of project ${d.project_id} failed: ${(e as Error).message}`);
      }
    }
    const lines = items.map((i) => [i.title, i.body].filter(Boolean).join(': '));
    return { subject: `${items.length} new notification${items.length === 1 ? '' : 's'}`, text: lines.join('\n'), html: null };
  }
}
