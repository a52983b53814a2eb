import { Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiEndpoint, ApiZodBody, ZodBody } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import { PatchAuthSettings, patchAuthSettingsSchema } from './auth-config.dto';
import { authSettingsViewSchema, rotatedSigningKeySchema } from './auth-settings.responses';
import { AuthSettingsService } from './auth-settings.service';

@ApiTags('auth')
@Controller('v1/projects/:ref/auth')
@ConsoleApi()
export class AuthSettingsController {
  constructor(private readonly settings: AuthSettingsService) {}

  @ApiEndpoint({ summary: 'Get auth settings', description: "The project's end-user auth settings (sign-ups, confirmation, passwords, token lifetimes, redirects, refresh-token reuse interval, reauthentication, SMTP without its password, templates, rate limits).", response: authSettingsViewSchema })
  @Get('config')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.settings.get(p, ref);
  }

  @ApiEndpoint({ summary: 'Change auth settings', description: "Changes any subset of the settings; rate_limits and templates merge field by field, smtp: null removes the project's SMTP server. Audited.", response: authSettingsViewSchema })
  @Patch('config')
  @RequirePermission('update', 'Project')
  @ApiZodBody(patchAuthSettingsSchema)
  update(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(patchAuthSettingsSchema) body: PatchAuthSettings) {
    return this.settings.update(p, ref, body);
  }

  /** A new ES256 signing key; the previous one stays in JWKS until the tokens it signed have expired. */
  @ApiEndpoint({ summary: 'Rotate the signing key', description: 'A new ES256 key signs access tokens from now on; the previous one stays in the JWKS until the tokens it signed have expired.', response: rotatedSigningKeySchema })
  @Post('signing-keys/rotate')
  @HttpCode(200)
  @RequirePermission('update', 'Project')
  rotate(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.settings.rotateSigningKey(p, ref);
  }
}
