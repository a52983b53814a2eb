import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '@plinth/audit';
import { OutboxModule } from '@plinth/jobs';
import { MailModule } from '@plinth/mail';
import { AccountsService } from './accounts/accounts.service';
import { AttemptLimiter } from './accounts/attempt-limiter';
import { CredentialsMaintenanceRepository } from './accounts/credentials-maintenance.repository';
import { ConsoleAuthLimits } from './accounts/console-auth-limits';
import { EmailVerificationEntity } from './accounts/email-verification.entity';
import { EmailVerificationsRepository } from './accounts/email-verifications.repository';
import { EmailVerificationService } from './accounts/email-verification.service';
import { PruneCredentialsJob } from './accounts/prune-credentials.job';
import { SendVerificationEmailJob } from './accounts/send-verification-email.job';
import { SessionCookies } from './accounts/session-cookie';
import { AuthController, SessionController } from './accounts/auth.controller';
import { UserEntity } from './accounts/user.entity';
import { ConsoleAuthGuard } from './authz/console-auth.guard';
import { OrgEntity, OrgInvitationEntity, OrgMemberEntity } from './orgs/org.entity';
import { OrgsRepository } from './orgs/orgs.repository';
import { OrgsController } from './orgs/orgs.controller';
import { OrgsService } from './orgs/orgs.service';
import { SendInvitationEmailJob } from './orgs/send-invitation-email.job';
import { AccessTokenService } from './tokens/access-token.service';
import { EmailSecrets } from './tokens/email-secrets';
import { PersonalAccessTokenEntity } from './tokens/personal-access-token.entity';
import { PersonalAccessTokenService } from './tokens/personal-access-token.service';
import { RefreshTokenEntity } from './tokens/refresh-token.entity';
import { SessionService } from './tokens/session.service';

@Module({
  imports: [
    AuditModule,
    OutboxModule,
    MailModule,
    TypeOrmModule.forFeature([
      UserEntity, EmailVerificationEntity, RefreshTokenEntity, PersonalAccessTokenEntity, OrgEntity, OrgMemberEntity, OrgInvitationEntity,
    ]),
  ],
  controllers: [AuthController, SessionController, OrgsController],
  providers: [
    AccountsService, AccessTokenService, SessionService, PersonalAccessTokenService, OrgsService, ConsoleAuthGuard, SendInvitationEmailJob,
    EmailSecrets, EmailVerificationService, SendVerificationEmailJob, AttemptLimiter, ConsoleAuthLimits, OrgsRepository,
    CredentialsMaintenanceRepository, PruneCredentialsJob, EmailVerificationsRepository, SessionCookies,
  ],
  // The guard's dependencies go along so other libs' controllers can use @ConsoleApi(); identity's TypeORM
  // repositories don't: other libs read its tables through OrgsRepository and the services.
  exports: [ConsoleAuthGuard, AccessTokenService, SessionService, PersonalAccessTokenService, OrgsRepository, AuditModule],
})
export class IdentityModule {}
