import { Controller, Get, Param, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiEndpoint, ApiZodBody, UuidParam, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import { LimitsService } from './limits.service';
import { LimitsInput, limitsSchema, UsageQuery, usageQuerySchema } from './usage.dto';
import { limitsViewSchema, orgUsageSchema, projectUsageSchema } from './usage.responses';
import { UsageService } from './usage.service';

@ApiTags('billing')
@Controller('v1')
@ConsoleApi()
export class UsageController {
  constructor(
    private readonly usage: UsageService,
    private readonly limits: LimitsService,
  ) {}

  /** Usage of a project: series by minute/hour/day and period totals against the plan. */
  @ApiEndpoint({ summary: 'Project usage', description: 'Usage of a project between from and to (the current period by default): totals per meter against the plan and a series by minute, hour or day, optionally for one meter.', response: projectUsageSchema })
  @Get('projects/:ref/usage')
  @RequirePermission('read', 'Project')
  projectUsage(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodQuery(usageQuerySchema) q: UsageQuery) {
    return this.usage.projectUsage(p, ref, q);
  }

  /** Usage of every project of an org, totals and per project, for the current period. */
  @ApiEndpoint({ summary: 'Organization usage', description: 'Period totals of every project of the organization, and per project.', response: orgUsageSchema })
  @Get('orgs/:orgId/usage')
  @RequirePermission('read', 'Org')
  orgUsage(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string, @ZodQuery(usageQuerySchema) q: UsageQuery) {
    return this.usage.orgUsage(p, orgId, q);
  }

  @ApiEndpoint({ summary: 'Get project limits', description: "The project's spend cap, per-meter caps, rate limit (within the plan's ceiling) and usage-alert webhook.", response: limitsViewSchema })
  @Get('projects/:ref/limits')
  @RequirePermission('read', 'Project')
  getLimits(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.limits.get(p, ref);
  }

  /** Spend cap, per-meter caps, a rate limit within the plan's ceiling, alert webhook. Needs billing rights. */
  @ApiEndpoint({ summary: 'Set project limits', description: 'Replaces the whole set (omitted fields are cleared). Needs billing rights.', response: limitsViewSchema })
  @Put('projects/:ref/limits')
  @RequirePermission('update', 'Billing')
  @ApiZodBody(limitsSchema)
  putLimits(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(limitsSchema) body: LimitsInput) {
    return this.limits.put(p, ref, body);
  }
}
