import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlinthException } from '@plinth/common';

/**
 * The operator routes (`/v1/admin/…`): `Authorization: Bearer <OPERATOR_TOKEN>`. Without OPERATOR_TOKEN they
 * don't exist (404); a wrong or missing token is a 401. Console users, whatever their org role, are not operators.
 */
@Injectable()
export class OperatorGuard implements CanActivate {
  private readonly digest: Buffer | undefined;

  constructor(@Inject(PLINTH_CONFIG) config: PlinthConfig) {
    this.digest = config.operatorToken === undefined ? undefined : sha256(config.operatorToken);
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (this.digest === undefined) throw PlinthException.notFound('Route');
    const header = ctx.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const presented = /^Bearer (.+)$/.exec(header)?.[1];
    // Digests, so the comparison takes the same time whatever the length presented.
    if (presented === undefined || !timingSafeEqual(sha256(presented), this.digest)) throw PlinthException.unauthorized('Operator token required');
    return true;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
