import { Injectable, Logger } from '@nestjs/common';
import { METERS, MeteringService, periodStart } from '@plinth/metering';
import { MauRepository } from './mau.repository';

const MAX_SEEN = 200_000;

/**
 * Monthly active users: a user counts once per UTC month in which a token was issued or refreshed for them.
 * `control.auth_monthly_users` makes the count distinct across instances; the first insert of a (project,
 * month, user) adds 1 to the `mau` meter. An in-memory set skips the insert for users already seen.
 */
@Injectable()
export class MauService {
  private readonly logger = new Logger(MauService.name);
  private readonly seen = new Set<string>();

  constructor(
    private readonly repo: MauRepository,
    private readonly metering: MeteringService,
  ) {}

  /** Fire and forget: never delays or fails a sign-in. */
  touch(projectId: string, userId: string): void {
    const month = periodStart(Date.now()).toISOString().slice(0, 10);
    const key = `${projectId}:${month}:${userId}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= MAX_SEEN) this.seen.clear();
    this.seen.add(key);
    void this.record(projectId, month, userId).catch((e: Error) => {
      this.seen.delete(key);
      this.logger.warn(`could not record monthly active user: ${e.message}`);
    });
  }

  private async record(projectId: string, month: string, userId: string): Promise<void> {
    if (await this.repo.record(projectId, month, userId)) this.metering.record(projectId, METERS.mau, 1);
  }
}
