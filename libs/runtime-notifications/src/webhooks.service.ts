import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditService } from '@plinth/audit';
import { Clock, nonPublicHostReason, PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ControlTransactions } from '@plinth/database';
import type { Principal } from '@plinth/identity';
import { OutboxService, QUEUES } from '@plinth/jobs';
import { ProjectsService } from '@plinth/tenancy';
import { DELIVER_WEBHOOK_JOB, DeliverWebhookData } from './job-names';
import { ChangeCapture } from './change-capture';
import { NotificationSecrets } from './notification-secrets';
import type { CreateWebhookInput, DeliveriesQuery, RotateWebhookInput, UpdateWebhookInput } from './notifications.dto';
import { DeliveryRow, EndpointRow, NotificationsRepository } from './notifications.repository';
import { newWebhookSecret } from './webhook-signing';

const DEFAULT_OVERLAP_S = 24 * 3600;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string;
  max_concurrency: number;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Deliveries to one endpoint in flight at once, across every worker, unless the endpoint says otherwise. */
const DEFAULT_MAX_CONCURRENCY = 4;

function view(e: EndpointRow, now: number): WebhookView {
  const prev = e.previous_expires_at && new Date(e.previous_expires_at).getTime() > now ? new Date(e.previous_expires_at).toISOString() : null;
  return { id: e.id, url: e.url, events: e.events, description: e.description, max_concurrency: e.max_concurrency, previous_secret_expires_at: prev, created_at: new Date(e.created_at).toISOString(), updated_at: new Date(e.updated_at).toISOString() };
}

/**
 * A project's webhook endpoints and its delivery log, for console users (developer and above may change them; any
 * member may read). Secrets are shown once, at creation and rotation. In production (OUTBOUND_ALLOW_PRIVATE off) a
 * URL naming a non-public address is refused when saved; every delivery checks again when connecting.
 */
@Injectable()
export class WebhooksService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly tx: ControlTransactions,
    private readonly projects: ProjectsService,
    private readonly repo: NotificationsRepository,
    private readonly secrets: NotificationSecrets,
    private readonly outbox: OutboxService,
    private readonly audit: AuditService,
    private readonly capture: ChangeCapture,
    private readonly clock: Clock,
  ) {}

  private async project(p: Principal, ref: string, action: 'read' | 'update') {
    const project = await this.projects.get(p, ref);
    if (action === 'update') p.permissions.assert('update', 'Project', project.org_id, 'Project');
    return project;
  }

  private checkUrl(url: string): void {
    if (this.config.outbound.allowPrivate) return;
    const reason = nonPublicHostReason(new URL(url).hostname);
    if (reason) throw PlinthException.badRequest(`Webhook URL refused: ${reason}`);
  }

  async create(p: Principal, ref: string, input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
    const project = await this.project(p, ref, 'update');
    this.checkUrl(input.url);
    const id = randomUUID();
    const secret = newWebhookSecret();
    const now = this.clock.now();
    const row = { id, project_id: project.id, url: input.url, events: [...new Set(input.events)], description: input.description ?? '', secret_sealed: this.secrets.seal(secret, id), max_concurrency: input.max_concurrency ?? DEFAULT_MAX_CONCURRENCY, created_at: now, updated_at: now };
    await this.tx.run(async (m) => {
      await this.repo.insertEndpoint(m, row);
      await this.capture.ensure(m, project, row.events);
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'webhook.create', targetType: 'webhook', targetId: id, details: { ref, events: row.events } });
    });
    return { ...view({ ...row, previous_secret_sealed: null, previous_expires_at: null }, now.getTime()), secret };
  }

  async list(p: Principal, ref: string): Promise<WebhookView[]> {
    const project = await this.project(p, ref, 'read');
    const now = this.clock.nowMs();
    return (await this.repo.endpoints(project.id)).map((e) => view(e, now));
  }

  private async endpoint(projectId: string, id: string): Promise<EndpointRow> {
    const e = UUID.test(id) ? await this.repo.endpoint(projectId, id) : null;
    if (!e) throw PlinthException.notFound('Webhook');
    return e;
  }

  async get(p: Principal, ref: string, id: string): Promise<WebhookView> {
    const project = await this.project(p, ref, 'read');
    return view(await this.endpoint(project.id, id), this.clock.nowMs());
  }

  async update(p: Principal, ref: string, id: string, input: UpdateWebhookInput): Promise<WebhookView> {
    const project = await this.project(p, ref, 'update');
    await this.endpoint(project.id, id);
    if (input.url) this.checkUrl(input.url);
    await this.tx.run(async (m) => {
      await this.repo.updateEndpoint(m, project.id, id, { url: input.url, events: input.events ? [...new Set(input.events)] : undefined, description: input.description, maxConcurrency: input.max_concurrency }, this.clock.now());
      if (input.events) await this.capture.ensure(m, project, input.events);
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'webhook.update', targetType: 'webhook', targetId: id, details: { ref, changed: Object.keys(input).sort() } });
    });
    return view(await this.endpoint(project.id, id), this.clock.nowMs());
  }

  /** A new secret, shown once; the old one keeps signing (alongside) for the overlap, 24 h by default. */
  async rotate(p: Principal, ref: string, id: string, input: RotateWebhookInput): Promise<WebhookView & { secret: string }> {
    const project = await this.project(p, ref, 'update');
    await this.endpoint(project.id, id);
    const secret = newWebhookSecret();
    const now = this.clock.nowMs();
    const until = new Date(now + (input.overlap_seconds ?? DEFAULT_OVERLAP_S) * 1000);
    await this.tx.run(async (m) => {
      await this.repo.rotateSecret(m, project.id, id, this.secrets.seal(secret, id), until, new Date(now));
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'webhook.rotate_secret', targetType: 'webhook', targetId: id, details: { ref, previous_expires_at: until.toISOString() } });
    });
    return { ...view(await this.endpoint(project.id, id), now), secret };
  }

  async remove(p: Principal, ref: string, id: string): Promise<void> {
    const project = await this.project(p, ref, 'update');
    await this.endpoint(project.id, id);
    await this.tx.run(async (m) => {
      await this.repo.deleteEndpoint(m, project.id, id);
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'webhook.delete', targetType: 'webhook', targetId: id, details: { ref } });
    });
  }

  /** Sends a `webhook.test` event to this endpoint alone, through the same queue, signing and log as any delivery. */
  async test(p: Principal, ref: string, id: string): Promise<{ delivery_id: string; message_id: string }> {
    const project = await this.project(p, ref, 'update');
    const endpoint = await this.endpoint(project.id, id);
    const now = this.clock.now();
    const messageId = randomUUID();
    const deliveryId = randomUUID();
    await this.tx.run(async (m) => {
      await this.repo.insertMessage(m, { id: messageId, project_id: project.id, idempotency_key: null, event: 'webhook.test', recipient: {}, content: {}, data: {}, channels: ['webhook'], created_at: now });
      await this.repo.insertDelivery(m, { id: deliveryId, project_id: project.id, message_id: messageId, channel: 'webhook', endpoint_id: endpoint.id, target: endpoint.id, event: 'webhook.test', status: 'pending', created_at: now, updated_at: now });
      await this.enqueueAttempt(m, project.org_id, project.id, deliveryId, 1);
    });
    return { delivery_id: deliveryId, message_id: messageId };
  }

  async deliveries(p: Principal, ref: string, q: DeliveriesQuery) {
    const project = await this.project(p, ref, 'read');
    const rows = await this.repo.listDeliveries(project.id, { status: q.status, channel: q.channel, since: q.since ? new Date(q.since) : undefined, limit: q.limit });
    const attempts = await this.repo.attempts(rows.map((r) => r.id));
    return {
      deliveries: rows.map((d) => ({
        ...deliveryView(d),
        attempts: attempts
          .filter((a) => a.delivery_id === d.id)
          .map((a) => ({ attempt: a.attempt, status: a.status_code, latency_ms: a.latency_ms, error: a.error, response_excerpt: a.response_excerpt, at: new Date(a.created_at).toISOString() })),
      })),
    };
  }

  /** A dead (or delivered) webhook delivery sent again with a fresh round of attempts. 409 while it is still being tried. */
  async replay(p: Principal, ref: string, id: string): Promise<ReturnType<typeof deliveryView>> {
    const project = await this.project(p, ref, 'update');
    const d = UUID.test(id) ? await this.repo.delivery(id) : null;
    if (!d || d.project_id !== project.id) throw PlinthException.notFound('Delivery');
    if (d.channel !== 'webhook') throw PlinthException.badRequest('Only webhook deliveries can be replayed');
    const now = this.clock.now();
    const replayed = await this.tx.run(async (m) => {
      const locked = await this.repo.lockDelivery(m, id);
      if (!locked || (locked.status !== 'dead' && locked.status !== 'succeeded')) return null;
      await this.repo.setDeliveryState(m, id, { status: 'retrying', attempts: locked.attempts, nextAttemptAt: now, at: now });
      await this.enqueueAttempt(m, project.org_id, project.id, id, locked.attempts + 1);
      await this.audit.record(m, p.actor, { orgId: project.org_id, action: 'webhook_delivery.replay', targetType: 'delivery', targetId: id, details: { ref } });
      return { ...locked, status: 'retrying' as const, next_attempt_at: now };
    });
    if (!replayed) throw PlinthException.conflict('This delivery is still being attempted; replay it once it has succeeded or is dead');
    return deliveryView(replayed);
  }

  private enqueueAttempt(m: Parameters<OutboxService['enqueue']>[0], orgId: string, projectId: string, deliveryId: string, attempt: number) {
    return this.outbox.enqueue<DeliverWebhookData>(m, {
      queue: QUEUES.notifications,
      name: DELIVER_WEBHOOK_JOB,
      data: { orgId, projectId, deliveryId, attempt, step: 1 },
      dedupeKey: `attempt:${deliveryId}:${attempt}`,
    });
  }
}

function deliveryView(d: DeliveryRow) {
  return {
    id: d.id,
    message_id: d.message_id,
    channel: d.channel,
    endpoint_id: d.endpoint_id,
    event: d.event,
    status: d.status,
    attempt_count: d.attempts,
    next_attempt_at: d.next_attempt_at ? new Date(d.next_attempt_at).toISOString() : null,
    created_at: new Date(d.created_at).toISOString(),
    updated_at: new Date(d.updated_at).toISOString(),
  };
}
