import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OutboundAddressError, postJson } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { JobContext, JobData, JobHandler, JobRegistry, PermanentJobError, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { PlatformMailer, usageAlertEmail } from '@plinth/mail';
import { OrgsRepository } from '@plinth/identity';

export const USAGE_ALERT_JOB = 'usage-alert';

export interface UsageAlertData extends JobData {
  orgId: string;
  projectId: string;
  projectRef: string;
  periodStart: string;
  meter: string;
  kind: 'included' | 'cap' | 'spend';
  threshold: number;
  used: number;
  amount: number;
}

/**
 * Tells an org's owners and billing members (one email, through the platform mailer) and the project's webhook, if
 * set, that a project crossed 50/80/100 % of an included amount or cap. Idempotent: `emailed_at` is set once the
 * email is sent, so a failing webhook's retries don't resend it, and `notified_at` once everything is delivered.
 * A crash between sending and recording `emailed_at` resends the email once on the retry, with the same
 * Message-ID (derived from the outbox job id), so the duplicate is recognisable.
 */
@Injectable()
export class UsageAlertJob implements JobHandler<UsageAlertData>, OnModuleInit {
  readonly queue = QUEUES.notifications;
  readonly name = USAGE_ALERT_JOB;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly orgs: OrgsRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
    private readonly mailer: PlatformMailer,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(d: UsageAlertData, ctx: JobContext): Promise<void> {
    const key = [d.projectId, d.periodStart, d.meter, d.kind, d.threshold];
    const rows = (await this.db.query(
      `SELECT a.notified_at, a.emailed_at, l.alert_webhook_url FROM control.usage_alerts a
         LEFT JOIN control.project_limits l ON l.project_id = a.project_id
        WHERE a.project_id = $1 AND a.period_start = $2 AND a.meter = $3 AND a.kind = $4 AND a.threshold = $5`,
      key,
    )) as Array<{ notified_at: Date | null; emailed_at: Date | null; alert_webhook_url: string | null }>;
    if (!rows[0] || rows[0].notified_at) return;
    if (!rows[0].emailed_at) {
      const recipients = await this.orgs.billingRecipients(d.orgId);
      const mail = usageAlertEmail({ ...d, usageUrl: `${this.config.http.publicUrl}/v1/projects/${d.projectRef}/usage` });
      await this.mailer.send({
        ...mail,
        to: recipients,
        messageId: this.mailer.messageId('usage-alert', ctx.id),
        tag: 'usage-alert',
      });
      await this.db.query(
        `UPDATE control.usage_alerts SET emailed_at = $6
          WHERE project_id = $1 AND period_start = $2 AND meter = $3 AND kind = $4 AND threshold = $5 AND emailed_at IS NULL`,
        [...key, this.clock.now()],
      );
    }
    const webhook = rows[0].alert_webhook_url;
    if (webhook) {
      // Outside production by default, a webhook may point at a private address (a local receiver in development).
      const status = await postJson(
        webhook,
        { type: 'usage.alert', project: d.projectRef, meter: d.meter, kind: d.kind, threshold: d.threshold, used: d.used, amount: d.amount, period_start: d.periodStart },
        { allowPrivate: this.config.outbound.allowPrivate, timeoutMs: 5000, userAgent: 'plinth-usage-alerts' },
      ).catch((e: unknown) => {
        // A refused destination stays refused: dead at once with the reason, not retried.
        throw e instanceof OutboundAddressError ? new PermanentJobError(`alert webhook refused: ${e.message}`, { cause: e }) : e;
      });
      if (status < 200 || status >= 300) throw new Error(`alert webhook answered ${status}`);
    }
    await this.db.query(
      `UPDATE control.usage_alerts SET notified_at = $6
        WHERE project_id = $1 AND period_start = $2 AND meter = $3 AND kind = $4 AND threshold = $5 AND notified_at IS NULL`,
      [...key, this.clock.now()],
    );
  }
}
