import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/** One declared table of a project and how many columns it has. */
export interface ProjectTable {
  projectId: string;
  name: string;
  columns: number;
}

/** Lists the declared tables of these projects, read in the caller's transaction. */
export type ProjectStructureSource = (m: EntityManager, projectIds: string[]) => Promise<ProjectTable[]>;

/**
 * What projects are made of (declared tables and their columns), for checks against a plan's structural limits.
 * The data runtime owns the table catalog and registers its source here at start-up, so billing and quotas can ask
 * without depending on it (it depends on them).
 */
@Injectable()
export class ProjectStructure {
  private readonly sources: Array<{ name: string; source: ProjectStructureSource }> = [];

  register(name: string, source: ProjectStructureSource): void {
    if (this.sources.some((s) => s.name === name)) return;
    this.sources.push({ name, source });
  }

  /** Every registered runtime's tables of these projects (none when no runtime is loaded). */
  async tables(m: EntityManager, projectIds: string[]): Promise<ProjectTable[]> {
    if (!projectIds.length) return [];
    const out: ProjectTable[] = [];
    for (const { source } of this.sources) out.push(...(await source(m, projectIds)));
    return out;
  }
}
