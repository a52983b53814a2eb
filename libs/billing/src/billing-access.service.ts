import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ErrorCode, PlinthException } from '@plinth/common';
import { CacheInvalidation } from '@plinth/database';
import { Clock } from '@plinth/jobs';
import { BILLING_ACCESS_TOPIC } from './billing.constants';
import { delinquency, Delinquency } from './delinquency';

const TTL_MS = 30_000;

/**
 * The gateway's billing check: is this org's tenant traffic restricted for non-payment? Reads one cached
 * timestamp per org (dropped on every instance when billing changes it) and applies the timeline with the clock.
 */
@Injectable()
export class BillingAccessService implements OnModuleInit {
  private readonly cache = new Map<string, { since: Date | null; until: number }>();

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectDataSource() private readonly db: DataSource,
    private readonly invalidation: CacheInvalidation,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(BILLING_ACCESS_TOPIC, (orgId) => this.cache.delete(orgId));
  }

  async delinquency(orgId: string): Promise<Delinquency> {
    const now = Date.now();
    let hit = this.cache.get(orgId);
    if (!hit || hit.until <= now) {
      const rows = (await this.db.query(`SELECT delinquent_since FROM control.billing_accounts WHERE org_id = $1`, [orgId])) as Array<{ delinquent_since: Date | null }>;
      hit = { since: rows[0]?.delinquent_since ?? null, until: now + TTL_MS };
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(orgId, hit);
    }
    return delinquency(hit.since, this.clock.nowMs(), this.config.billing.graceDays, this.config.billing.readOnlyDays);
  }

  /** 402 `payment_required` for writes of a read-only org and for every request of a suspended one. */
  async admit(orgId: string, write: boolean): Promise<void> {
    const d = await this.delinquency(orgId);
    if (d.state === 'suspended') {
      throw new PlinthException(ErrorCode.PaymentRequired, 'This project is suspended for non-payment; pay the open invoice to restore it', undefined, undefined, {
        billing_state: d.state,
      });
    }
    if (d.state === 'read_only' && write) {
      throw new PlinthException(ErrorCode.PaymentRequired, 'This project is read-only until the open invoice is paid', undefined, undefined, {
        billing_state: d.state,
        suspended_at: d.suspended_at?.toISOString(),
      });
    }
  }

  /** Drops this instance's cached state of an org (others learn through the invalidation topic). */
  forget(orgId: string): void {
    this.cache.delete(orgId);
  }
}
