/** Tenant traffic entry: key → TenantContext, origin/IP/scope checks, CORS, runtime routing. */
export { GatewayModule } from './gateway.module';
export { GatewayGuard, scopeAllows } from './gateway.guard';
export { Tenant } from './tenant-context';
export type { TenantContext, TenantProject, TenantRequest } from './tenant-context';
export { ProjectDirectory } from './project-directory';
