import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ControlHealthRepository } from '@plinth/database';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(private readonly control: ControlHealthRepository) {}

  /** The process is up. */
  @Get('healthz')
  @HttpCode(200)
  health() {
    return { status: 'ok' };
  }

  /** The database answers and every migration is applied. */
  @Get('readyz')
  async ready(@Res({ passthrough: true }) res: Response) {
    const health = await this.control.check();
    const ok = health.database === 'ok' && health.migrations === 'applied';
    if (!ok) res.status(503);
    return { status: ok ? 'ok' : 'unavailable', ...health };
  }
}
