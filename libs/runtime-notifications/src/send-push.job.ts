import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import webpush from 'web-push';
import { Clock } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ControlTransactions } from '@plinth/database';
import { JobContext, JobHandler, JobRegistry, PermanentJobError, QUEUES } from '@plinth/jobs';
import { METERS, MeteringService } from '@plinth/metering';
import { SEND_PUSH_JOB, SendPushData } from './job-names';
import { NotificationsRepository } from './notifications.repository';
import { PushRepository } from './push.repository';
import { PushService } from './push.service';
import { postWebhook } from './webhook-sender';

/** Push messages are at most 4 KiB once encrypted; the payload is cut to fit (the data first, then the body). */
const MAX_PAYLOAD = 3_000;

/**
 * One web push delivery: the message encrypted for the subscription (RFC 8291, aes128gcm) and authorised with the
 * project's VAPID key (RFC 8292), POSTed to the push service under the outbound policy. A 404 or 410 means the
 * subscription is gone: it is removed and the delivery is dead. Other failures retry with the job system's backoff.
 */
@Injectable()
export class SendPushJob implements JobHandler<SendPushData>, OnModuleInit {
  readonly queue = QUEUES.notifications;
  readonly name = SEND_PUSH_JOB;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly registry: JobRegistry,
    private readonly tx: ControlTransactions,
    private readonly repo: NotificationsRepository,
    private readonly push: PushRepository,
    private readonly keys: PushService,
    private readonly metering: MeteringService,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(data: SendPushData, ctx: JobContext): Promise<void> {
    const delivery = await this.repo.delivery(data.deliveryId);
    if (!delivery || delivery.status === 'succeeded' || delivery.status === 'dead') return;
    const msg = await this.repo.message(delivery.message_id);
    const sub = await this.push.byId(data.subscriptionId);
    if (!msg || !sub || sub.project_id !== msg.project_id) {
      await this.record(delivery.id, { status: null, latencyMs: 0, error: 'the subscription was removed', excerpt: null }, 'dead');
      return;
    }
    let payload = JSON.stringify({ message_id: msg.id, title: msg.content.title ?? null, body: msg.content.body ?? null, data: msg.data });
    if (payload.length > MAX_PAYLOAD) payload = JSON.stringify({ message_id: msg.id, title: msg.content.title ?? null, body: (msg.content.body ?? '').slice(0, 1_000) }).slice(0, MAX_PAYLOAD);
    const vapid = await this.keys.vapid(msg.project_id);
    const request = webpush.generateRequestDetails({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }, payload, {
      vapidDetails: { subject: this.keys.subject(), publicKey: vapid.publicKey, privateKey: vapid.privateKey },
      TTL: 24 * 3600,
      contentEncoding: 'aes128gcm',
    });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) headers[k] = String(v);
    const result = await postWebhook(
      { url: sub.endpoint, headers, body: request.body as Buffer },
      { allowPrivate: this.config.outbound.allowPrivate, timeoutMs: this.config.notifications.webhookTimeoutMs, maxResponseBytes: this.config.notifications.webhookResponseBytes, userAgent: 'Plinth-Push/1' },
    );
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    const gone = result.status === 404 || result.status === 410;
    if (gone) await this.push.removeById(sub.id);
    const last = ok || gone || result.refused || ctx.attempt >= ctx.maxAttempts;
    await this.record(delivery.id, result, ok ? 'succeeded' : last ? 'dead' : 'retrying');
    if (ok) {
      this.metering.record(msg.project_id, `${METERS.notifications}:push`, 1);
      return;
    }
    if (gone || result.refused) throw new PermanentJobError(`push ${gone ? 'subscription gone' : 'endpoint refused'}: ${result.error ?? result.status}`);
    throw new Error(`push service answered ${result.status ?? result.error}`);
  }

  private async record(deliveryId: string, r: { status: number | null; latencyMs: number; error: string | null; excerpt: string | null }, status: 'succeeded' | 'retrying' | 'dead'): Promise<void> {
    const now = this.clock.now();
    await this.tx.run(async (m) => {
      const d = await this.repo.lockDelivery(m, deliveryId);
      if (!d || d.status === 'succeeded' || d.status === 'dead') return;
      const attempt = d.attempts + 1;
      await this.repo.insertAttempt(m, d.id, { attempt, statusCode: r.status, latencyMs: Math.round(r.latencyMs), error: r.error, excerpt: r.excerpt, at: now });
      await this.repo.setDeliveryState(m, d.id, { status, attempts: attempt, nextAttemptAt: null, at: now });
    });
  }
}
