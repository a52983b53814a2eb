import { Inject, Injectable } from '@nestjs/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlinthException } from '@plinth/common';
import { Clock } from '@plinth/common';
import { periodEnd } from '@plinth/metering';
import { PlansService } from '@plinth/quotas';
import type { MeterPrice, PriceVersion } from './price-book';
import { PriceBookRepository } from './price-book.repository';

export interface PublishPrices {
  base_fee_minor: number;
  meters: Record<string, MeterPrice>;
  currency?: string;
  /** Default: the start of the next calendar month. Must lie in the future. */
  effective_from?: Date;
}

/**
 * The price book's rules: prices are versions per plan, and a new version only prices periods that start after
 * it is published (effective_from in the future), so an open or closed period is never repriced. Plans
 * (control.plans, libs/quotas) keep the limits; the price book keeps what is charged.
 */
@Injectable()
export class PriceBookService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: PriceBookRepository,
    private readonly plans: PlansService,
    private readonly clock: Clock,
  ) {}

  versions(): Promise<PriceVersion[]> {
    return this.repo.all();
  }

  versionAt(planId: string, periodStart: Date): Promise<PriceVersion | null> {
    return this.repo.versionAt(planId, periodStart);
  }

  async publish(planId: string, input: PublishPrices): Promise<PriceVersion> {
    await this.plans.get(planId);
    const now = this.clock.nowMs();
    const effectiveFrom = input.effective_from ?? periodEnd(now);
    if (effectiveFrom.getTime() <= now) throw PlinthException.badRequest('A price change applies from a future period start; effective_from must be in the future');
    if (!Number.isInteger(input.base_fee_minor) || input.base_fee_minor < 0) throw PlinthException.badRequest('base_fee_minor must be a non-negative integer');
    for (const [meter, p] of Object.entries(input.meters)) {
      if (!(p.included >= 0) || !/^\d+(\.\d{1,12})?$/.test(p.unit_price)) throw PlinthException.badRequest(`Invalid price for ${meter}`);
      for (const t of p.tiers ?? []) if (!/^\d+(\.\d{1,12})?$/.test(t.unit_price)) throw PlinthException.badRequest(`Invalid tier price for ${meter}`);
    }
    return this.repo.insert({ plan_id: planId, effective_from: effectiveFrom, currency: input.currency ?? this.config.billing.currency, base_fee_minor: input.base_fee_minor, meters: input.meters });
  }
}
