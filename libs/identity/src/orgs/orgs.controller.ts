import { Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AuditService } from '@plinth/audit';
import { ApiEndpoint, ApiZodBody, UuidParam, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, RequirePermission } from '../authz/console-auth.guard';
import { CurrentPrincipal, Principal } from '../authz/principal';
import { acceptInvitationSchema, auditQuerySchema, changeRoleSchema, inviteSchema, orgNameSchema } from './orgs.dto';
import { auditLogSchema, invitationSchema, memberSchema, myInvitationSchema, orgSchema } from './orgs.responses';
import { OrgsService } from './orgs.service';

@ApiTags('organizations')
@Controller('v1')
@ConsoleApi()
export class OrgsController {
  constructor(
    private readonly orgs: OrgsService,
    private readonly audit: AuditService,
  ) {}

  @ApiEndpoint({ summary: 'Create an organization', description: 'Creates an organization with the caller as its owner.', status: 201, response: orgSchema })
  @Post('orgs')
  @ApiZodBody(orgNameSchema)
  create(@CurrentPrincipal() p: Principal, @ZodBody(orgNameSchema) body: z.infer<typeof orgNameSchema>) {
    return this.orgs.create(p, body.name);
  }

  @ApiEndpoint({ summary: 'List my organizations', description: "The organizations the caller belongs to, with the caller's role in each.", response: z.array(orgSchema) })
  @Get('orgs')
  list(@CurrentPrincipal() p: Principal) {
    return this.orgs.list(p);
  }

  @ApiEndpoint({ summary: 'Get an organization', description: 'One organization the caller belongs to (404 for others).', response: orgSchema })
  @Get('orgs/:orgId')
  @RequirePermission('read', 'Org')
  get(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.orgs.get(p, orgId);
  }

  @ApiEndpoint({ summary: 'Rename an organization', description: 'Renames the organization; needs owner or admin.', response: orgSchema })
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

  @ApiEndpoint({ summary: 'List members', description: "The organization's members and their roles.", response: z.array(memberSchema) })
  @Get('orgs/:orgId/members')
  @RequirePermission('read', 'Member')
  members(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.orgs.listMembers(p, orgId);
  }

  @ApiEndpoint({ summary: "Change a member's role", description: "Sets a member's role. Only owners grant or remove the owner role; the last owner can't be demoted.", response: memberSchema })
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

  @ApiEndpoint({ summary: 'Remove a member', description: "Removes a member (or the caller leaves). The last owner can't leave.", status: 204 })
  @Delete('orgs/:orgId/members/:userId')
  @HttpCode(204)
  removeMember(
    @CurrentPrincipal() p: Principal,
    @UuidParam('orgId', 'Organization') orgId: string,
    @UuidParam('userId', 'Member') userId: string,
  ) {
    return this.orgs.removeMember(p, orgId, userId);
  }

  @ApiEndpoint({ summary: 'Invite a member', description: 'Emails an invitation with a token to the address; its account accepts it once verified. Only verified accounts invite.', status: 201, response: invitationSchema })
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

  @ApiEndpoint({ summary: 'List pending invitations', description: 'Invitations of the organization not yet accepted, revoked or expired.', response: z.array(invitationSchema) })
  @Get('orgs/:orgId/invitations')
  @RequirePermission('read', 'Invitation')
  invitations(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string) {
    return this.orgs.listInvitations(p, orgId);
  }

  @ApiEndpoint({ summary: 'Revoke an invitation', description: 'Revokes a pending invitation; its token stops working.', status: 204 })
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

  @ApiEndpoint({ summary: 'My invitations', description: "Pending invitations addressed to the caller's email address.", response: z.array(myInvitationSchema) })
  @Get('me/invitations')
  myInvitations(@CurrentPrincipal() p: Principal) {
    return this.orgs.myInvitations(p);
  }

  @ApiEndpoint({ summary: 'Accept an invitation', description: "Joins the organization with the token from the invitation email. The caller's verified address must be the invited one.", response: orgSchema })
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

  @ApiEndpoint({ summary: 'Audit log', description: "The organization's audit log, newest first, a page at a time: pass the last entry's id (next_before) as `before` for the next page.", response: auditLogSchema })
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
