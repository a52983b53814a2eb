import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { ApiEndpoint } from '@plinth/common';
import { ControlHealthRepository } from '@plinth/database';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(private readonly control: ControlHealthRepository) {}

  /** The process is up. */
  @ApiEndpoint({ summary: 'Liveness', description: 'Answers while the process is up (for a load balancer or orchestrator liveness probe).', response: z.object({ status: z.literal("ok") }) })
  @Get('healthz')
  @HttpCode(200)
  health() {
    return { status: 'ok' };
  }

  /** The database answers and every migration is applied. */
  @ApiEndpoint({ summary: 'Readiness', description: 'Answers 200 when the control database answers and every migration is applied, else 503 with what is missing.', response: z.object({ status: z.enum(["ok", "unavailable"]), database: z.string(), migrations: z.string() }) })
  @Get('readyz')
  async ready(@Res({ passthrough: true }) res: Response) {
    const health = await this.control.check();
    const ok = health.database === 'ok' && health.migrations === 'applied';
    if (!ok) res.status(503);
    return { status: ok ? 'ok' : 'unavailable', ...health };
  }
}
