import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { OutboundAddressError, postJson } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { JobContext, JobData, JobHandler, JobRegistry, PermanentJobError, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { PlatformMailer, usageAlertEmail } from '@plinth/mail';
import { OrgsRepository } from '@plinth/identity';
import { UsageAlertKey, UsageAlertsRepository } from './usage-alerts.repository';

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
    private readonly alerts: UsageAlertsRepository,
    private readonly orgs: OrgsRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
    private readonly mailer: PlatformMailer,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(d: UsageAlertData, ctx: JobContext): Promise<void> {
    const key: UsageAlertKey = { projectId: d.projectId, periodStart: d.periodStart, meter: d.meter, kind: d.kind, threshold: d.threshold };
    const alert = await this.alerts.delivery(key);
    if (!alert || alert.notified_at) return;
    if (!alert.emailed_at) {
      const recipients = await this.orgs.billingRecipients(d.orgId);
      const mail = usageAlertEmail({ ...d, usageUrl: `${this.config.http.publicUrl}/v1/projects/${d.projectRef}/usage` });
      await this.mailer.send({
        ...mail,
        to: recipients,
        messageId: this.mailer.messageId('usage-alert', ctx.id),
        tag: 'usage-alert',
      });
      await this.alerts.markEmailed(key, this.clock.now());
    }
    const webhook = alert.alert_webhook_url;
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
    await this.alerts.markNotified(key, this.clock.now());
  }
}
