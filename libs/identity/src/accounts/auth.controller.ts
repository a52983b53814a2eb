import { Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, ReqMeta, RequestMeta, UuidParam, ZodBody } from '@plinth/common';
import { ConsoleApi } from '../authz/console-auth.guard';
import { CurrentPrincipal, Principal } from '../authz/principal';
import { PersonalAccessTokenService } from '../tokens/personal-access-token.service';
import { AccountsService } from './accounts.service';
import { createPatSchema, loginSchema, refreshSchema, signupSchema } from './auth.dto';
import { z } from 'zod';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(private readonly accounts: AccountsService) {}

  @Post('signup')
  @ApiZodBody(signupSchema)
  signup(@ZodBody(signupSchema) body: z.infer<typeof signupSchema>, @ReqMeta() meta: RequestMeta) {
    return this.accounts.signup(body, meta);
  }

  @Post('login')
  @HttpCode(200)
  @ApiZodBody(loginSchema)
  login(@ZodBody(loginSchema) body: z.infer<typeof loginSchema>) {
    return this.accounts.login(body);
  }

  @Post('refresh')
  @HttpCode(200)
  @ApiZodBody(refreshSchema)
  refresh(@ZodBody(refreshSchema) body: z.infer<typeof refreshSchema>) {
    return this.accounts.refresh(body.refresh_token);
  }
}

@ApiTags('auth')
@Controller('v1')
@ConsoleApi()
export class SessionController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly pats: PersonalAccessTokenService,
  ) {}

  @Post('auth/logout')
  @HttpCode(204)
  async logout(@CurrentPrincipal() p: Principal) {
    if (p.sessionId) await this.accounts.logout(p.sessionId);
  }

  @Get('me')
  me(@CurrentPrincipal() p: Principal) {
    return this.accounts.me(p.userId);
  }

  @Get('me/tokens')
  listTokens(@CurrentPrincipal() p: Principal) {
    return this.pats.list(p.userId);
  }

  @Post('me/tokens')
  @ApiZodBody(createPatSchema)
  createToken(@CurrentPrincipal() p: Principal, @ZodBody(createPatSchema) body: z.infer<typeof createPatSchema>) {
    return this.pats.create(p, body.name, body.expires_in_days);
  }

  @Delete('me/tokens/:id')
  @HttpCode(204)
  revokeToken(@CurrentPrincipal() p: Principal, @UuidParam('id', 'Token') id: string) {
    return this.pats.revoke(p, id);
  }
}
