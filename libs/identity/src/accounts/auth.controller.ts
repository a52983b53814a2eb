import { Controller, Delete, Get, Header, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiZodBody, ReqMeta, RequestMeta, UuidParam, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi } from '../authz/console-auth.guard';
import { CurrentPrincipal, Principal } from '../authz/principal';
import { PersonalAccessTokenService } from '../tokens/personal-access-token.service';
import { AccountsService } from './accounts.service';
import { createPatSchema, loginSchema, refreshSchema, resendVerificationSchema, signupSchema, verifyCodeSchema, verifyLinkQuerySchema } from './auth.dto';
import { EmailVerificationService } from './email-verification.service';
import { verificationPage } from './verification-page';
import { SESSION_HEADER, SessionCookies } from './session-cookie';
import { z } from 'zod';

const COOKIE_HEADER_DOC = {
  name: SESSION_HEADER,
  required: false,
  description: '`cookie`: keep the refresh token in an httpOnly cookie (the web console) instead of the response body',
  schema: { type: 'string', enum: ['cookie'] },
};

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly verification: EmailVerificationService,
    private readonly cookies: SessionCookies,
  ) {}

  @Post('signup')
  @ApiZodBody(signupSchema)
  @ApiHeader(COOKIE_HEADER_DOC)
  async signup(
    @ZodBody(signupSchema) body: z.infer<typeof signupSchema>,
    @ReqMeta() meta: RequestMeta,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.cookies.deliver(req, res, await this.accounts.signup(body, meta));
  }

  @Post('login')
  @HttpCode(200)
  @ApiZodBody(loginSchema)
  @ApiHeader(COOKIE_HEADER_DOC)
  async login(
    @ZodBody(loginSchema) body: z.infer<typeof loginSchema>,
    @ReqMeta() meta: RequestMeta,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.cookies.deliver(req, res, await this.accounts.login(body, meta));
  }

  @Post('verify')
  @HttpCode(200)
  @ApiZodBody(verifyCodeSchema)
  verify(@ZodBody(verifyCodeSchema) body: z.infer<typeof verifyCodeSchema>, @ReqMeta() meta: RequestMeta) {
    return this.verification.verifyCode(body.email, body.code, meta);
  }

  /** The emailed link: a browser opens it, so the answer is a small page. */
  @Get('verify')
  @Header('cache-control', 'no-store')
  @Header('referrer-policy', 'no-referrer')
  @Header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
  async verifyLink(@ZodQuery(verifyLinkQuerySchema) q: z.infer<typeof verifyLinkQuerySchema>, @Res() res: Response) {
    const page = verificationPage(await this.verification.verifyLink(q.token));
    res.status(page.status).type('html').send(page.html);
  }

  @Post('verify/resend')
  @HttpCode(202)
  @ApiZodBody(resendVerificationSchema)
  async resend(@ZodBody(resendVerificationSchema) body: z.infer<typeof resendVerificationSchema>, @ReqMeta() meta: RequestMeta) {
    await this.verification.resend(body.email, meta);
    return { message: 'If this address has an account waiting for verification, a new code and link are on their way.' };
  }

  @Post('refresh')
  @HttpCode(200)
  @ApiZodBody(refreshSchema)
  refresh(@ZodBody(refreshSchema) body: z.infer<typeof refreshSchema>) {
    return this.accounts.refresh(body.refresh_token);
  }

  /** The cookie session's refresh: rotates the cookie, answers a new access token (no refresh token in the body). */
  @Post('session/refresh')
  @HttpCode(200)
  @ApiHeader({ ...COOKIE_HEADER_DOC, required: true })
  async cookieRefresh(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const presented = this.cookies.read(req);
    try {
      return this.cookies.deliver(req, res, await this.accounts.refresh(presented));
    } catch (e) {
      this.cookies.clear(res);
      throw e;
    }
  }

  /** Signs the cookie session out: its session ends and the cookie is cleared. */
  @Post('session/logout')
  @HttpCode(204)
  @ApiHeader({ ...COOKIE_HEADER_DOC, required: true })
  async cookieLogout(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const presented = this.cookies.read(req);
    this.cookies.clear(res);
    await this.accounts.logoutByRefreshToken(presented);
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
