import { Controller, Delete, Get, Header, HttpCode, Post, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiEndpoint, ApiZodBody, ReqMeta, RequestMeta, UuidParam, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi } from '../authz/console-auth.guard';
import { CurrentPrincipal, Principal } from '../authz/principal';
import { PersonalAccessTokenService } from '../tokens/personal-access-token.service';
import { AccountsService } from './accounts.service';
import { createPatSchema, loginSchema, refreshSchema, resendVerificationSchema, signupSchema, verifyCodeSchema, verifyLinkQuerySchema } from './auth.dto';
import { EmailVerificationService } from './email-verification.service';
import { verificationPage } from './verification-page';
import { accountSchema, createdPersonalTokenSchema, messageSchema, personalTokenSchema, refreshedSessionSchema, sessionSchema, signupResultSchema, verifiedSchema } from './auth.responses';
import { z } from 'zod';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly accounts: AccountsService,
    private readonly verification: EmailVerificationService,
  ) {}

  @ApiEndpoint({ summary: 'Create an account', description: 'Creates a console account and its personal organization, signs it in, and emails a 6-digit code and a link to verify the address (the account works meanwhile, with limits until verified). Limited per IP.', status: 201, response: signupResultSchema })
  @Post('signup')
  @ApiZodBody(signupSchema)
  signup(@ZodBody(signupSchema) body: z.infer<typeof signupSchema>, @ReqMeta() meta: RequestMeta) {
    return this.accounts.signup(body, meta);
  }

  @ApiEndpoint({ summary: 'Sign in', description: 'Exchanges email and password for a console session (access and refresh token). Limited per account and per IP: 429 with Retry-After.', response: sessionSchema })
  @Post('login')
  @HttpCode(200)
  @ApiZodBody(loginSchema)
  login(@ZodBody(loginSchema) body: z.infer<typeof loginSchema>, @ReqMeta() meta: RequestMeta) {
    return this.accounts.login(body, meta);
  }

  @ApiEndpoint({ summary: 'Verify the email address with the code', description: "Confirms the account's address with the 6-digit code from the verification email. Five wrong codes end it; ask for a new one with /v1/auth/verify/resend.", response: verifiedSchema })
  @Post('verify')
  @HttpCode(200)
  @ApiZodBody(verifyCodeSchema)
  verify(@ZodBody(verifyCodeSchema) body: z.infer<typeof verifyCodeSchema>, @ReqMeta() meta: RequestMeta) {
    return this.verification.verifyCode(body.email, body.code, meta);
  }

  /** The emailed link: a browser opens it, so the answer is a small page. */
  @ApiEndpoint({ summary: 'Verify the email address with the link', description: 'The link from the verification email, opened in a browser: answers a small HTML page saying whether the address is now verified.', response: z.string().describe("An HTML page") })
  @Get('verify')
  @Header('cache-control', 'no-store')
  @Header('referrer-policy', 'no-referrer')
  @Header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
  async verifyLink(@ZodQuery(verifyLinkQuerySchema) q: z.infer<typeof verifyLinkQuerySchema>, @Res() res: Response) {
    const page = verificationPage(await this.verification.verifyLink(q.token));
    res.status(page.status).type('html').send(page.html);
  }

  @ApiEndpoint({ summary: 'Send a new verification email', description: 'Sends a fresh code and link to an address whose account is still unverified. The answer is the same whether or not the address has an account.', status: 202, response: messageSchema })
  @Post('verify/resend')
  @HttpCode(202)
  @ApiZodBody(resendVerificationSchema)
  async resend(@ZodBody(resendVerificationSchema) body: z.infer<typeof resendVerificationSchema>, @ReqMeta() meta: RequestMeta) {
    await this.verification.resend(body.email, meta);
    return { message: 'If this address has an account waiting for verification, a new code and link are on their way.' };
  }

  @ApiEndpoint({ summary: 'Refresh a console session', description: 'Exchanges a refresh token for a new access and refresh token. Refresh tokens rotate: presenting a spent one revokes the session.', response: refreshedSessionSchema })
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

  @ApiEndpoint({ summary: 'Sign out', description: 'Ends the session of the access token used (a personal access token is not affected).', status: 204 })
  @Post('auth/logout')
  @HttpCode(204)
  async logout(@CurrentPrincipal() p: Principal) {
    if (p.sessionId) await this.accounts.logout(p.sessionId);
  }

  @ApiEndpoint({ summary: 'The signed-in account', description: "The caller's account, with whether its email address is verified.", response: accountSchema })
  @Get('me')
  me(@CurrentPrincipal() p: Principal) {
    return this.accounts.me(p.userId);
  }

  @ApiEndpoint({ summary: 'List personal access tokens', description: "The caller's personal access tokens (never the tokens themselves).", response: z.array(personalTokenSchema) })
  @Get('me/tokens')
  listTokens(@CurrentPrincipal() p: Principal) {
    return this.pats.list(p.userId);
  }

  @ApiEndpoint({ summary: 'Create a personal access token', description: 'A token that acts as the caller on /v1 (for scripts and CI), optionally expiring after some days. The token is shown once, in this answer.', status: 201, response: createdPersonalTokenSchema })
  @Post('me/tokens')
  @ApiZodBody(createPatSchema)
  createToken(@CurrentPrincipal() p: Principal, @ZodBody(createPatSchema) body: z.infer<typeof createPatSchema>) {
    return this.pats.create(p, body.name, body.expires_in_days);
  }

  @ApiEndpoint({ summary: 'Revoke a personal access token', description: "Revokes one of the caller's personal access tokens at once.", status: 204 })
  @Delete('me/tokens/:id')
  @HttpCode(204)
  revokeToken(@CurrentPrincipal() p: Principal, @UuidParam('id', 'Token') id: string) {
    return this.pats.revoke(p, id);
  }
}
