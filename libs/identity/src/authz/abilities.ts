import { AbilityBuilder, createMongoAbility, MongoAbility, subject as caslSubject } from '@casl/ability';
import { PlinthException } from '@plinth/common';
import type { OrgRole } from '../orgs/org.entity';

export type Action = 'manage' | 'create' | 'read' | 'update' | 'delete';
export type SubjectType = 'Org' | 'Member' | 'Invitation' | 'Project' | 'ApiKey' | 'AuditLog' | 'Billing';
/** Instances are checked by the org they belong to. */
export interface OrgScoped {
  orgId: string;
}
export type AppAbility = MongoAbility<[Action, SubjectType | 'all' | ReturnType<typeof caslSubject<SubjectType, OrgScoped>>]>;

export interface Membership {
  orgId: string;
  role: OrgRole;
}

/** What each org role may do, on resources of that org only. */
const ROLE_RULES: Record<OrgRole, Array<[Action, SubjectType | 'all']>> = {
  owner: [['manage', 'all']],
  admin: [
    ['read', 'Org'], ['update', 'Org'],
    ['manage', 'Member'], ['manage', 'Invitation'],
    ['manage', 'Project'], ['manage', 'ApiKey'],
    ['read', 'AuditLog'], ['read', 'Billing'],
  ],
  developer: [
    ['read', 'Org'], ['read', 'Member'], ['read', 'Invitation'],
    ['create', 'Project'], ['read', 'Project'], ['update', 'Project'],
    ['manage', 'ApiKey'],
  ],
  billing: [['read', 'Org'], ['read', 'Member'], ['read', 'Project'], ['manage', 'Billing']],
  viewer: [['read', 'Org'], ['read', 'Member'], ['read', 'Project'], ['read', 'ApiKey']],
};

/** The caller's abilities plus the memberships they came from (to tell "not a member" from "not allowed"). */
export class Permissions {
  readonly ability: AppAbility;
  private readonly roles: Map<string, OrgRole>;

  constructor(readonly userId: string, memberships: Membership[]) {
    this.roles = new Map(memberships.map((m) => [m.orgId, m.role]));
    const { can, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
    for (const m of memberships) {
      for (const [action, subject] of ROLE_RULES[m.role]) {
        // CASL's typing of conditions on the 'all' subject is looser than on named ones.
        can(action, subject as SubjectType, { orgId: m.orgId } as never);
      }
    }
    this.ability = build();
  }

  roleIn(orgId: string): OrgRole | undefined {
    return this.roles.get(orgId);
  }

  /** Type-level check, as the guard does: may the caller do `action` to *some* `subject`? */
  canSome(action: Action, subject: SubjectType): boolean {
    return this.ability.can(action, subject);
  }

  can(action: Action, subject: SubjectType, orgId: string): boolean {
    return this.ability.can(action, caslSubject(subject, { orgId }));
  }

  /**
   * Instance check, as services do: a non-member gets 404 (the resource's existence isn't revealed),
   * a member without the permission gets 403.
   */
  assert(action: Action, subject: SubjectType, orgId: string, notFoundLabel: string): void {
    if (!this.roles.has(orgId)) throw PlinthException.notFound(notFoundLabel);
    if (!this.can(action, subject, orgId)) {
      throw PlinthException.forbidden(`Your role in this organization does not allow ${action} on ${subject}`);
    }
  }
}
