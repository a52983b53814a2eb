import { Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Clock } from '@plinth/common';
import { CacheInvalidation } from '@plinth/database';
import { DEFAULT_PLAN_ID, Plan } from './plan';
import { PlansRepository } from './plans.repository';

const PLANS_TTL_MS = 60_000;
/**
 * An org's plan changes are pushed to every instance ({@link ORG_PLAN_TOPIC}), so an idle org's plan needn't be read
 * again every few seconds (issue 21); while the push is down entries live a second (see CacheInvalidation).
 */
const ORG_TTL_MS = 10 * 60_000;
export const ORG_PLAN_TOPIC = 'org-plan';

/** Plans and which plan each org is on (default free), cached in memory for the request path. */
@Injectable()
export class PlansService implements OnModuleInit {
  private plans: { byId: Map<string, Plan>; until: number } | undefined;
  private readonly orgPlans = new Map<string, { planId: string; until: number }>();
  private pendingPlanOf: ((orgId: string) => Promise<string | null>) | undefined;

  constructor(
    private readonly repo: PlansRepository,
    private readonly clock: Clock,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(ORG_PLAN_TOPIC, (orgId) => this.orgPlans.delete(orgId));
    this.invalidation.onResync(() => this.orgPlans.clear());
  }

  /** Public plans, cheapest first. */
  async list(): Promise<Plan[]> {
    return this.repo.listPublic();
  }

  async get(planId: string): Promise<Plan> {
    const now = Date.now();
    if (!this.plans || this.plans.until < now) {
      const rows = await this.repo.all();
      this.plans = { byId: new Map(rows.map((r) => [r.id, r])), until: now + PLANS_TTL_MS };
    }
    const plan = this.plans.byId.get(planId) ?? this.plans.byId.get(DEFAULT_PLAN_ID);
    if (!plan) throw new Error(`Plan ${planId} does not exist and no default plan is seeded`);
    return plan;
  }

  /** {@link forOrg} without waiting, for the request path: undefined unless both the org's plan and the plans are cached. */
  cachedForOrg(orgId: string): Plan | undefined {
    const now = Date.now();
    const hit = this.orgPlans.get(orgId);
    if (hit === undefined || hit.until <= now || this.plans === undefined || this.plans.until < now) return undefined;
    return this.plans.byId.get(hit.planId) ?? this.plans.byId.get(DEFAULT_PLAN_ID);
  }

  async forOrg(orgId: string): Promise<Plan> {
    const now = Date.now();
    const hit = this.orgPlans.get(orgId);
    if (hit && hit.until > now) return this.get(hit.planId);
    const planId = (await this.repo.orgPlanId(orgId)) ?? DEFAULT_PLAN_ID;
    if (this.orgPlans.size > 50_000) this.orgPlans.clear();
    this.orgPlans.set(orgId, { planId, until: now + this.invalidation.ttl(ORG_TTL_MS) });
    return this.get(planId);
  }

  /**
   * Billing says where an org's scheduled plan (a pending downgrade) is read, so {@link structuralLimits} can hold
   * the org to it before the switch.
   */
  registerPendingPlan(source: (orgId: string) => Promise<string | null>): void {
    this.pendingPlanOf = source;
  }

  /**
   * The org's structural limits (projects per org, tables per project, columns per table…) for creating things:
   * its plan's, each lowered to the scheduled plan's while a downgrade is pending, so nothing is created that the
   * org couldn't keep after the switch. Not cached: read when something is created.
   */
  async structuralLimits(orgId: string): Promise<Record<string, number>> {
    const plan = await this.forOrg(orgId);
    const pendingId = this.pendingPlanOf ? await this.pendingPlanOf(orgId) : null;
    if (pendingId === null || pendingId === plan.id) return plan.limits;
    const limits = { ...plan.limits };
    for (const [name, max] of Object.entries((await this.get(pendingId)).limits)) limits[name] = limits[name] === undefined ? max : Math.min(limits[name], max);
    return limits;
  }

  /** Puts an org on a plan (billing calls this on subscription changes, in its transaction when it passes `m`). */
  async setOrgPlan(orgId: string, planId: string, m?: EntityManager): Promise<void> {
    const used = await this.repo.setOrgPlan(orgId, planId, this.clock.now(), m);
    // Every instance (this one at once) drops its copy; delivered to the others when the write commits.
    await this.invalidation.publish(used, ORG_PLAN_TOPIC, orgId);
  }

  /** Drops cached plans (after editing control.plans). */
  forget(): void {
    this.plans = undefined;
    this.orgPlans.clear();
  }
}
