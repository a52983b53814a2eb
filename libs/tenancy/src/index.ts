/** Projects: lifecycle, provisioning of the tenant schema and roles, placement on a cluster, project keys. */
export { TenancyModule } from './tenancy.module';
export { ProjectsService, PROJECT_TOPIC } from './projects.service';
export type { ProjectView } from './projects.service';
export { ProjectEntity } from './project.entity';
export { tenantNames, newProjectRef, REF_PATTERN, ProjectRefs } from './project-ref';
/** Runtimes add their per-project tables to provisioning here. */
export { ProvisioningHooks } from './provisioning-hooks';
export type { ProvisioningHook, TenantNames } from './provisioning-hooks';
