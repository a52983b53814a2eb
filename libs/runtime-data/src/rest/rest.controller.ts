import { Controller, Delete, Get, Param, Patch, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { GatewayGuard, Tenant, TenantContext } from '@plinth/gateway';
import { PostgrestResponse } from '../postgrest';
import { RestMethod, RestService } from './rest.service';

/** The raw query string, so parameter order and repeats reach the PostgREST parser exactly as sent. */
function queryOf(req: Request): URLSearchParams {
  const i = req.originalUrl.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : req.originalUrl.slice(i + 1));
}

function send(res: Response, r: PostgrestResponse): void {
  res.status(r.status);
  for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
  if (r.body === null) res.end();
  else res.end(r.body);
}

/**
 * `/p/:ref/rest/v1`: the PostgREST dialect supabase-js speaks, over the project's declared tables. The root is the
 * project's OpenAPI document (complete with the secret key; limited to what the caller may use otherwise).
 */
@ApiExcludeController()
@Controller('p/:ref/rest/v1')
@UseGuards(GatewayGuard)
export class RestController {
  constructor(private readonly rest: RestService) {}

  /**
   * Sent as Express would send the document object (same Content-Type and ETag, so conditional requests still get
   * 304), from the serialised copy kept with the catalog, with its ETag computed once.
   */
  @Get()
  async openApi(@Tenant() t: TenantContext, @Req() req: Request, @Res() res: Response): Promise<void> {
    const doc = await this.rest.openApi(t);
    const etag = req.app.get('etag fn') as ((body: Buffer, encoding: string) => string) | undefined;
    if (etag) res.setHeader('ETag', (doc.etag ??= etag(doc.json, 'utf8')));
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.send(doc.json);
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
    const r = await this.rest.handle(t, { method, table, query: queryOf(req), headers: req.headers, body: req.body });
    send(res, r);
  }
}
