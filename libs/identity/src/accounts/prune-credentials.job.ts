import { Injectable, OnModuleInit } from '@nestjs/common';
import { Clock } from '@plinth/common';
import { JobData, JobHandler, JobRegistry, QUEUES } from '@plinth/jobs';
import { CredentialsMaintenanceRepository } from './credentials-maintenance.repository';

export const PRUNE_CREDENTIALS_JOB = 'identity.prune-credentials';

/**
 * Hourly clean-up of console credentials nobody can use any more: expired refresh tokens, refresh tokens revoked
 * over a week ago, and unaccepted invitations that expired or were revoked over a week ago. Idempotent.
 */
@Injectable()
export class PruneCredentialsJob implements JobHandler<JobData>, OnModuleInit {
  readonly queue = QUEUES.maintenance;
  readonly name = PRUNE_CREDENTIALS_JOB;

  constructor(
    private readonly repo: CredentialsMaintenanceRepository,
    private readonly registry: JobRegistry,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.schedule({ queue: this.queue, name: this.name, everyMs: 3600_000, data: { orgId: null } });
  }

  async handle(): Promise<void> {
    await this.run();
  }

  async run(): Promise<{ refreshTokens: number; invitations: number }> {
    const now = this.clock.now();
    const weekAgo = new Date(now.getTime() - 7 * 86400_000);
    const refreshTokens = await this.repo.deleteDeadRefreshTokens(now, weekAgo);
    const invitations = await this.repo.deleteStaleInvitations(weekAgo);
    return { refreshTokens, invitations };
  }
}
