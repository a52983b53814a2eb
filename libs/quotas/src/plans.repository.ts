import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { DEFAULT_PLAN_ID, Plan } from './plan';

const PLAN_COLUMNS = 'id, name, monthly_price_cents, hard_caps, included, unit_price_cents, rate_limits, limits';

/** control.plans and control.org_plans (which plan each org is on; none means the default plan). */
@Injectable()
export class PlansRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Public plans, cheapest first. */
  async listPublic(): Promise<Plan[]> {
    return (await this.db.query(`SELECT ${PLAN_COLUMNS} FROM control.plans WHERE public ORDER BY sort, id`)) as Plan[];
  }

  /** Every plan, public or not. */
  async all(): Promise<Plan[]> {
    return (await this.db.query(`SELECT ${PLAN_COLUMNS} FROM control.plans`)) as Plan[];
  }

  /** The org's plan id, or null when it has none recorded (it is then on the default plan). */
  async orgPlanId(orgId: string): Promise<string | null> {
    const rows = (await this.db.query(`SELECT plan_id FROM control.org_plans WHERE org_id = $1`, [orgId])) as Array<{ plan_id: string }>;
    return rows[0]?.plan_id ?? null;
  }

  /** Puts the org on `planId`, in `m`'s transaction when given; returns the manager it wrote with. */
  async setOrgPlan(orgId: string, planId: string, at: Date, m: EntityManager = this.db.manager): Promise<EntityManager> {
    await m.query(
      `INSERT INTO control.org_plans (org_id, plan_id, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (org_id) DO UPDATE SET plan_id = EXCLUDED.plan_id, updated_at = EXCLUDED.updated_at`,
      [orgId, planId, at],
    );
    return m;
  }

  /**
   * The org's plan (id and name) and its `projects_per_org` (null = unlimited), read in `m`'s transaction rather
   * than from a cache, so an upgrade on another instance counts at once.
   */
  async projectsPerOrg(m: EntityManager, orgId: string): Promise<{ plan: string; name: string; max: number | null } | null> {
    const [row] = (await m.query(
      `SELECT pl.id AS plan, pl.name, (pl.limits->>'projects_per_org')::int AS max
         FROM control.plans pl
        WHERE pl.id = COALESCE((SELECT plan_id FROM control.org_plans WHERE org_id = $1), $2)`,
      [orgId, DEFAULT_PLAN_ID],
    )) as Array<{ plan: string; name: string; max: number | null }>;
    return row ?? null;
  }
}
