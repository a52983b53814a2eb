import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Clock } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import type { TenantContext } from '@plinth/gateway';
import { OutboxService } from '@plinth/jobs';
import { METERS } from '@plinth/metering';
import { TenantLimitsService } from '@plinth/quotas';
import type { SendInput } from './notifications.dto';
import { enqueueDispatch } from './dispatch-message.job';
import { Channel, MessageRow, NotificationsRepository } from './notifications.repository';
import { InboxWriter } from './inbox-writer';
import { SendRateLimit } from './send-rate-limit';
import { TemplatesService } from './templates.service';

const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

export interface SendReceipt {
  id: string;
  status: 'queued';
  channels: Channel[];
  created_at: string;
  /** True when the idempotency key named an earlier send: that message is returned and nothing is sent again. */
  duplicate: boolean;
}

/**
 * Accepts sends: the message and the job that fans it out commit together (outbox), so an accepted send is never
 * lost and a failed request sends nothing; a message to one user also commits its in-app entry there. An
 * idempotency key seen in the last 24 h returns the first message.
 */
@Injectable()
export class SendService {
  constructor(
    private readonly tx: ControlTransactions,
    private readonly repo: NotificationsRepository,
    private readonly outbox: OutboxService,
    private readonly limits: TenantLimitsService,
    private readonly templates: TemplatesService,
    private readonly rate: SendRateLimit,
    private readonly inbox: InboxWriter,
    private readonly clock: Clock,
  ) {}

  async send(t: TenantContext, input: SendInput): Promise<SendReceipt> {
    const now = this.clock.now();
    const channels: Channel[] = input.channels ?? (input.to.user_id !== undefined || input.to.topic !== undefined ? ['inapp'] : ['email']);
    const content: MessageRow['content'] = { title: input.content?.title, body: input.content?.body };
    const message: MessageRow = {
      id: randomUUID(),
      project_id: t.project.id,
      idempotency_key: input.idempotency_key ?? null,
      event: 'notification.sent',
      recipient: { ...(input.to.user_id !== undefined ? { user_id: input.to.user_id } : {}), ...(input.to.email !== undefined ? { email: input.to.email } : {}), ...(input.to.topic !== undefined ? { topic: input.to.topic } : {}) },
      content,
      data: input.data ?? {},
      channels,
      created_at: now,
    };
    // A repeat of an accepted send is answered whatever the usage since; only a new message is held to the plan's
    // hard cap and the project's own cap (402 naming the meter). Both checks run before the transaction: the quota
    // reads usage on other connections, and a transaction waiting on them could starve the pool under load.
    if (message.idempotency_key !== null) {
      const earlier = await this.repo.messageByIdempotencyKey(t.project.id, message.idempotency_key);
      if (earlier && now.getTime() - new Date(earlier.created_at).getTime() < IDEMPOTENCY_WINDOW_MS) return receipt(earlier, true);
    }
    // A new send counts against the project's send rate (429 with Retry-After); a repeat above does not.
    await this.rate.admit(t.project.id, t.project.orgId);
    // A template renders once the send is known to be new, with the send's data: a template that fails answers this
    // request (400), and the message keeps what was rendered whatever happens to the template afterwards.
    if (input.template !== undefined) {
      const r = await this.templates.renderForSend(t.project.id, input.template, input.data ?? {});
      message.content = {
        title: r.inapp?.title ?? r.email?.subject ?? undefined,
        body: r.inapp?.body ?? r.email?.text ?? undefined,
        template: r.name,
        ...(r.email ? { email: r.email } : {}),
        ...(r.webhook ? { webhook: r.webhook } : {}),
        ...(r.digest ? { digest: r.digest } : {}),
      };
    }
    await this.limits.assertWithinQuota(t.project.id, t.project.orgId, [METERS.notifications]);
    let inbox = 0;
    const sent = await this.tx.run(async (m) => {
      if (message.idempotency_key !== null) {
        const earlier = await this.repo.lockByIdempotencyKey(m, t.project.id, message.idempotency_key);
        if (earlier && now.getTime() - new Date(earlier.created_at).getTime() < IDEMPOTENCY_WINDOW_MS) return receipt(earlier, true);
        if (earlier) await this.repo.releaseIdempotencyKey(m, earlier.id);
      }
      if (!(await this.repo.insertMessage(m, message))) {
        // A concurrent send with the same key committed first (the insert waited for it): that one is the message.
        const winner = await this.repo.lockByIdempotencyKey(m, t.project.id, message.idempotency_key!);
        return receipt(winner!, true);
      }
      // A message to one user puts its in-app entry in the inbox with this commit (its stream hears of it at once);
      // the fan-out job does the other channels (and topics) and finds this entry already there. A message with no
      // other channel needs no fan-out at all.
      const toOne = message.recipient.user_id !== undefined;
      if (toOne && message.channels.includes('inapp')) inbox = await this.inbox.write(m, message, [message.recipient.user_id!], undefined, now);
      if (!toOne || message.channels.some((c) => c !== 'inapp')) await enqueueDispatch(this.outbox, m, t.project.orgId, message.project_id, message.id);
      return receipt(message, false);
    });
    this.inbox.metered(t.project.id, inbox);
    return sent;
  }
}

function receipt(m: MessageRow, duplicate: boolean): SendReceipt {
  return { id: m.id, status: 'queued', channels: m.channels, created_at: new Date(m.created_at).toISOString(), duplicate };
}
