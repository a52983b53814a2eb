import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, EntityManager, Repository } from 'typeorm';
import type { Membership } from '../authz/abilities';
import { OrgMemberEntity } from './org.entity';

/** An invitation as its email job needs it: addressee, role, state, org name and inviter's address. */
export interface InvitationToSend {
  email: string;
  role: string;
  expires_at: Date;
  accepted_at: Date | null;
  revoked_at: Date | null;
  org_name: string;
  inviter: string | null;
}

/**
 * Orgs and their members (control.orgs, control.org_members, with their users' addresses) as other libs need them:
 * the console guard, billing and usage emails, Stripe customers, and the org lock that serialises project creation
 * with plan changes. Nothing outside identity queries these tables or needs its TypeORM repositories.
 */
@Injectable()
export class OrgsRepository {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(OrgMemberEntity) private readonly members: Repository<OrgMemberEntity>,
  ) {}

  /** The user's role in each org they belong to. */
  async membershipsOf(userId: string): Promise<Membership[]> {
    return this.members.find({ where: { userId }, select: { orgId: true, role: true } });
  }

  /**
   * Locks the org row until the end of `m`'s transaction: project creation and downgrades both take it, so a project
   * can't slip in between a downgrade's fit check and the pending downgrade.
   */
  async lock(m: EntityManager, orgId: string): Promise<void> {
    await m.query('SELECT 1 FROM control.orgs WHERE id = $1 FOR UPDATE', [orgId]);
  }

  /** The org's name, or null if there is no such org. */
  async nameOf(orgId: string): Promise<string | null> {
    const rows = (await this.db.query('SELECT name FROM control.orgs WHERE id = $1', [orgId])) as Array<{ name: string }>;
    return rows[0]?.name ?? null;
  }

  /**
   * Name and address for the org's payment-provider customer: the earliest billing member's address, else the
   * earliest owner's; null when the org doesn't exist.
   */
  async billingContact(orgId: string): Promise<{ name: string; email: string | null } | null> {
    const rows = (await this.db.query(
      `SELECT o.name, (SELECT u.email FROM control.org_members m JOIN control.users u ON u.id = m.user_id
                        WHERE m.org_id = o.id AND m.role IN ('owner', 'billing') ORDER BY m.role = 'billing' DESC, m.created_at LIMIT 1) AS email
         FROM control.orgs o WHERE o.id = $1`,
      [orgId],
    )) as Array<{ name: string; email: string | null }>;
    return rows[0] ?? null;
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

  /** The invitation `id` of `orgId`, or null. */
  async invitationToSend(id: string, orgId: string): Promise<InvitationToSend | null> {
    const rows = (await this.db.query(
      `SELECT i.email, i.role, i.expires_at, i.accepted_at, i.revoked_at, o.name AS org_name, u.email AS inviter
         FROM control.org_invitations i
         JOIN control.orgs o ON o.id = i.org_id
         LEFT JOIN control.users u ON u.id = i.invited_by
        WHERE i.id = $1 AND i.org_id = $2`,
      [id, orgId],
    )) as InvitationToSend[];
    return rows[0] ?? null;
  }
}
