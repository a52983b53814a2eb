import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { Clock, JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { BillingAccountRepository } from './billing-account.repository';
import { BILLING_JOBS } from './billing.constants';
import { delinquency } from './delinquency';

/**
 * Daily: tells the owners and billing members of each delinquent org where it stands (grace until…, read-only
 * since…). No mail transport exists yet, so like usage alerts the notice goes to the log with its recipients.
 */
@Injectable()
export class DelinquencyNoticesJob implements JobHandler<JobData>, OnModuleInit {
  private readonly logger = new Logger(DelinquencyNoticesJob.name);
  readonly queue = QUEUES.billing;
  readonly name = BILLING_JOBS.delinquencyNotices;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly accounts: BillingAccountRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 86_400_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.run();
  }

  /** Returns the notices sent (one per delinquent org). */
  async run(): Promise<Array<{ orgId: string; state: string; to: string[] }>> {
    const sent: Array<{ orgId: string; state: string; to: string[] }> = [];
    for (const a of await this.accounts.delinquent()) {
      const d = delinquency(a.delinquent_since, this.clock.nowMs(), this.config.billing.graceDays, this.config.billing.readOnlyDays);
      const rows = (await this.db.query(
        `SELECT u.email FROM control.org_members m JOIN control.users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.role IN ('owner', 'billing') ORDER BY u.email`,
        [a.org_id],
      )) as Array<{ email: string }>;
      const to = rows.map((r) => r.email);
      const subject =
        d.state === 'grace'
          ? `Payment failed: projects become read-only on ${d.read_only_at?.toISOString()}`
          : d.state === 'read_only'
            ? `Projects are read-only; they will be suspended on ${d.suspended_at?.toISOString()}`
            : 'Projects are suspended for non-payment';
      this.logger.log({ to, org_id: a.org_id, state: d.state }, `billing notice: ${subject}`);
      sent.push({ orgId: a.org_id, state: d.state, to });
    }
    return sent;
  }
}
