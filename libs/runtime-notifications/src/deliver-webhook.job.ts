import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ControlTransactions } from '@plinth/database';
import { JobHandler, JobRegistry, OutboxService, QUEUES } from '@plinth/jobs';
import { METERS, MeteringService } from '@plinth/metering';
import { DELIVER_WEBHOOK_JOB, DeliverWebhookData } from './job-names';
import { NotificationSecrets } from './notification-secrets';
import { DeliveryRow, EndpointRow, MessageRow, NotificationsRepository } from './notifications.repository';
import { EndpointSlots } from './endpoint-slots';
import { postWebhook, WebhookResult } from './webhook-sender';
import { signWebhook, WEBHOOK_MAX_ATTEMPTS, webhookRetryDelayMs } from './webhook-signing';

/** The JSON a webhook carries (Standard Webhooks' `{type, timestamp, data}`), the same on every attempt. */
export function webhookPayload(msg: MessageRow): string {
  const data =
    msg.event === 'notification.sent'
      ? {
          message_id: msg.id,
          to: msg.recipient,
          content: { title: msg.content.title, body: msg.content.body },
          data: msg.data,
          ...(msg.content.template !== undefined ? { template: msg.content.template } : {}),
          ...(msg.content.webhook ? { payload: msg.content.webhook.payload } : {}),
        }
      : msg.event === 'webhook.test'
        ? { message_id: msg.id, test: true }
        : msg.data;
  return JSON.stringify({ type: msg.event, timestamp: new Date(msg.created_at).toISOString(), data });
}

/**
 * One attempt of one webhook delivery: sign (every valid secret of the endpoint), POST under the outbound policy
 * within the endpoint's concurrency, then record the attempt and decide in one transaction: succeeded (2xx), dead
 * (a refused destination, or the eighth attempt), or the next attempt enqueued after its backoff (see
 * {@link webhookRetryDelayMs}). Idempotent per (delivery, attempt): a re-run of an attempt already recorded does
 * nothing; a run that crashed after sending sends again with the same `webhook-id` (at-least-once; receivers dedupe).
 */
@Injectable()
export class DeliverWebhookJob implements JobHandler<DeliverWebhookData>, OnModuleInit {
  readonly queue = QUEUES.notifications;
  readonly name = DELIVER_WEBHOOK_JOB;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly registry: JobRegistry,
    private readonly tx: ControlTransactions,
    private readonly repo: NotificationsRepository,
    private readonly outbox: OutboxService,
    private readonly secrets: NotificationSecrets,
    private readonly slots: EndpointSlots,
    private readonly metering: MeteringService,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(data: DeliverWebhookData): Promise<void> {
    const delivery = await this.repo.delivery(data.deliveryId);
    if (!delivery || delivery.attempts >= data.attempt || delivery.status === 'succeeded' || delivery.status === 'dead') return;
    const endpoint = delivery.endpoint_id ? await this.repo.endpointById(delivery.endpoint_id) : null;
    const msg = await this.repo.message(delivery.message_id);
    const result: WebhookResult = endpoint && msg ? await this.slots.run(endpoint.id, endpoint.max_concurrency, () => this.post(delivery, endpoint, msg)) : { status: null, latencyMs: 0, error: 'endpoint deleted', excerpt: null, refused: true };
    await this.record(data, result);
  }

  private post(delivery: DeliveryRow, endpoint: EndpointRow, msg: MessageRow): Promise<WebhookResult> {
    const now = this.clock.nowMs();
    const secrets = [this.secrets.open(endpoint.secret_sealed, endpoint.id)];
    if (endpoint.previous_secret_sealed && endpoint.previous_expires_at && new Date(endpoint.previous_expires_at).getTime() > now) {
      secrets.push(this.secrets.open(endpoint.previous_secret_sealed, endpoint.id));
    }
    const body = webhookPayload(msg);
    const headers = signWebhook(secrets, `msg_${delivery.id.replace(/-/g, '')}`, Math.floor(now / 1000), body);
    return postWebhook(
      { url: endpoint.url, headers, body },
      {
        allowPrivate: this.config.outbound.allowPrivate,
        timeoutMs: this.config.notifications.webhookTimeoutMs,
        maxResponseBytes: this.config.notifications.webhookResponseBytes,
        userAgent: 'Plinth-Webhooks/1',
      },
    );
  }

  private async record(data: DeliverWebhookData, r: WebhookResult): Promise<void> {
    const ok = r.status !== null && r.status >= 200 && r.status < 300;
    const now = this.clock.nowMs();
    const delay = ok || r.refused || data.step >= WEBHOOK_MAX_ATTEMPTS ? undefined : webhookRetryDelayMs(data.step);
    const recorded = await this.tx.run(async (m) => {
      const d = await this.repo.lockDelivery(m, data.deliveryId);
      if (!d || d.attempts >= data.attempt) return false;
      const error = r.error ?? (ok ? null : `HTTP ${r.status}`);
      await this.repo.insertAttempt(m, d.id, { attempt: data.attempt, statusCode: r.status, latencyMs: r.latencyMs, error, excerpt: r.excerpt, at: new Date(now) });
      if (ok || delay === undefined) {
        await this.repo.setDeliveryState(m, d.id, { status: ok ? 'succeeded' : 'dead', attempts: data.attempt, nextAttemptAt: null, at: new Date(now) });
        return true;
      }
      await this.repo.setDeliveryState(m, d.id, { status: 'retrying', attempts: data.attempt, nextAttemptAt: new Date(now + delay), at: new Date(now) });
      await this.outbox.enqueue<DeliverWebhookData>(m, {
        queue: QUEUES.notifications,
        name: DELIVER_WEBHOOK_JOB,
        data: { ...data, attempt: data.attempt + 1, step: data.step + 1 },
        delayMs: delay,
        dedupeKey: `attempt:${d.id}:${data.attempt + 1}`,
      });
      return true;
    });
    if (recorded && ok) this.metering.record(data.projectId, `${METERS.notifications}:webhook`, 1);
  }
}
