import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditActor, AuditService } from '@plinth/audit';
import { ErrorCode, PlinthException, RequestMeta } from '@plinth/common';
import { OrgEntity, OrgMemberEntity } from '../orgs/org.entity';
import { SessionService, TokenPair } from '../tokens/session.service';
import { ConsoleAuthLimits } from './console-auth-limits';
import { EmailVerificationService } from './email-verification.service';
import { dummyHash, hashPassword, passwordNeedsRehash, passwordWeakness, verifyPassword } from './password';
import { UserEntity } from './user.entity';

export interface UserView {
  id: string;
  email: string;
  name: string | null;
  /** Whether the account proved it receives mail at `email` (needed to accept or send invitations). */
  email_verified: boolean;
  email_verified_at: string | null;
  created_at: string;
}

export interface AuthResult extends TokenPair {
  user: UserView;
}

/**
 * Console accounts: sign-up (with a personal org and a verification email), sign-in (limited per account and per
 * IP, {@link ConsoleAuthLimits}), sessions.
 */
@Injectable()
export class AccountsService {
  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly sessions: SessionService,
    private readonly audit: AuditService,
    private readonly verification: EmailVerificationService,
    private readonly limits: ConsoleAuthLimits,
  ) {}

  async signup(input: { email: string; password: string; name?: string }, meta: RequestMeta): Promise<AuthResult & { org: { id: string; name: string } }> {
    const email = input.email.toLowerCase();
    const weakness = passwordWeakness(input.password, email);
    if (weakness) throw new PlinthException(ErrorCode.ValidationFailed, `Password ${weakness}`, [{ path: 'password', message: weakness }]);
    const passwordHash = await hashPassword(input.password);
    try {
      return await this.users.manager.transaction(async (m) => {
        const user = await m.save(m.create(UserEntity, { email, name: input.name ?? null, passwordHash, emailVerifiedAt: null }));
        const org = await m.save(
          m.create(OrgEntity, { name: input.name ? `${input.name}'s organization` : 'Personal', personal: true, createdBy: user.id }),
        );
        await m.insert(OrgMemberEntity, { orgId: org.id, userId: user.id, role: 'owner' });
        const actor: AuditActor = { type: 'user', id: user.id, meta };
        await this.audit.record(m, actor, { orgId: org.id, action: 'org.create', targetType: 'org', targetId: org.id });
        // Signing up doesn't wait for the address to be proved: the account works in its own org meanwhile.
        await this.verification.issue(m, user);
        const tokens = await this.sessions.start(m, user.id);
        return { ...tokens, user: userView(user), org: { id: org.id, name: org.name } };
      });
    } catch (e) {
      if ((e as { code?: string }).code === '23505') {
        throw PlinthException.conflict('An account with this email already exists');
      }
      throw e;
    }
  }

  /** The same 401, after the same work, whether the email is unknown or the password wrong; 429 past the limits. */
  async login(input: { email: string; password: string }, meta: RequestMeta): Promise<AuthResult> {
    const ticket = await this.limits.beforeLogin(input.email, meta.ip);
    const user = await this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('lower(u.email) = lower(:email)', { email: input.email })
      .getOne();
    const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash()), input.password);
    if (!user || !ok) throw new PlinthException(ErrorCode.Unauthorized, 'Invalid email or password');
    await this.limits.succeeded(ticket);
    // Once per account: a hash from an earlier argon2 setting is replaced (unless the password changed meanwhile).
    if (passwordNeedsRehash(user.passwordHash)) {
      await this.users.update({ id: user.id, passwordHash: user.passwordHash }, { passwordHash: await hashPassword(input.password) });
    }
    const tokens = await this.users.manager.transaction((m) => this.sessions.start(m, user.id));
    return { ...tokens, user: userView(user) };
  }

  refresh(refreshToken: string): Promise<TokenPair> {
    return this.sessions.refresh(refreshToken);
  }

  logout(sessionId: string): Promise<void> {
    return this.sessions.revokeFamily(sessionId);
  }

  /** Sign-out from the console's cookie session: its refresh token ends its session. */
  logoutByRefreshToken(refreshToken: string): Promise<void> {
    return this.sessions.revokeByToken(refreshToken);
  }

  async me(userId: string): Promise<UserView> {
    const user = await this.users.findOne({ where: { id: userId } });
    if (!user) throw PlinthException.unauthorized();
    return userView(user);
  }
}

function userView(u: UserEntity): UserView {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    email_verified: u.emailVerifiedAt !== null,
    email_verified_at: u.emailVerifiedAt?.toISOString() ?? null,
    created_at: u.createdAt.toISOString(),
  };
}
