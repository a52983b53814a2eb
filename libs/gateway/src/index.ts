/** Tenant traffic: the edge for `/p/:ref/<runtime>/v1/*`, the key resolver, admission and error dialects. */
export { GatewayModule } from './gateway.module';
/** The one implementation of tenant routes; the app installs it in front of its HTTP server. */
export { TenantEdge, sendJson, clientIp } from './edge/tenant-edge';
/** Where runtimes register their routes (and dialect) with the edge. */
export { RuntimeRegistry } from './edge/runtime-registry';
export type { BodyMode, EdgeContext, EdgeMethod, EdgeRoute, EdgeRuntime } from './edge/runtime-registry';
/** Error dialects by runtime (PostgREST, GoTrue, …), applied by the edge to every error of a tenant request. */
export { ErrorDialects } from './edge/error-dialects';
export type { ErrorDialect, RenderedError, StandardError } from './edge/error-dialects';
/** Billing access, quotas, rate limits and metering of a resolved tenant request, as a decision. */
export { Admission } from './edge/admission.service';
export type { AdmissionClient, AdmissionDecision } from './edge/admission.service';
/** The request id every request gets (`x-request-id`, the caller's when sane), for the app's logger too. */
export { requestIdFor } from './edge/request-log';
/** The one judge of a presented API key (every restriction it carries), for every surface that takes one. */
export { KeyResolver, scopeAllows } from './key-resolver';
export type { KeyRequest, KeySurface, KeyTarget, ResolvedKey } from './key-resolver';
export type { TenantContext, TenantProject } from './tenant-context';
export { ProjectDirectory } from './project-directory';
/** Where the auth runtime registers end-user token verification (role `authenticated`, `auth.uid`). */
export { EndUserTokens } from './end-user-tokens';
export type { EndUser, EndUserTokenVerifier } from './end-user-tokens';
