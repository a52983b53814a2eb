import { Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiEndpoint, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import {
  authUserSchema, authUsersPageSchema, CreateAuthUser, createAuthUserSchema, ListAuthUsersQuery, listAuthUsersQuerySchema, UpdateAuthUser,
  updateAuthUserSchema,
} from './auth-users.dto';
import { AuthUsersService } from './auth-users.service';

/**
 * A project's end users for console callers. GoTrue's admin API (`/p/:ref/auth/v1/admin/users`) takes the secret
 * key only, which a browser must never hold; these routes do the same work on the caller's org role instead.
 */
@ApiTags('auth')
@Controller('v1/projects/:ref/auth/users')
@ConsoleApi()
export class AuthUsersController {
  constructor(private readonly users: AuthUsersService) {}

  @ApiEndpoint({ summary: 'List end users', description: "A page of the project's end users, newest first; `search` matches part of an email address (case-insensitive) or a whole user id. Any member of the org may list.", response: authUsersPageSchema })
  @Get()
  @RequirePermission('read', 'Project')
  list(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodQuery(listAuthUsersQuerySchema) q: ListAuthUsersQuery) {
    return this.users.list(p, ref, q);
  }

  @ApiEndpoint({ summary: 'Get an end user', description: 'One end user of the project, as GoTrue shows them.', response: authUserSchema })
  @Get(':id')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.users.get(p, ref, id);
  }

  @ApiEndpoint({ summary: 'Create an end user', description: "Creates an end user with an email and optionally a password (checked against the project's password rules), already confirmed when `email_confirm` is true. A taken address is 409. Audited.", status: 201, response: authUserSchema })
  @Post()
  @RequirePermission('update', 'Project')
  create(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(createAuthUserSchema) body: CreateAuthUser) {
    return this.users.create(p, ref, body);
  }

  @ApiEndpoint({ summary: 'Change an end user', description: 'Bans for a duration (`ban_duration: "24h"`; a ban ends every session) or lifts a ban (`"none"`), confirms the address, sets a new email or password, or merges metadata. Audited (which fields changed, never their values).', response: authUserSchema })
  @Patch(':id')
  @RequirePermission('update', 'Project')
  update(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string, @ZodBody(updateAuthUserSchema) body: UpdateAuthUser) {
    return this.users.update(p, ref, id, body);
  }

  @ApiEndpoint({ summary: 'Delete an end user', description: 'Deletes the end user with their identities and sessions (their refresh tokens stop working at once). Audited.', status: 204 })
  @Delete(':id')
  @RequirePermission('update', 'Project')
  @HttpCode(204)
  remove(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @Param('id') id: string) {
    return this.users.remove(p, ref, id);
  }
}
