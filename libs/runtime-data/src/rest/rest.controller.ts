import { Controller, Delete, Get, Param, Patch, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { GatewayGuard, Tenant, TenantContext } from '@plinth/gateway';
import { restQueryOf, sendOpenApi, sendPostgrest } from './rest-http';
import { RestMethod, RestService } from './rest.service';

/**
 * `/p/:ref/rest/v1`: the PostgREST dialect supabase-js speaks, over the project's declared tables. The root is the
 * project's OpenAPI document (complete with the secret key; limited to what the caller may use otherwise).
 */
@ApiExcludeController()
@Controller('p/:ref/rest/v1')
@UseGuards(GatewayGuard)
export class RestController {
  constructor(private readonly rest: RestService) {}

  /** Sent as Express would send the document object (see {@link sendOpenApi}). */
  @Get()
  async openApi(@Tenant() t: TenantContext, @Req() req: Request, @Res() res: Response): Promise<void> {
    sendOpenApi(req, res, await this.rest.openApi(t));
  }

  @Get(':table')
  read(@Tenant() t: TenantContext, @Param('table') table: string, @Req() req: Request, @Res() res: Response) {
    return this.serve(t, req.method === 'HEAD' ? 'HEAD' : 'GET', table, req, res);
  }

  @Post(':table')
  insert(@Tenant() t: TenantContext, @Param('table') table: string, @Req() req: Request, @Res() res: Response) {
    return this.serve(t, 'POST', table, req, res);
  }

  @Patch(':table')
  update(@Tenant() t: TenantContext, @Param('table') table: string, @Req() req: Request, @Res() res: Response) {
    return this.serve(t, 'PATCH', table, req, res);
  }

  @Delete(':table')
  remove(@Tenant() t: TenantContext, @Param('table') table: string, @Req() req: Request, @Res() res: Response) {
    return this.serve(t, 'DELETE', table, req, res);
  }

  private async serve(t: TenantContext, method: RestMethod, table: string, req: Request, res: Response): Promise<void> {
    const r = await this.rest.handle(t, { method, table, query: restQueryOf(req.originalUrl), headers: req.headers, body: req.body });
    sendPostgrest(res, r);
  }
}
