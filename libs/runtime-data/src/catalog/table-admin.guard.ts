import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { ErrorCode, PlinthException, requestMetaOf } from '@plinth/common';
import { ProjectDirectory } from '@plinth/gateway';
import { ConsoleAuthGuard, Principal } from '@plinth/identity';
import { KeyVerifier } from '@plinth/keys';
import type { TableAdmin } from './tables.service';

type TableAdminRequest = Request & { principal?: Principal; tableAdmin?: TableAdmin };

/**
 * The catalog API takes a console caller (token or personal access token, with the route's permission) or the
 * project's own secret key (`apikey`, or `Authorization: Bearer pl_sk_…`), so deploy scripts can declare tables.
 * Any other key — another project's, a publishable or restricted one — gets the gateway's uniform 401.
 */
@Injectable()
export class TableAdminGuard implements CanActivate {
  constructor(
    private readonly consoleGuard: ConsoleAuthGuard,
    private readonly keys: KeyVerifier,
    private readonly directory: ProjectDirectory,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<TableAdminRequest>();
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const presented = req.get('apikey')?.trim() || (bearer?.startsWith('pl_') ? bearer : undefined);
    if (!presented) {
      await this.consoleGuard.canActivate(ctx);
      req.tableAdmin = { kind: 'console', principal: req.principal! };
      return true;
    }
    const key = await this.keys.verify(presented);
    const project = await this.directory.find(String(req.params.ref));
    if (!key || key.type !== 'secret' || !project || project.id !== key.projectId) {
      throw new PlinthException(ErrorCode.InvalidApiKey, 'Invalid API key');
    }
    if (req.get('origin') && !key.allowBrowser) {
      throw PlinthException.forbidden('Secret keys cannot be used from a browser');
    }
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
