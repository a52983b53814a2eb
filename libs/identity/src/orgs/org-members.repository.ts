import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** Reads of org members (control.org_members with their users' addresses) for other libs' notifications. */
@Injectable()
export class OrgMembersRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Who gets an org's billing and usage emails: its owners and billing members, by address. */
  async billingRecipients(orgId: string): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT u.email FROM control.org_members m JOIN control.users u ON u.id = m.user_id
        WHERE m.org_id = $1 AND m.role IN ('owner', 'billing') ORDER BY u.email`,
      [orgId],
    )) as Array<{ email: string }>;
    return rows.map((r) => r.email);
  }
}
