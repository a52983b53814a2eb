import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import webpush from 'web-push';
import { Clock, nonPublicHostReason, PlinthException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import type { TenantContext } from '@plinth/gateway';
import type { TenantNames, TenantSql } from '@plinth/tenancy';
import { inboxOwner } from './inbox.service';
import { NotificationSecrets } from './notification-secrets';
import type { PushSubscriptionInput } from './notifications.dto';
import { PushRepository } from './push.repository';

/**
 * Web push for a project: its VAPID key pair, made at provisioning (or on first use for older projects) (the private key sealed under the master secret's
 * notifications key, bound to the project so it can't be moved to another), and its end users' subscriptions.
 */
@Injectable()
export class PushService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: PushRepository,
    private readonly secrets: NotificationSecrets,
    private readonly clock: Clock,
  ) {}

  /** A fresh key pair for the project, its private key sealed to it. */
  private newVapid(projectId: string): { publicKey: string; privateSealed: string } {
    const keys = webpush.generateVAPIDKeys();
    return { publicKey: keys.publicKey, privateSealed: this.secrets.seal(keys.privateKey, `vapid:${projectId}`) };
  }

  /**
   * The provisioning hook's part: a new project's key pair, made in the transaction creating it, so its public key is
   * there before any first use. `sql` runs as the project's owner role; the keys live in the control schema, so the
   * hook writes them as the admin and hands the role back.
   */
  async provisionVapid(sql: TenantSql, names: TenantNames): Promise<void> {
    await sql.query('SET LOCAL ROLE NONE');
    try {
      await this.repo.insertVapidAtProvisioning(sql, names.ref, (id) => this.newVapid(id), this.clock.now());
    } finally {
      await sql.query(`SET LOCAL ROLE "${names.ownerRole}"`);
    }
  }

  /**
   * The project's VAPID keys (base64url, as browsers and web-push take them). Projects get them when created; one
   * made before that (or on another cluster) gets them when first asked for.
   */
  async vapid(projectId: string): Promise<{ publicKey: string; privateKey: string }> {
    let row = await this.repo.vapid(projectId);
    if (!row) {
      const keys = this.newVapid(projectId);
      await this.repo.insertVapid(projectId, keys.publicKey, keys.privateSealed, this.clock.now());
      row = (await this.repo.vapid(projectId))!;
    }
    return { publicKey: row.public_key, privateKey: this.secrets.open(row.private_sealed, `vapid:${projectId}`) };
  }

  async publicKey(t: TenantContext): Promise<{ public_key: string }> {
    return { public_key: (await this.vapid(t.project.id)).publicKey };
  }

  async subscribe(t: TenantContext, input: PushSubscriptionInput): Promise<{ id: string; endpoint: string; created_at: string }> {
    const { projectId, userId } = inboxOwner(t);
    const url = new URL(input.endpoint);
    if (!this.config.outbound.allowPrivate) {
      const reason = url.protocol !== 'https:' ? 'push endpoints must be https' : nonPublicHostReason(url.hostname);
      if (reason) throw PlinthException.badRequest(`Push endpoint refused: ${reason}`);
    }
    const row = await this.repo.upsert({ id: randomUUID(), project_id: projectId, user_id: userId, endpoint: input.endpoint, p256dh: input.keys.p256dh, auth: input.keys.auth, created_at: this.clock.now() });
    return { id: row.id, endpoint: row.endpoint, created_at: new Date(row.created_at).toISOString() };
  }

  async unsubscribe(t: TenantContext, endpoint: string): Promise<void> {
    const { projectId, userId } = inboxOwner(t);
    if (!(await this.repo.remove(projectId, userId, endpoint))) throw PlinthException.notFound('Push subscription');
  }

  async list(t: TenantContext): Promise<{ subscriptions: Array<{ id: string; endpoint: string; created_at: string }> }> {
    const { projectId, userId } = inboxOwner(t);
    return { subscriptions: (await this.repo.ofUser(projectId, userId)).map((s) => ({ id: s.id, endpoint: s.endpoint, created_at: new Date(s.created_at).toISOString() })) };
  }

  /** The VAPID `sub` claim: the platform's https address, else a mailto naming its host. */
  subject(): string {
    const base = new URL(this.config.http.publicUrl);
    return base.protocol === 'https:' ? base.origin : `mailto:push@${base.hostname}`;
  }
}
