import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { requestMetaOf } from '@plinth/common';
import type { AuditActor } from '@plinth/audit';
import type { Permissions } from './abilities';

/** The authenticated console caller, set by ConsoleAuthGuard. */
export interface Principal {
  userId: string;
  via: 'session' | 'pat';
  sessionId: string | null;
  tokenId: string | null;
  permissions: Permissions;
  actor: AuditActor;
}

export type ConsoleRequest = Request & { principal?: Principal };

/** Parameter decorator: the {@link Principal} of a request that passed ConsoleAuthGuard. */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<ConsoleRequest>();
  if (!req.principal) throw new Error('CurrentPrincipal used on a route without ConsoleAuthGuard');
  return req.principal;
});

export function actorFor(req: Request, via: Principal['via'], id: string): AuditActor {
  return { type: via === 'pat' ? 'pat' : 'user', id, meta: requestMetaOf(req) };
}
