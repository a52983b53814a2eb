import { Controller, Get, Param, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, UuidParam, ZodBody, ZodQuery } from '@plinth/common';
import { ConsoleApi, CurrentPrincipal, Principal, RequirePermission } from '@plinth/identity';
import { LimitsService } from './limits.service';
import { LimitsInput, limitsSchema, UsageQuery, usageQuerySchema } from './usage.dto';
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
  @Get('projects/:ref/usage')
  @RequirePermission('read', 'Project')
  projectUsage(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodQuery(usageQuerySchema) q: UsageQuery) {
    return this.usage.projectUsage(p, ref, q);
  }

  /** Usage of every project of an org, totals and per project, for the current period. */
  @Get('orgs/:orgId/usage')
  @RequirePermission('read', 'Org')
  orgUsage(@CurrentPrincipal() p: Principal, @UuidParam('orgId', 'Organization') orgId: string, @ZodQuery(usageQuerySchema) q: UsageQuery) {
    return this.usage.orgUsage(p, orgId, q);
  }

  @Get('projects/:ref/limits')
  @RequirePermission('read', 'Project')
  getLimits(@CurrentPrincipal() p: Principal, @Param('ref') ref: string) {
    return this.limits.get(p, ref);
  }

  /** Spend cap, per-meter caps, a rate limit within the plan's ceiling, alert webhook. Needs billing rights. */
  @Put('projects/:ref/limits')
  @RequirePermission('update', 'Billing')
  @ApiZodBody(limitsSchema)
  putLimits(@CurrentPrincipal() p: Principal, @Param('ref') ref: string, @ZodBody(limitsSchema) body: LimitsInput) {
    return this.limits.put(p, ref, body);
  }
}
