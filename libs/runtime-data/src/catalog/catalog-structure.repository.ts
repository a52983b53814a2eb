import { Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ProjectStructure, ProjectTable } from '@plinth/tenancy';

/**
 * Reports projects' declared tables (control.data_tables, owned here) to tenancy's {@link ProjectStructure}, so
 * billing can check an org against a plan's tables/columns limits without importing the data runtime.
 */
@Injectable()
export class CatalogStructureRepository implements OnModuleInit {
  constructor(private readonly structure: ProjectStructure) {}

  onModuleInit(): void {
    this.structure.register('data.tables', (m, ids) => this.tables(m, ids));
  }

  async tables(m: EntityManager, projectIds: string[]): Promise<ProjectTable[]> {
    const rows = (await m.query(
      `SELECT project_id, name, jsonb_array_length(definition->'columns')::int AS columns FROM control.data_tables WHERE project_id = ANY($1::uuid[])`,
      [projectIds],
    )) as Array<{ project_id: string; name: string; columns: number }>;
    return rows.map((r) => ({ projectId: r.project_id, name: r.name, columns: r.columns }));
  }
}
