import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** A table just created by a declaration, in the declaring transaction (its DDL done, as the control role). */
export interface DeclaredTable {
  projectId: string;
  ref: string;
  schema: string;
  ownerRole: string;
  table: string;
}

export type TableHook = (m: EntityManager, t: DeclaredTable) => Promise<void>;

/**
 * Where other runtimes add DDL of their own to a newly declared table (the notifications runtime's change capture),
 * run inside the declaring transaction so the table and what hangs on it commit or roll back together. The data
 * runtime must not depend on them; they register here at start-up.
 */
@Injectable()
export class TableHooks {
  private readonly hooks: Array<{ name: string; hook: TableHook }> = [];

  register(name: string, hook: TableHook): void {
    if (!this.hooks.some((h) => h.name === name)) this.hooks.push({ name, hook });
  }

  async created(m: EntityManager, t: DeclaredTable): Promise<void> {
    for (const { hook } of this.hooks) await hook(m, t);
  }
}
