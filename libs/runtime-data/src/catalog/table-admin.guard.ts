import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { requestMetaOf } from '@plinth/common';
import { KeyResolver } from '@plinth/gateway';
import { ConsoleAuthGuard, Principal } from '@plinth/identity';
import type { TableAdmin } from './tables.service';

type TableAdminRequest = Request & { principal?: Principal; tableAdmin?: TableAdmin };

/**
 * The catalog API takes a console caller (token or personal access token, with the route's permission) or the
 * project's own secret key (`apikey`, or `Authorization: Bearer pl_sk_…`), so deploy scripts can declare tables.
 * Any other key — another project's, a publishable or restricted one — gets the gateway's uniform 401. The key is
 * judged by the gateway's {@link KeyResolver}, so every restriction it carries (browser use, allowed origins and IP
 * ranges, expiry) applies here exactly as on `/p/:ref/…`.
 */
@Injectable()
export class TableAdminGuard implements CanActivate {
  constructor(
    private readonly consoleGuard: ConsoleAuthGuard,
    private readonly keys: KeyResolver,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<TableAdminRequest>();
    const presented = this.keys.presentedKey(req.headers);
    if (!presented) {
      await this.consoleGuard.canActivate(ctx);
      req.tableAdmin = { kind: 'console', principal: req.principal! };
      return true;
    }
    const { key, project } = await this.keys.check(req, presented, String(req.params.ref), 'catalog');
    req.tableAdmin = { kind: 'key', projectId: project.id, actor: { type: 'api_key', id: key.id, meta: requestMetaOf(req) } };
    return true;
  }
}

/** Parameter decorator: the {@link TableAdmin} set by {@link TableAdminGuard}. */
export const CurrentTableAdmin = createParamDecorator((_: unknown, ctx: ExecutionContext): TableAdmin => {
  const req = ctx.switchToHttp().getRequest<TableAdminRequest>();
  if (!req.tableAdmin) throw new Error('CurrentTableAdmin used on a route without TableAdminGuard');
  return req.tableAdmin;
});
