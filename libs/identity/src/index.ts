/** Console accounts, sessions, personal access tokens, orgs and members, and CASL authorization. */
export { IdentityModule } from './identity.module';
/** Guard + decorators for `/v1` routes: who is calling, and the permission a route needs. */
export { ConsoleAuthGuard, ConsoleApi, RequirePermission } from './authz/console-auth.guard';
export { CurrentPrincipal } from './authz/principal';
export type { Principal } from './authz/principal';
/** The caller's abilities; `assert` answers 404 to non-members and 403 to members lacking a permission. */
export { Permissions } from './authz/abilities';
export type { Action, SubjectType } from './authz/abilities';
export { ORG_ROLES } from './orgs/org.entity';
/** Org members' addresses for other libs' emails (billing and usage notices go to owners and billing members). */
export { OrgsRepository } from './orgs/orgs.repository';
export type { OrgRole } from './orgs/org.entity';
/** The outbox job that emails an org invitation (enqueued with the invitation). */
export { SendInvitationEmailJob, SEND_INVITATION_EMAIL_JOB } from './orgs/send-invitation-email.job';
export type { SendInvitationEmailData } from './orgs/send-invitation-email.job';
/** The outbox job that emails a console account its verification code and link (enqueued at sign-up and resend). */
export { SendVerificationEmailJob, SEND_VERIFICATION_EMAIL_JOB } from './accounts/send-verification-email.job';
export type { SendVerificationEmailData } from './accounts/send-verification-email.job';
/** Hourly job deleting expired/revoked refresh tokens and stale invitations. */
export { PruneCredentialsJob, PRUNE_CREDENTIALS_JOB } from './accounts/prune-credentials.job';
