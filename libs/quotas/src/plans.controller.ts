import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiEndpoint } from '@plinth/common';
import { PlansService } from './plans.service';
import { planSchema } from './usage.responses';

/** The price book, public: plans with included amounts, unit prices, rate limits and structural limits. */
@ApiTags('billing')
@Controller('v1/plans')
export class PlansController {
  constructor(private readonly plans: PlansService) {}

  @ApiEndpoint({ summary: 'List plans', description: 'The public price book: plans with included amounts, unit prices, rate limits and structural limits. No authentication needed.', response: z.array(planSchema) })
  @Get()
  list() {
    return this.plans.list();
  }
}
