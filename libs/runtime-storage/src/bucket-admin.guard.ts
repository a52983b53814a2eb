import { CanActivate, createParamDecorator, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { AuditActor } from '@plinth/audit';
import { requestMetaOf } from '@plinth/common';
import { KeyResolver } from '@plinth/gateway';
import { ConsoleAuthGuard, Principal } from '@plinth/identity';

/** Who manages a project's buckets: a console user (checked against the route's permission) or the project's secret key. */
export type BucketAdmin = { kind: 'console'; principal: Principal } | { kind: 'key'; projectId: string; actor: AuditActor };

type BucketAdminRequest = Request & { principal?: Principal; bucketAdmin?: BucketAdmin };

/**
 * `/v1/projects/:ref/buckets` takes a console caller or the project's own secret key, judged by the gateway's
 * {@link KeyResolver} on the `catalog` surface (secret keys only; every restriction of the key applies), as the
 * table catalog does.
 */
@Injectable()
export class BucketAdminGuard implements CanActivate {
  constructor(
    private readonly consoleGuard: ConsoleAuthGuard,
    private readonly keys: KeyResolver,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<BucketAdminRequest>();
    const presented = this.keys.presentedKey(req.headers);
    if (!presented) {
      await this.consoleGuard.canActivate(ctx);
      req.bucketAdmin = { kind: 'console', principal: req.principal! };
      return true;
    }
    const { key, project } = await this.keys.check(req, presented, String(req.params.ref), 'catalog');
    req.bucketAdmin = { kind: 'key', projectId: project.id, actor: { type: 'api_key', id: key.id, meta: requestMetaOf(req) } };
    return true;
  }
}

/** Parameter decorator: the {@link BucketAdmin} set by {@link BucketAdminGuard}. */
export const CurrentBucketAdmin = createParamDecorator((_: unknown, ctx: ExecutionContext): BucketAdmin => {
  const req = ctx.switchToHttp().getRequest<BucketAdminRequest>();
  if (!req.bucketAdmin) throw new Error('CurrentBucketAdmin used on a route without BucketAdminGuard');
  return req.bucketAdmin;
});
