import { applyDecorators, CanActivate, ExecutionContext, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth } from '@nestjs/swagger';
import { PlinthException } from '@plinth/common';
import { OrgsRepository } from '../orgs/orgs.repository';
import { AccessTokenService } from '../tokens/access-token.service';
import { PAT_PREFIX, PersonalAccessTokenService } from '../tokens/personal-access-token.service';
import { SessionService } from '../tokens/session.service';
import { Action, Permissions, SubjectType } from './abilities';
import { actorFor, ConsoleRequest } from './principal';

const PERMISSION = 'plinth:permission';

/**
 * Authenticates a console caller (access token or personal access token), builds their CASL abilities from
 * their memberships, and checks the route's declared permission at the type level. Services check instances.
 */
@Injectable()
export class ConsoleAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly access: AccessTokenService,
    private readonly sessions: SessionService,
    private readonly pats: PersonalAccessTokenService,
    private readonly members: OrgsRepository,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<ConsoleRequest>();
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw PlinthException.unauthorized('Missing bearer token');
    const token = match[1];

    let userId: string;
    let via: 'session' | 'pat';
    let sessionId: string | null = null;
    let tokenId: string | null = null;
    if (token.startsWith(`${PAT_PREFIX}_`)) {
      const pat = await this.pats.verify(token);
      if (!pat) throw PlinthException.unauthorized('Invalid or expired token');
      ({ userId, tokenId } = pat);
      via = 'pat';
    } else {
      const claims = await this.access.verify(token);
      if (!claims || !(await this.sessions.isActive(claims.sessionId))) {
        throw PlinthException.unauthorized('Invalid or expired token');
      }
      userId = claims.userId;
      sessionId = claims.sessionId;
      via = 'session';
    }

    const memberships = await this.members.membershipsOf(userId);
    const permissions = new Permissions(userId, memberships);
    req.principal = { userId, via, sessionId, tokenId, permissions, actor: actorFor(req, via, userId) };

    const required = this.reflector.get<[Action, SubjectType] | undefined>(PERMISSION, ctx.getHandler());
    if (required && !permissions.canSome(required[0], required[1])) {
      throw PlinthException.forbidden(`You may not ${required[0]} ${required[1]}`);
    }
    return true;
  }
}

/** Class decorator for `/v1` controllers that need a console caller. */
export const ConsoleApi = () => applyDecorators(UseGuards(ConsoleAuthGuard), ApiBearerAuth());

/** Method decorator declaring the permission a route needs (checked by type in the guard). */
export const RequirePermission = (action: Action, subject: SubjectType) => SetMetadata(PERMISSION, [action, subject]);
