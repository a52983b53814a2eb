/** Tenant traffic entry: key → TenantContext, origin/IP/scope checks, CORS, runtime routing. */
export { GatewayModule, GatewayFallbackModule } from './gateway.module';
export { GatewayGuard, closeIfBodyUnread } from './gateway.guard';
export type { GatewayRequest } from './gateway.guard';
/** The one judge of a presented API key (every restriction it carries), for every surface that takes one. */
export { KeyResolver, scopeAllows } from './key-resolver';
export type { KeyRequest, KeySurface, KeyTarget, ResolvedKey } from './key-resolver';
/** CORS for `/p/` routes, also applied by handlers outside Nest's middleware (the data fast lane). */
export { gatewayCors } from './gateway-cors.middleware';
export { Tenant } from './tenant-context';
export type { TenantContext, TenantProject, TenantRequest } from './tenant-context';
export { ProjectDirectory } from './project-directory';
/** Where the auth runtime registers end-user token verification (role `authenticated`, `auth.uid`). */
export { EndUserTokens } from './end-user-tokens';
export type { EndUser, EndUserTokenVerifier } from './end-user-tokens';
