import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { JobData, JobHandler, JobRegistry, OutboxService, QUEUES } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { OrgsRepository } from '@plinth/identity';
import { BillingAccountRepository } from './billing-account.repository';
import { BILLING_JOBS } from './billing.constants';
import { delinquency, DelinquencyState } from './delinquency';
import { SEND_DELINQUENCY_NOTICE_JOB, SendDelinquencyNoticeData } from './send-delinquency-notice.job';

export interface DelinquencyNoticeRun {
  orgId: string;
  state: DelinquencyState;
  /** The owners and billing members the notice is for. */
  to: string[];
  /** True when this run recorded the notice and queued its email; false when this state's notice already was. */
  queued: boolean;
}

/**
 * Daily: for each delinquent org, records a notice for the state it is in (grace, read-only, suspended) once per
 * delinquency episode, and queues its email to the owners and billing members in the same transaction (the
 * {@link SendDelinquencyNoticeJob} sends it). So an org hears once when payment fails, once when its projects
 * become read-only and once when they are suspended — not every day.
 */
@Injectable()
export class DelinquencyNoticesJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.billing;
  readonly name = BILLING_JOBS.delinquencyNotices;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly tx: ControlTransactions,
    private readonly orgs: OrgsRepository,
    private readonly accounts: BillingAccountRepository,
    private readonly outbox: OutboxService,
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

  /** One entry per delinquent org: its state, the recipients, and whether this run queued the notice. */
  async run(): Promise<DelinquencyNoticeRun[]> {
    const out: DelinquencyNoticeRun[] = [];
    const now = this.clock.now();
    for (const a of await this.accounts.delinquent()) {
      const d = delinquency(a.delinquent_since, now.getTime(), this.config.billing.graceDays, this.config.billing.readOnlyDays);
      if (d.state === 'ok' || !a.delinquent_since) continue;
      const since = a.delinquent_since;
      const state = d.state;
      const to = await this.orgs.billingRecipients(a.org_id);
      const queued = await this.tx.run(async (m) => {
        if (!(await this.accounts.recordNotice(m, a.org_id, since, state, now))) return false;
        await this.outbox.enqueue<SendDelinquencyNoticeData>(m, {
          queue: QUEUES.email,
          name: SEND_DELINQUENCY_NOTICE_JOB,
          data: { orgId: a.org_id, delinquentSince: since.toISOString(), state },
          dedupeKey: `${a.org_id}:${since.toISOString()}:${state}`,
        });
        return true;
      });
      out.push({ orgId: a.org_id, state, to, queued });
    }
    return out;
  }
}
