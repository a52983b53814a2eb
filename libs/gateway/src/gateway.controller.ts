import { All, Controller, Get, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PlinthException } from '@plinth/common';
import { TenantDatabase } from '@plinth/database';
import { GatewayGuard } from './gateway.guard';
import { Tenant, TenantContext } from './tenant-context';

/**
 * Tenant entry points. The data runtime's root lists the project's tables as PostgREST does (an OpenAPI 2
 * document with one definition per table the caller's role can reach); other runtime paths are 404 until
 * their runtimes exist.
 */
@ApiExcludeController()
@Controller('p/:ref/:runtime/v1')
@UseGuards(GatewayGuard)
export class GatewayController {
  /** Table lists per project, briefly cached: the root is polled by clients and must stay cheap. */
  private readonly tableLists = new Map<string, { tables: string[]; until: number }>();

  constructor(private readonly tenants: TenantDatabase) {}

  @Get()
  async root(@Tenant() t: TenantContext) {
    if (t.runtime !== 'rest') throw PlinthException.notFound('Route');
    const tables = await this.tablesOf(t);
    return {
      swagger: '2.0',
      info: { title: `Plinth project ${t.project.ref}`, version: '1' },
      basePath: `/p/${t.project.ref}/rest/v1`,
      paths: Object.fromEntries(tables.map((name) => [`/${name}`, {}])),
      definitions: Object.fromEntries(tables.map((name) => [name, { type: 'object', properties: {} }])),
    };
  }

  @All('*path')
  notFound(): never {
    throw PlinthException.notFound('Route');
  }

  private async tablesOf(t: TenantContext): Promise<string[]> {
    const now = Date.now();
    const hit = this.tableLists.get(t.project.id);
    if (hit && hit.until > now) return hit.tables;
    const tables = await this.tenants.asDataRole(
      { ref: t.project.ref, cluster: t.project.cluster, schema: t.project.schema, dataRole: t.project.dataRole },
      async (c) =>
        (
          await c.query<{ table_name: string }>(
            `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
            [t.project.schema],
          )
        ).rows.map((r) => r.table_name),
    );
    if (this.tableLists.size > 10_000) this.tableLists.clear();
    this.tableLists.set(t.project.id, { tables, until: now + 5000 });
    return tables;
  }
}
