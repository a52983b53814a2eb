import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** Deletes of identity's credentials nobody can use any more (refresh tokens, invitations). */
@Injectable()
export class CredentialsMaintenanceRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Refresh tokens expired before `now` or revoked before `revokedBefore`; returns how many were deleted. */
  async deleteDeadRefreshTokens(now: Date, revokedBefore: Date): Promise<number> {
    const [, n] = (await this.db.query(`DELETE FROM control.refresh_tokens WHERE expires_at < $1 OR revoked_at < $2`, [now, revokedBefore])) as [unknown, number];
    return n;
  }

  /** Unaccepted invitations expired or revoked before `before`; returns how many were deleted. */
  async deleteStaleInvitations(before: Date): Promise<number> {
    const [, n] = (await this.db.query(`DELETE FROM control.org_invitations WHERE accepted_at IS NULL AND (expires_at < $1 OR revoked_at < $1)`, [before])) as [
      unknown,
      number,
    ];
    return n;
  }
}
