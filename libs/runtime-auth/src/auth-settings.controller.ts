import { Controller, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, ZodBody } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import { PatchAuthSettings, patchAuthSettingsSchema } from './auth-config.dto';
import { AuthSettingsService } from './auth-settings.service';

@ApiTags('auth')
@Controller('v1/projects/:ref/auth')
@ConsoleApi()
export class AuthSettingsController {
  constructor(private readonly settings: AuthSettingsService) {}

  @Get('config')
  @RequirePermission('read', 'Project')
  get(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.settings.get(p, ref);
  }

  @Patch('config')
  @RequirePermission('update', 'Project')
  @ApiZodBody(patchAuthSettingsSchema)
  update(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(patchAuthSettingsSchema) body: PatchAuthSettings) {
    return this.settings.update(p, ref, body);
  }

  /** A new ES256 signing key; the previous one stays in JWKS until the tokens it signed have expired. */
  @Post('signing-keys/rotate')
  @HttpCode(200)
  @RequirePermission('update', 'Project')
  rotate(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.settings.rotateSigningKey(p, ref);
  }
}
