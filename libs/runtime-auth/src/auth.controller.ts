import { Controller, Delete, Get, HttpCode, Param, Post, Put, Req, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { GatewayGuard, Tenant, TenantContext, TenantRequest } from '@plinth/gateway';
import { AuthAdminService } from './auth-admin.service';
import {
  adminUserSchema, generateLinkSchema, GoTrueBody, GoTrueQuery, listUsersQuerySchema, logoutQuerySchema, otpSchema, parseOrThrow,
  passwordGrantSchema, recoverSchema, refreshGrantSchema, signupSchema, tokenQuerySchema, updateUserSchema, verifyLinkSchema, verifySchema,
} from './auth.dto';
import { AuthCall, AuthService } from './auth.service';
import { GoTrueException } from './gotrue.exception';
import { SigningKeysService } from './signing-keys.service';

function callOf(req: TenantRequest, tenant: TenantContext): AuthCall {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1] ?? null;
  const redirect = req.query.redirect_to;
  return {
    tenant,
    ip: req.ip ?? '',
    userAgent: req.get('user-agent') ?? null,
    bearer: bearer && !bearer.startsWith('pl_') ? bearer : null,
    redirectTo: typeof redirect === 'string' && redirect.length <= 2000 ? redirect : undefined,
  };
}

/** GoTrue-compatible end-user auth at `/p/:ref/auth/v1`, as supabase-js `auth` calls it. */
@ApiExcludeController()
@Controller('p/:ref/auth/v1')
@UseGuards(GatewayGuard)
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly admin: AuthAdminService,
    private readonly keys: SigningKeysService,
  ) {}

  @Get('settings')
  settings(@Tenant() t: TenantContext) {
    return this.auth.publicSettings(t.project);
  }

  @Get('.well-known/jwks.json')
  jwks(@Tenant() t: TenantContext) {
    return this.keys.jwks(t.project.id);
  }

  @Post('signup')
  @HttpCode(200)
  signup(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueBody(signupSchema) body: z.infer<typeof signupSchema>) {
    return this.auth.signup(callOf(req, t), body);
  }

  @Post('token')
  @HttpCode(200)
  token(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueQuery(tokenQuerySchema) q: z.infer<typeof tokenQuerySchema>, @GoTrueBody(z.object({}).passthrough()) body: unknown) {
    if (q.grant_type === 'password') return this.auth.passwordGrant(callOf(req, t), parseOrThrow(passwordGrantSchema, body));
    if (q.grant_type === 'refresh_token') return this.auth.refreshGrant(callOf(req, t), parseOrThrow(refreshGrantSchema, body));
    throw GoTrueException.validation('unsupported_grant_type');
  }

  @Get('user')
  user(@Tenant() t: TenantContext, @Req() req: TenantRequest) {
    return this.auth.getUser(callOf(req, t));
  }

  @Put('user')
  updateUser(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueBody(updateUserSchema) body: z.infer<typeof updateUserSchema>) {
    return this.auth.updateUser(callOf(req, t), body);
  }

  @Post('logout')
  @HttpCode(204)
  async logout(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueQuery(logoutQuerySchema) q: z.infer<typeof logoutQuerySchema>): Promise<void> {
    await this.auth.logout(callOf(req, t), q.scope ?? 'global');
  }

  @Post('otp')
  @HttpCode(200)
  otp(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueBody(otpSchema) body: z.infer<typeof otpSchema>) {
    return this.auth.otp(callOf(req, t), body);
  }

  @Post('recover')
  @HttpCode(200)
  recover(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueBody(recoverSchema) body: z.infer<typeof recoverSchema>) {
    return this.auth.recover(callOf(req, t), body);
  }

  @Post('verify')
  @HttpCode(200)
  verify(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueBody(verifySchema) body: z.infer<typeof verifySchema>) {
    return this.auth.verify(callOf(req, t), body);
  }

  /** The emailed link: 303 to the redirect URL with the session (or the error) in the fragment. */
  @Get('verify')
  async verifyLink(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueQuery(verifyLinkSchema) q: z.infer<typeof verifyLinkSchema>, @Res() res: Response) {
    res.redirect(303, await this.auth.verifyLink({ ...callOf(req, t), redirectTo: undefined }, q));
  }

  @Get('admin/users')
  async listUsers(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueQuery(listUsersQuerySchema) q: z.infer<typeof listUsersQuerySchema>, @Res({ passthrough: true }) res: Response) {
    const page = typeof q.page === 'number' ? q.page : 1;
    const perPage = typeof q.per_page === 'number' ? q.per_page : 50;
    const { users, total } = await this.admin.list(t, page, perPage);
    const links: string[] = [];
    const base = `${req.baseUrl}${req.path}`;
    const last = Math.max(1, Math.ceil(total / perPage));
    if (page < last) links.push(`<${base}?page=${page + 1}&per_page=${perPage}>; rel="next"`);
    links.push(`<${base}?page=${last}&per_page=${perPage}>; rel="last"`);
    res.setHeader('x-total-count', String(total));
    res.setHeader('link', links.join(', '));
    return { users, aud: 'authenticated' };
  }

  @Post('admin/users')
  @HttpCode(200)
  createUser(@Tenant() t: TenantContext, @GoTrueBody(adminUserSchema) body: z.infer<typeof adminUserSchema>) {
    return this.admin.create(t, body);
  }

  @Get('admin/users/:id')
  getUser(@Tenant() t: TenantContext, @Param('id') id: string) {
    return this.admin.get(t, id);
  }

  @Put('admin/users/:id')
  adminUpdateUser(@Tenant() t: TenantContext, @Param('id') id: string, @GoTrueBody(adminUserSchema) body: z.infer<typeof adminUserSchema>) {
    return this.admin.update(t, id, body);
  }

  @Delete('admin/users/:id')
  deleteUser(@Tenant() t: TenantContext, @Param('id') id: string) {
    return this.admin.delete(t, id);
  }

  @Post('admin/generate_link')
  @HttpCode(200)
  generateLink(@Tenant() t: TenantContext, @Req() req: TenantRequest, @GoTrueBody(generateLinkSchema) body: z.infer<typeof generateLinkSchema>) {
    const call = callOf(req, t);
    return this.admin.generateLink({ ...call, redirectTo: body.redirect_to ?? call.redirectTo }, body);
  }
}

