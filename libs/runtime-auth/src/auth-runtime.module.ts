import { Module, OnModuleInit } from '@nestjs/common';
import { EndUserTokens, GatewayModule } from '@plinth/gateway';
import { IdentityModule } from '@plinth/identity';
import { MailModule } from '@plinth/mail';
import { MeteringModule } from '@plinth/metering';
import { QuotasModule } from '@plinth/quotas';
import { TenancyModule, ProvisioningHooks } from '@plinth/tenancy';
import { AuthAdminService } from './auth-admin.service';
import { AuthConfigRepository } from './auth-config.repository';
import { AuthConfigService } from './auth-config.service';
import { AuthLimitsService } from './auth-limits.service';
import { AuthMailer } from './auth-mailer';
import { createAuthTables } from './auth-schema';
import { AuthSettingsController } from './auth-settings.controller';
import { AuthSettingsService } from './auth-settings.service';
import { AuthUsersController } from './auth-users.controller';
import { AuthUsersService } from './auth-users.service';
import { AuthTokensService } from './auth-tokens.service';
import { AuthEdge } from './auth-edge';
import { AuthRepository } from './auth.repository';
import { AuthService } from './auth.service';
import { MauRepository } from './mau.repository';
import { MauService } from './mau.service';
import { FlowStateRepository } from './flow-state.repository';
import { MfaRepository } from './mfa.repository';
import { MfaService } from './mfa.service';
import { IdentityRepository } from './identity.repository';
import { OAUTH_PROVIDER_FETCH, OAuthService, providerFetch } from './oauth.service';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PkceService } from './pkce.service';
import { InviteService } from './invite.service';
import { ReauthenticationService } from './reauthentication.service';
import { SecretBox } from './secret-box';
import { SendAuthEmailJob } from './send-auth-email.job';
import { SigningKeysRepository } from './signing-keys.repository';
import { SigningKeysService } from './signing-keys.service';

/** What sends auth emails (the outbox job); the worker imports this alone, the api gets it via AuthRuntimeModule. */
@Module({
  imports: [MailModule],
  providers: [SecretBox, AuthConfigRepository, AuthConfigService, AuthMailer, SendAuthEmailJob],
  exports: [SecretBox, AuthConfigService, AuthMailer],
})
export class AuthJobsModule {}

/**
 * The auth runtime: GoTrue-compatible endpoints at `/p/:ref/auth/v1` (registered with the tenant edge by {@link AuthEdge}), the project auth settings in the management
 * API, per-project tables created at provisioning, and the gateway's end-user token verifier.
 */
@Module({
  imports: [GatewayModule, TenancyModule, IdentityModule, MeteringModule, QuotasModule, AuthJobsModule],
  controllers: [AuthSettingsController, AuthUsersController],
  providers: [AuthEdge, AuthRepository, SigningKeysRepository, SigningKeysService, AuthTokensService, AuthLimitsService, MauRepository, MauService, AuthService, AuthAdminService, AuthSettingsService, InviteService, ReauthenticationService,
    FlowStateRepository, PkceService, MfaRepository, MfaService, IdentityRepository, OAuthService, AuthUsersService,
    { provide: OAUTH_PROVIDER_FETCH, inject: [PLINTH_CONFIG], useFactory: (config: PlinthConfig) => providerFetch(config) }],
  exports: [AuthTokensService],
})
export class AuthRuntimeModule implements OnModuleInit {
  constructor(
    private readonly hooks: ProvisioningHooks,
    private readonly endUsers: EndUserTokens,
    private readonly tokens: AuthTokensService,
  ) {}

  onModuleInit(): void {
    this.hooks.register('auth', createAuthTables);
    this.endUsers.register(this.tokens);
  }
}
