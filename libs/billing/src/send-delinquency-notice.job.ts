import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { JobContext, JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { delinquencyNoticeEmail, PlatformMailer } from '@plinth/mail';
import { OrgsRepository } from '@plinth/identity';
import { BillingAccountRepository } from './billing-account.repository';
import { delinquency } from './delinquency';

export const SEND_DELINQUENCY_NOTICE_JOB = 'billing.delinquency-notice';

export interface SendDelinquencyNoticeData extends JobData {
  orgId: string;
  /** The delinquency episode (billing_accounts.delinquent_since), ISO. */
  delinquentSince: string;
  state: 'grace' | 'read_only' | 'suspended';
}

/**
 * Emails one recorded delinquency notice to the org's owners and billing members through the platform mailer.
 * Idempotent: `billing_notices.notified_at` is set once, after the send. A crash between the send and that update
 * resends once on the retry, with the same Message-ID (from the outbox job id). A notice whose episode ended
 * (the payment went through) or whose state has passed before it could be sent is dropped unsent; the daily
 * run records the current state's notice.
 */
@Injectable()
export class SendDelinquencyNoticeJob implements JobHandler<SendDelinquencyNoticeData>, OnModuleInit {
  readonly queue = QUEUES.email;
  readonly name = SEND_DELINQUENCY_NOTICE_JOB;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly accounts: BillingAccountRepository,
    private readonly orgs: OrgsRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
    private readonly mailer: PlatformMailer,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async handle(d: SendDelinquencyNoticeData, ctx: JobContext): Promise<void> {
    const row = await this.accounts.notice(d.orgId, d.delinquentSince, d.state);
    if (!row || row.notified_at) return;
    const since = new Date(d.delinquentSince);
    // Paid since (or a new episode), or already past this state (its wording would be wrong): nothing to say.
    if (row.current_since?.getTime() !== since.getTime()) return;
    const timeline = delinquency(since, this.clock.nowMs(), this.config.billing.graceDays, this.config.billing.readOnlyDays);
    if (timeline.state !== d.state) return;
    const orgName = await this.orgs.nameOf(d.orgId);
    if (orgName === null) return;
    const recipients = await this.orgs.billingRecipients(d.orgId);
    const mail = delinquencyNoticeEmail({
      orgName,
      state: d.state,
      readOnlyAt: timeline.read_only_at!,
      suspendedAt: timeline.suspended_at!,
      billingUrl: this.config.billing.urls.portalReturn,
    });
    await this.mailer.send({
      ...mail,
      to: recipients,
      messageId: this.mailer.messageId('billing-notice', ctx.id),
      tag: `billing-notice-${d.state}`,
    });
    await this.accounts.markNoticeSent(d.orgId, d.delinquentSince, d.state, this.clock.now());
  }
}
