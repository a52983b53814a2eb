import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** A pending email verification as its email job needs it, with the account's current address. */
export interface VerificationToSend {
  email: string;
  expires_at: Date;
  consumed_at: Date | null;
  current_email: string;
}

/** Reads of control.email_verifications for the verification email job. */
@Injectable()
export class EmailVerificationsRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The verification `id` of `userId`, or null. */
  async toSend(id: string, userId: string): Promise<VerificationToSend | null> {
    const rows = (await this.db.query(
      `SELECT v.email, v.expires_at, v.consumed_at, u.email AS current_email
         FROM control.email_verifications v JOIN control.users u ON u.id = v.user_id
        WHERE v.id = $1 AND v.user_id = $2`,
      [id, userId],
    )) as VerificationToSend[];
    return rows[0] ?? null;
  }
}
