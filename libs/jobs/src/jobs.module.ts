import { Module } from '@nestjs/common';
import { MaintenanceJob } from './maintenance.job';

/** Background processors and schedules; the worker app runs them, and so does the api in the embedded default. */
@Module({ providers: [MaintenanceJob], exports: [MaintenanceJob] })
export class JobsModule {}
