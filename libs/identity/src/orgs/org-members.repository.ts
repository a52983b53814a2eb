import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import type { Membership } from '../authz/abilities';
import { OrgMemberEntity } from './org.entity';

/**
 * Reads of org members (control.org_members, with their users' addresses) for the console guard and for other
 * libs' notifications, so nothing outside identity needs its TypeORM repositories.
 */
@Injectable()
export class OrgMembersRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(OrgMemberEntity) private readonly members: Repository<OrgMemberEntity>,
  ) {}

  /** The user's role in each org they belong to. */
  async membershipsOf(userId: string): Promise<Membership[]> {
    return this.members.find({ where: { userId }, select: { orgId: true, role: true } });
  }

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
