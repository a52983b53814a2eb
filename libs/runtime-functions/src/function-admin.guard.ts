import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { KeyResolver } from '@plinth/gateway';
import { ConsoleAuthGuard, Principal } from '@plinth/identity';

/** Who manages a project's functions: a console user (org role checked per project) or the project's secret key. */
export type FunctionAdmin = { kind: 'console'; principal: Principal } | { kind: 'key'; projectId: string; keyId: string };

type AdminRequest = Request & { principal?: Principal; functionAdmin?: FunctionAdmin };

/**
 * As the table catalog takes it: a console caller with the route's permission, or the project's own secret key
 * (judged by the gateway's {@link KeyResolver}, every restriction applied), so deploy scripts can ship functions.
 */
@Injectable()
export class FunctionAdminGuard implements CanActivate {
  constructor(
    private readonly consoleGuard: ConsoleAuthGuard,
    private readonly keys: KeyResolver,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AdminRequest>();
    const presented = this.keys.presentedKey(req.headers);
    if (!presented) {
      await this.consoleGuard.canActivate(ctx);
      req.functionAdmin = { kind: 'console', principal: req.principal! };
      return true;
    }
    const { key, project } = await this.keys.check(req, presented, String(req.params.ref), 'catalog');
    req.functionAdmin = { kind: 'key', projectId: project.id, keyId: key.id };
    return true;
  }
}

export const CurrentFunctionAdmin = createParamDecorator((_: unknown, ctx: ExecutionContext): FunctionAdmin => {
  const req = ctx.switchToHttp().getRequest<AdminRequest>();
  if (!req.functionAdmin) throw new Error('CurrentFunctionAdmin used on a route without FunctionAdminGuard');
  return req.functionAdmin;
});
