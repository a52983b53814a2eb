import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** Names of a tenant's schema and roles, handed to provisioning hooks. */
export interface TenantNames {
  ref: string;
  schema: string;
  ownerRole: string;
  dataRole: string;
  /** The auth runtime's role: a hook creating auth tables grants them to it. */
  authRole: string;
}

/**
 * Where tenant DDL runs: an open transaction on the project's cluster, as its admin user (the control plane's
 * EntityManager for the default cluster, a connection of another cluster otherwise). Only `query` is offered.
 */
export interface TenantSql {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** DDL a runtime adds to every project (its own tables in `t_<ref>`), run in the provisioning transaction. */
export type ProvisioningHook = (m: TenantSql, names: TenantNames) => Promise<void>;

/**
 * A check run before a project is created, in the creating transaction after the org row is locked (so
 * concurrent creates in one org are serialised): it throws a PlinthException to refuse, e.g. over a plan's
 * projects-per-org limit.
 */
export type ProjectAdmission = (m: EntityManager, orgId: string) => Promise<void>;

/**
 * Runtimes register here at start-up (tenancy must not depend on them). Hooks run in registration order,
 * inside the same transaction as the schema and roles, so a failing hook leaves nothing behind. They must
 * stay cheap: provisioning's budget is 100 ms at p95.
 */
@Injectable()
export class ProvisioningHooks {
  private readonly hooks: Array<{ name: string; hook: ProvisioningHook }> = [];
  private readonly admissions: Array<{ name: string; check: ProjectAdmission }> = [];

  register(name: string, hook: ProvisioningHook): void {
    if (this.hooks.some((h) => h.name === name)) return;
    this.hooks.push({ name, hook });
  }

  registerAdmission(name: string, check: ProjectAdmission): void {
    if (this.admissions.some((a) => a.name === name)) return;
    this.admissions.push({ name, check });
  }

  async admit(m: EntityManager, orgId: string): Promise<void> {
    for (const { check } of this.admissions) await check(m, orgId);
  }

  async run(m: TenantSql, names: TenantNames): Promise<void> {
    for (const { hook } of this.hooks) await hook(m, names);
  }
}
