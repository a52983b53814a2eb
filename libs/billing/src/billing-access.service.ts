import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { ErrorCode, PlinthException } from '@plinth/common';
import { CacheInvalidation } from '@plinth/database';
import { Clock } from '@plinth/common';
import { BillingAccountRepository } from './billing-account.repository';
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
    private readonly accounts: BillingAccountRepository,
    private readonly invalidation: CacheInvalidation,
    private readonly clock: Clock,
  ) {}

  /** The org's cached `delinquent_since` (an object, so a cached null is told from a miss), or undefined. */
  private cachedSince(orgId: string): { since: Date | null } | undefined {
    const hit = this.cache.get(orgId);
    return hit !== undefined && hit.until > Date.now() ? hit : undefined;
  }

  private async load(orgId: string): Promise<{ since: Date | null }> {
    const hit = { since: await this.accounts.delinquentSince(orgId), until: Date.now() + TTL_MS };
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(orgId, hit);
    return hit;
  }

  private stateOf(hit: { since: Date | null }): Delinquency {
    return delinquency(hit.since, this.clock.nowMs(), this.config.billing.graceDays, this.config.billing.readOnlyDays);
  }

  onModuleInit(): void {
    this.invalidation.subscribe(BILLING_ACCESS_TOPIC, (orgId) => this.cache.delete(orgId));
  }

  async delinquency(orgId: string): Promise<Delinquency> {
    return this.stateOf(this.cachedSince(orgId) ?? (await this.load(orgId)));
  }

  /**
   * 402 `payment_required` for writes of a read-only org and for every request of a suspended one. Decided at
   * once (returns undefined, or throws) while the org's state is cached; otherwise a promise to await.
   */
  admit(orgId: string, write: boolean): Promise<void> | undefined {
    const cached = this.cachedSince(orgId);
    if (cached !== undefined) {
      refuse(this.stateOf(cached), write);
      return undefined;
    }
    return this.load(orgId).then((since) => refuse(this.stateOf(since), write));
  }

  /** Drops this instance's cached state of an org (others learn through the invalidation topic). */
  forget(orgId: string): void {
    this.cache.delete(orgId);
  }
}

function refuse(d: Delinquency, write: boolean): void {
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
