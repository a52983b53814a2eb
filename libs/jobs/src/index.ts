/** Background jobs and schedules, run by apps/worker (or in-process in the embedded default). */
export { JobsModule } from './jobs.module';
export { MaintenanceJob } from './maintenance.job';
