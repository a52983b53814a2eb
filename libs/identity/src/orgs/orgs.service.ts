import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, IsNull, MoreThan, Repository } from 'typeorm';
import { AuditService } from '@plinth/audit';
import { PlinthException } from '@plinth/common';
import { OutboxService, QUEUES } from '@plinth/jobs';
import { UserEntity } from '../accounts/user.entity';
import type { Principal } from '../authz/principal';
import { EmailSecrets } from '../tokens/email-secrets';
import { OrgEntity, OrgInvitationEntity, OrgMemberEntity, OrgRole } from './org.entity';
import { SEND_INVITATION_EMAIL_JOB, SendInvitationEmailData } from './send-invitation-email.job';

const INVITATION_TTL_MS = 7 * 86400_000;

export interface OrgView {
  id: string;
  name: string;
  personal: boolean;
  role: OrgRole;
  created_at: string;
}
export interface MemberView {
  user_id: string;
  email: string;
  name: string | null;
  role: OrgRole;
  joined_at: string;
}
export interface InvitationView {
  id: string;
  org_id: string;
  org_name?: string;
  email: string;
  role: OrgRole;
  created_at: string;
  expires_at: string;
}

/** Organizations, their members and invitations. Every method checks the caller on the instance. */
@Injectable()
export class OrgsService {
  constructor(
    @InjectRepository(OrgEntity) private readonly orgs: Repository<OrgEntity>,
    @InjectRepository(OrgMemberEntity) private readonly members: Repository<OrgMemberEntity>,
    @InjectRepository(OrgInvitationEntity) private readonly invitations: Repository<OrgInvitationEntity>,
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly audit: AuditService,
    private readonly outbox: OutboxService,
    private readonly secrets: EmailSecrets,
  ) {}

  async create(p: Principal, name: string): Promise<OrgView> {
    return this.orgs.manager.transaction(async (m) => {
      const org = await m.save(m.create(OrgEntity, { name, personal: false, createdBy: p.userId }));
      await m.insert(OrgMemberEntity, { orgId: org.id, userId: p.userId, role: 'owner' });
      await this.audit.record(m, p.actor, { orgId: org.id, action: 'org.create', targetType: 'org', targetId: org.id });
      return orgView(org, 'owner');
    });
  }

  async list(p: Principal): Promise<OrgView[]> {
    const memberships = await this.members.find({ where: { userId: p.userId } });
    if (!memberships.length) return [];
    const orgs = await this.orgs.find({ where: { id: In(memberships.map((x) => x.orgId)) }, order: { createdAt: 'ASC' } });
    const roles = new Map(memberships.map((x) => [x.orgId, x.role]));
    return orgs.map((o) => orgView(o, roles.get(o.id)!));
  }

  async get(p: Principal, orgId: string): Promise<OrgView> {
    p.permissions.assert('read', 'Org', orgId, 'Organization');
    const org = await this.orgs.findOneOrFail({ where: { id: orgId } });
    return orgView(org, p.permissions.roleIn(orgId)!);
  }

  async rename(p: Principal, orgId: string, name: string): Promise<OrgView> {
    p.permissions.assert('update', 'Org', orgId, 'Organization');
    return this.orgs.manager.transaction(async (m) => {
      await m.update(OrgEntity, { id: orgId }, { name });
      await this.audit.record(m, p.actor, { orgId, action: 'org.rename', targetType: 'org', targetId: orgId, details: { name } });
      return orgView(await m.findOneOrFail(OrgEntity, { where: { id: orgId } }), p.permissions.roleIn(orgId)!);
    });
  }

  async listMembers(p: Principal, orgId: string): Promise<MemberView[]> {
    p.permissions.assert('read', 'Member', orgId, 'Organization');
    const rows = await this.members.find({ where: { orgId }, order: { createdAt: 'ASC' } });
    const users = await this.users.find({ where: { id: In(rows.map((r) => r.userId)) } });
    const byId = new Map(users.map((u) => [u.id, u]));
    return rows.map((r) => ({
      user_id: r.userId,
      email: byId.get(r.userId)?.email ?? '',
      name: byId.get(r.userId)?.name ?? null,
      role: r.role,
      joined_at: r.createdAt.toISOString(),
    }));
  }

  async invite(p: Principal, orgId: string, email: string, role: OrgRole): Promise<InvitationView> {
    p.permissions.assert('create', 'Invitation', orgId, 'Organization');
    this.assertMayGrant(p, orgId, role);
    await this.assertVerified(p, 'inviting others');
    const normalized = email.toLowerCase();
    return this.orgs.manager.transaction(async (m) => {
      const existing = await m
        .createQueryBuilder(OrgMemberEntity, 'mb')
        .innerJoin(UserEntity, 'u', 'u.id = mb.userId')
        .where('mb.orgId = :orgId AND lower(u.email) = :email', { orgId, email: normalized })
        .getExists();
      if (existing) throw PlinthException.conflict('This person is already a member');
      // A newer invitation to the same address replaces a pending one.
      await m.update(
        OrgInvitationEntity,
        { orgId, email: normalized, acceptedAt: IsNull(), revokedAt: IsNull() },
        { revokedAt: new Date() },
      );
      const inv = await m.save(
        m.create(OrgInvitationEntity, {
          orgId,
          email: normalized,
          role,
          invitedBy: p.userId,
          expiresAt: new Date(Date.now() + INVITATION_TTL_MS),
          acceptedAt: null,
          revokedAt: null,
        }),
      );
      await this.audit.record(m, p.actor, {
        orgId, action: 'member.invite', targetType: 'invitation', targetId: inv.id, details: { email: normalized, role },
      });
      // The email commits (or rolls back) with the invitation.
      await this.outbox.enqueue<SendInvitationEmailData>(m, {
        queue: QUEUES.email,
        name: SEND_INVITATION_EMAIL_JOB,
        data: { orgId, invitationId: inv.id },
      });
      return invitationView(inv);
    });
  }

  async listInvitations(p: Principal, orgId: string): Promise<InvitationView[]> {
    p.permissions.assert('read', 'Invitation', orgId, 'Organization');
    const rows = await this.invitations.find({
      where: { orgId, acceptedAt: IsNull(), revokedAt: IsNull(), expiresAt: MoreThan(new Date()) },
      order: { createdAt: 'DESC' },
    });
    return rows.map((r) => invitationView(r));
  }

  async revokeInvitation(p: Principal, orgId: string, id: string): Promise<void> {
    p.permissions.assert('delete', 'Invitation', orgId, 'Organization');
    await this.orgs.manager.transaction(async (m) => {
      const res = await m.update(OrgInvitationEntity, { id, orgId, acceptedAt: IsNull(), revokedAt: IsNull() }, { revokedAt: new Date() });
      if (!res.affected) throw PlinthException.notFound('Invitation');
      await this.audit.record(m, p.actor, { orgId, action: 'member.invite_revoke', targetType: 'invitation', targetId: id });
    });
  }

  /**
   * Pending invitations addressed to the caller's email; none until the address is verified (whoever registers an
   * invited address must not learn which orgs invited it).
   */
  async myInvitations(p: Principal): Promise<InvitationView[]> {
    const user = await this.users.findOneOrFail({ where: { id: p.userId } });
    if (!user.emailVerifiedAt) return [];
    const rows = await this.invitations.find({
      where: { email: user.email.toLowerCase(), acceptedAt: IsNull(), revokedAt: IsNull(), expiresAt: MoreThan(new Date()) },
    });
    const orgs = await this.orgs.find({ where: { id: In(rows.map((r) => r.orgId)) } });
    const names = new Map(orgs.map((o) => [o.id, o.name]));
    return rows.map((r) => invitationView(r, names.get(r.orgId)));
  }

  /**
   * Only the addressee can accept, proving it twice: the account's address is verified, and the caller holds the
   * token only the invitation email carries. Without the token the invitation doesn't exist (404); with it, another
   * account is told it was sent to another address (403).
   */
  async accept(p: Principal, invitationId: string, token: string): Promise<OrgView> {
    const user = await this.assertVerified(p, 'accepting invitations');
    if (!this.secrets.invitationTokenMatches(invitationId, token)) throw PlinthException.notFound('Invitation');
    return this.orgs.manager.transaction(async (m) => {
      const inv = await m.findOne(OrgInvitationEntity, { where: { id: invitationId }, lock: { mode: 'pessimistic_write' } });
      if (!inv || inv.acceptedAt || inv.revokedAt || inv.expiresAt.getTime() <= Date.now()) {
        throw PlinthException.notFound('Invitation');
      }
      if (inv.email !== user.email.toLowerCase()) {
        throw PlinthException.forbidden('This invitation was sent to another email address; sign in with that address to accept it');
      }
      await m.update(OrgInvitationEntity, { id: inv.id }, { acceptedAt: new Date() });
      await m
        .createQueryBuilder()
        .insert()
        .into(OrgMemberEntity)
        .values({ orgId: inv.orgId, userId: p.userId, role: inv.role })
        .orIgnore()
        .execute();
      await this.audit.record(m, p.actor, {
        orgId: inv.orgId, action: 'member.join', targetType: 'user', targetId: p.userId, details: { role: inv.role },
      });
      const org = await m.findOneOrFail(OrgEntity, { where: { id: inv.orgId } });
      const member = await m.findOneOrFail(OrgMemberEntity, { where: { orgId: inv.orgId, userId: p.userId } });
      return orgView(org, member.role);
    });
  }

  async changeRole(p: Principal, orgId: string, userId: string, role: OrgRole): Promise<MemberView> {
    p.permissions.assert('update', 'Member', orgId, 'Organization');
    await this.orgs.manager.transaction(async (m) => {
      const member = await this.lockMember(m, orgId, userId);
      if (member.role === role) return;
      this.assertMayGrant(p, orgId, role);
      this.assertMayGrant(p, orgId, member.role);
      if (member.role === 'owner') await this.assertNotLastOwner(m, orgId);
      await m.update(OrgMemberEntity, { orgId, userId }, { role });
      await this.audit.record(m, p.actor, {
        orgId, action: 'member.role_change', targetType: 'user', targetId: userId, details: { from: member.role, to: role },
      });
    });
    return (await this.listMembers(p, orgId)).find((x) => x.user_id === userId)!;
  }

  /** Removes a member; any member may remove themselves (leave). The last owner can do neither. */
  async removeMember(p: Principal, orgId: string, userId: string): Promise<void> {
    const self = userId === p.userId;
    if (self) {
      if (!p.permissions.roleIn(orgId)) throw PlinthException.notFound('Organization');
    } else {
      p.permissions.assert('delete', 'Member', orgId, 'Organization');
    }
    await this.orgs.manager.transaction(async (m) => {
      const member = await this.lockMember(m, orgId, userId);
      if (!self) this.assertMayGrant(p, orgId, member.role);
      if (member.role === 'owner') await this.assertNotLastOwner(m, orgId);
      await m.delete(OrgMemberEntity, { orgId, userId });
      await this.audit.record(m, p.actor, {
        orgId, action: self ? 'member.leave' : 'member.remove', targetType: 'user', targetId: userId,
      });
    });
  }

  private async lockMember(m: EntityManager, orgId: string, userId: string): Promise<OrgMemberEntity> {
    // Lock every owner row too, so two concurrent demotions can't both pass the last-owner check.
    await m.query(`SELECT 1 FROM control.org_members WHERE org_id = $1 AND role = 'owner' FOR UPDATE`, [orgId]);
    const member = await m.findOne(OrgMemberEntity, { where: { orgId, userId }, lock: { mode: 'pessimistic_write' } });
    if (!member) throw PlinthException.notFound('Member');
    return member;
  }

  private async assertNotLastOwner(m: EntityManager, orgId: string): Promise<void> {
    const owners = await m.count(OrgMemberEntity, { where: { orgId, role: 'owner' } });
    if (owners <= 1) {
      throw PlinthException.conflict('An organization needs at least one owner: make someone else owner first');
    }
  }

  /**
   * Invitations move people between orgs by email address, so both ends must have proved their address:
   * without that, anyone could sign up with an invited address and take the seat (or invite from an address
   * they don't own).
   */
  private async assertVerified(p: Principal, doing: string): Promise<UserEntity> {
    const user = await this.users.findOneOrFail({ where: { id: p.userId } });
    if (!user.emailVerifiedAt) {
      throw PlinthException.forbidden(
        `Verify your email address before ${doing}: enter the code from the verification email at POST /v1/auth/verify (or POST /v1/auth/verify/resend for a new one)`,
      );
    }
    return user;
  }

  /** Only owners grant, change or remove the owner role. */
  private assertMayGrant(p: Principal, orgId: string, role: OrgRole): void {
    if (role === 'owner' && p.permissions.roleIn(orgId) !== 'owner') {
      throw PlinthException.forbidden('Only owners can grant, change or remove the owner role');
    }
  }
}

function orgView(o: OrgEntity, role: OrgRole): OrgView {
  return { id: o.id, name: o.name, personal: o.personal, role, created_at: o.createdAt.toISOString() };
}

function invitationView(r: OrgInvitationEntity, orgName?: string): InvitationView {
  return {
    id: r.id,
    org_id: r.orgId,
    ...(orgName !== undefined ? { org_name: orgName } : {}),
    email: r.email,
    role: r.role,
    created_at: r.createdAt.toISOString(),
    expires_at: r.expiresAt.toISOString(),
  };
}
