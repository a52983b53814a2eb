/** Projects: lifecycle, provisioning of the tenant schema and roles, placement on a cluster, project keys. */
export { TenancyModule } from './tenancy.module';
export { ProjectsService, PROJECT_TOPIC } from './projects.service';
export type { ProjectView } from './projects.service';
export { ProjectEntity } from './project.entity';
export { tenantNames, newProjectRef, REF_PATTERN, ProjectRefs } from './project-ref';
/** Runtimes add their per-project tables to provisioning here. */
export { ProvisioningHooks } from './provisioning-hooks';
export type { ProvisioningHook, TenantNames, TenantSql } from './provisioning-hooks';
/** Tenant DDL on a project's cluster (another cluster's connection as TenantSql). */
export { sqlOn } from './provisioner';
/** Which cluster a new project goes to (DATABASE_PLACEMENT, DATABASE_ORG_PINS). */
export { Placement } from './placement';
/** Reads of control.projects for other libs (counts, lists, refs, schema sizes); nobody else queries the table. */
export { ProjectsRepository } from './projects.repository';
export type { ProjectSummary } from './projects.repository';
/** The data runtime reports projects' declared tables here, for plan-limit checks in billing. */
export { ProjectStructure } from './project-structure';
export type { ProjectTable, ProjectStructureSource } from './project-structure';
