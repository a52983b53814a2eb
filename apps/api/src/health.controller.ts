import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import { DataSource } from 'typeorm';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The process is up. */
  @Get('healthz')
  @HttpCode(200)
  health() {
    return { status: 'ok' };
  }

  /** The database answers and every migration is applied. */
  @Get('readyz')
  async ready(@Res({ passthrough: true }) res: Response) {
    try {
      await this.db.query('SELECT 1');
      const pending = await this.db.showMigrations();
      if (pending) {
        res.status(503);
        return { status: 'unavailable', database: 'ok', migrations: 'pending' };
      }
      return { status: 'ok', database: 'ok', migrations: 'applied' };
    } catch {
      res.status(503);
      return { status: 'unavailable', database: 'unreachable' };
    }
  }
}
