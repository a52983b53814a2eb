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
  /** The storage runtime's role: a hook creating storage tables grants them to it. */
  storageRole: string;
}

/**
 * Where tenant DDL runs: an open transaction on the project's cluster, as its admin user (the control plane's
 * EntityManager for the default cluster, a connection of another cluster otherwise). Only `query` is offered.
 */
export interface TenantSql {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** Work a runtime adds to a project's deletion (e.g. a job removing its files), run in the control transaction deleting it. */
export type TeardownHook = (m: EntityManager, names: TenantNames) => Promise<void>;

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
  private readonly teardowns: Array<{ name: string; hook: TeardownHook }> = [];

  register(name: string, hook: ProvisioningHook): void {
    if (this.hooks.some((h) => h.name === name)) return;
    this.hooks.push({ name, hook });
  }

  /** Runs when a project is deleted, in the transaction that drops its schema (enqueue jobs there, don't do slow work). */
  registerTeardown(name: string, hook: TeardownHook): void {
    if (this.teardowns.some((h) => h.name === name)) return;
    this.teardowns.push({ name, hook });
  }

  async teardown(m: EntityManager, names: TenantNames): Promise<void> {
    for (const { hook } of this.teardowns) await hook(m, names);
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
