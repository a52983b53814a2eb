import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/** Where a request came from, for the audit log. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export function requestMetaOf(req: Request): RequestMeta {
  return {
    ip: req.ip ?? null,
    userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
    requestId: (req as Request & { id?: string }).id ?? null,
  };
}

/** Parameter decorator giving the {@link RequestMeta} of the current request. */
export const ReqMeta = createParamDecorator((_: unknown, ctx: ExecutionContext) =>
  requestMetaOf(ctx.switchToHttp().getRequest<Request>()),
);
