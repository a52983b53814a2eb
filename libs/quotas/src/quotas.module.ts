import { Module } from '@nestjs/common';
import { AuditModule } from '@plinth/audit';
import { IdentityModule } from '@plinth/identity';
import { OutboxModule } from '@plinth/jobs';
import { MailModule } from '@plinth/mail';
import { MeteringModule } from '@plinth/metering';
import { TenancyModule } from '@plinth/tenancy';
import { LimitsService } from './limits.service';
import { PlansController } from './plans.controller';
import { PlansRepository } from './plans.repository';
import { PlansService } from './plans.service';
import { ProjectAdmission } from './project-admission';
import { ProjectLimitsRepository } from './project-limits.repository';
import { RateLimiter } from './rate-limiter';
import { TenantLimitsService } from './tenant-limits.service';
import { UsageAlertJob } from './usage-alert.job';
import { UsageAlertsRepository } from './usage-alerts.repository';
import { UsageAlertsService } from './usage-alerts.service';
import { UsageController } from './usage.controller';
import { UsageService } from './usage.service';

/** Plans, project limits, request-path enforcement (402/429), usage alerts, and the usage/limits/plans API. */
@Module({
  imports: [OutboxModule, MailModule, MeteringModule, TenancyModule, IdentityModule, AuditModule],
  controllers: [PlansController, UsageController],
  providers: [PlansService, PlansRepository, ProjectAdmission, ProjectLimitsRepository, RateLimiter, TenantLimitsService, UsageAlertsService, UsageAlertsRepository, UsageAlertJob, UsageService, LimitsService],
  exports: [PlansService, ProjectLimitsRepository, RateLimiter, TenantLimitsService, UsageAlertsService],
})
export class QuotasModule {}
