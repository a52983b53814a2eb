import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

const EVERY_MS = 60 * 60 * 1000;

/**
 * Hourly clean-up of control data nobody can use any more: expired or revoked refresh tokens and stale
 * invitations. Idempotent, so several workers running it is harmless.
 */
@Injectable()
export class MaintenanceJob implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(MaintenanceJob.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.run().catch((e) => this.logger.warn(`maintenance failed: ${(e as Error).message}`)), EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async run(now = new Date()): Promise<{ refreshTokens: number; invitations: number }> {
    const weekAgo = new Date(now.getTime() - 7 * 86400_000);
    const [, refreshTokens] = (await this.db.query(
      `DELETE FROM control.refresh_tokens WHERE expires_at < $1 OR revoked_at < $2`,
      [now, weekAgo],
    )) as [unknown, number];
    const [, invitations] = (await this.db.query(
      `DELETE FROM control.org_invitations WHERE accepted_at IS NULL AND (expires_at < $1 OR revoked_at < $1)`,
      [weekAgo],
    )) as [unknown, number];
    return { refreshTokens, invitations };
  }
}
