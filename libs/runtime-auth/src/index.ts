/** The auth runtime (GoTrue-compatible end-user accounts per project); import once in the api (its routes register with the tenant edge). */
export { AuthRuntimeModule, AuthJobsModule } from './auth-runtime.module';
/** Verifies a project's end-user access tokens (registered with the gateway at start-up). */
export { AuthTokensService } from './auth-tokens.service';
/** GoTrue-shaped errors of `/p/:ref/auth/v1`. */
export { GoTrueException, GoTrueCode, GOTRUE_DIALECT } from './gotrue.exception';
/** The outbox job that sends auth emails. */
export { SendAuthEmailJob, SEND_AUTH_EMAIL_JOB } from './send-auth-email.job';
export type { SendAuthEmailData } from './send-auth-email.job';
/** Sends a project's emails (its own SMTP, else the platform mailer): auth emails, and other runtimes' (notifications). */
export { AuthMailer } from './auth-mailer';
/** Where the OAuth runtime reaches providers from (overridden by tests with local stand-ins). */
export { OAUTH_PROVIDER_FETCH } from './oauth.service';
