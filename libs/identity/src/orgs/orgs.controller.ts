import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AuditService } from '@plinth/audit';
import { ApiZodBody, UuidParam, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, RequirePermission } from '../authz/console-auth.guard';
import { CurrentPrincipal, Principal } from '../authz/principal';
import { acceptInvitationSchema, auditQuerySchema, changeRoleSchema, inviteSchema, orgNameSchema } from './orgs.dto';
import { OrgsService } from './orgs.service';

@ApiTags('organizations')
@Controller('v1')
@ConsoleApi()
export class OrgsController {
  constructor(
    private readonly orgs: OrgsService,
    private readonly audit: AuditService,
  ) {}

  @Post('orgs')
  @ApiZodBody(orgNameSchema)
  create(@CurrentPrincipal() p: Principal, @ZodBody(orgNameSchema) body: z.infer<typeof orgNameSchema>) {
    return this.orgs.create(p, body.name);
  }

  @Get('orgs')
  list(@CurrentPrincipal() p: Principal) {
    return this.orgs.list(p);
  }

  @Get('orgs/:orgId')
  @RequirePermission('read', 'Org')
  get(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.orgs.get(p, orgId);
  }

  @Patch('orgs/:orgId')
  @RequirePermission('update', 'Org')
  @ApiZodBody(orgNameSchema)
  rename(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @ZodBody(orgNameSchema) body: z.infer<typeof orgNameSchema>,
  ) {
    return this.orgs.rename(p, orgId, body.name);
  }

  @Get('orgs/:orgId/members')
  @RequirePermission('read', 'Member')
  members(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.orgs.listMembers(p, orgId);
  }

  @Patch('orgs/:orgId/members/:userId')
  @RequirePermission('update', 'Member')
  @ApiZodBody(changeRoleSchema)
  changeRole(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @UuidParam('userId', 'Member') userId: string,
    @ZodBody(changeRoleSchema) body: z.infer<typeof changeRoleSchema>,
  ) {
    return this.orgs.changeRole(p, orgId, userId, body.role);
  }

  @Delete('orgs/:orgId/members/:userId')
  @HttpCode(204)
  removeMember(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @UuidParam('userId', 'Member') userId: string,
  ) {
    return this.orgs.removeMember(p, orgId, userId);
  }

  @Post('orgs/:orgId/invitations')
  @RequirePermission('create', 'Invitation')
  @ApiZodBody(inviteSchema)
  invite(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @ZodBody(inviteSchema) body: z.infer<typeof inviteSchema>,
  ) {
    return this.orgs.invite(p, orgId, body.email, body.role);
  }

  @Get('orgs/:orgId/invitations')
  @RequirePermission('read', 'Invitation')
  invitations(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.orgs.listInvitations(p, orgId);
  }

  @Delete('orgs/:orgId/invitations/:id')
  @RequirePermission('delete', 'Invitation')
  @HttpCode(204)
  revokeInvitation(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @UuidParam('id', 'Invitation') id: string,
  ) {
    return this.orgs.revokeInvitation(p, orgId, id);
  }

  @Get('me/invitations')
  myInvitations(@CurrentPrincipal() p: Principal) {
    return this.orgs.myInvitations(p);
  }

  @Post('invitations/:id/accept')
  @HttpCode(200)
  @ApiZodBody(acceptInvitationSchema)
  accept(
    @CurrentPrincipal() p: Principal,
    @UuidParam('id', 'Invitation') id: string,
    @ZodBody(acceptInvitationSchema) body: z.infer<typeof acceptInvitationSchema>,
  ) {
    return this.orgs.accept(p, id, body.token);
  }

  @Get('orgs/:orgId/audit-log')
  @RequirePermission('read', 'AuditLog')
  auditLog(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @ZodQuery(auditQuerySchema) q: z.infer<typeof auditQuerySchema>,
  ) {
    p.permissions.assert('read', 'AuditLog', orgId, 'Organization');
    return this.audit.list(orgId, q.limit, q.before);
  }
}
