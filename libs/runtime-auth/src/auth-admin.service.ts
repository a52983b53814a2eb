import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { TenantContext } from '@plinth/gateway';
import { AuthRepository } from './auth.repository';
import { AuthTokensService } from './auth-tokens.service';
import { UserRow, userView } from './auth-user.view';
import { normalizeEmail } from './auth.dto';
import { AuthCall, AuthService } from './auth.service';
import { GoTrueCode, GoTrueException } from './gotrue.exception';
import { hashPassword } from './password';

export interface AdminUserInput {
  email?: string;
  password?: string;
  email_confirm?: boolean;
  user_metadata?: Record<string, unknown>;
  app_metadata?: Record<string, unknown>;
  ban_duration?: string;
  phone?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const userNotFound = () => GoTrueException.notFound(GoTrueCode.UserNotFound, 'User not found');
/** app_metadata keys the runtime derives itself. */
const DERIVED = ['provider', 'providers'];

/** GoTrue's admin API (`/admin/users`, `/admin/generate_link`): secret key only. */
@Injectable()
export class AuthAdminService {
  constructor(
    private readonly repo: AuthRepository,
    private readonly auth: AuthService,
    private readonly tokens: AuthTokensService,
  ) {}

  /** A page of the project's users, newest first (as GoTrue lists them) unless `oldestFirst`. */
  async list(tenant: TenantContext, page: number, perPage: number, oldestFirst = false): Promise<{ users: Record<string, unknown>[]; total: number }> {
    assertAdmin(tenant);
    const { users, total } = await this.repo.run(tenant.project, (t) => this.repo.listUsers(t, page, perPage, oldestFirst));
    return { users: users.map(userView), total };
  }

  async get(tenant: TenantContext, id: string): Promise<Record<string, unknown>> {
    assertAdmin(tenant);
    return userView(await this.find(tenant, id));
  }

  async create(tenant: TenantContext, input: AdminUserInput): Promise<Record<string, unknown>> {
    assertAdmin(tenant);
    if (input.phone) throw GoTrueException.unprocessable(GoTrueCode.ValidationFailed, 'Phone numbers are not supported');
    const s = await this.auth.settingsOf(tenant.project);
    const email = input.email !== undefined ? normalizeEmail(input.email) : null;
    if (input.password !== undefined) this.auth.assertStrongPassword(s, input.password);
    const id = randomUUID();
    return this.repo.run(tenant.project, async (t) => {
      const created = await this.repo.createUser(t, {
        id,
        email,
        passwordHash: input.password !== undefined ? await hashPassword(input.password) : null,
        confirmed: input.email_confirm === true,
        anonymous: email === null,
        userMetadata: input.user_metadata ?? {},
        appMetadata: stripDerived(input.app_metadata ?? {}),
        bannedUntil: input.ban_duration ? banUntil(input.ban_duration) : null,
      });
      if (!created) throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
      return userView((await this.repo.findUser(t, { id }))!);
    });
  }

  async update(tenant: TenantContext, id: string, input: AdminUserInput): Promise<Record<string, unknown>> {
    assertAdmin(tenant);
    const user = await this.find(tenant, id);
    const s = await this.auth.settingsOf(tenant.project);
    const fields: Record<string, unknown> = {};
    if (input.email !== undefined) {
      const email = normalizeEmail(input.email);
      if (email !== user.email) Object.assign(fields, { email, new_email: null, is_anonymous: false });
    }
    if (input.password !== undefined) {
      this.auth.assertStrongPassword(s, input.password);
      fields.encrypted_password = await hashPassword(input.password);
    }
    if (input.email_confirm === true && !user.email_confirmed_at) fields.email_confirmed_at = new Date();
    if (input.user_metadata) fields.user_metadata = { ...user.user_metadata, ...input.user_metadata };
    if (input.app_metadata) fields.app_metadata = { ...user.app_metadata, ...stripDerived(input.app_metadata) };
    let ban: Date | null | undefined;
    if (input.ban_duration !== undefined) fields.banned_until = ban = input.ban_duration === 'none' ? null : banUntil(input.ban_duration);
    return this.repo.run(tenant.project, async (t) => {
      await this.repo.transaction(t, async (m) => {
        await this.repo.updateUser(t, id, fields, m);
        if (typeof fields.email === 'string') await this.repo.upsertEmailIdentity(t, id, fields.email, m);
        // A ban ends every session at once, so refresh tokens stop working too.
        if (ban) this.tokens.forgetSessions(tenant.project.id, await this.repo.deleteSessions(t, id, 'global', null, m));
      }).catch((e: { code?: string }) => {
        if (e.code === '23505') throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
        throw e;
      });
      return userView((await this.repo.findUser(t, { id }))!);
    });
  }

  async delete(tenant: TenantContext, id: string): Promise<Record<string, never>> {
    assertAdmin(tenant);
    if (!UUID.test(id)) throw userNotFound();
    const deleted = await this.repo.run(tenant.project, async (t) => {
      const sessions = await this.repo.deleteSessions(t, id, 'global', null);
      this.tokens.forgetSessions(tenant.project.id, sessions);
      return this.repo.deleteUser(t, id);
    });
    if (!deleted) throw userNotFound();
    return {};
  }

  /** A link and code of the given type, returned instead of emailed (the caller sends it its own way). */
  async generateLink(
    call: AuthCall,
    input: { type: string; email: string; new_email?: string; password?: string; data?: Record<string, unknown> },
  ): Promise<Record<string, unknown>> {
    assertAdmin(call.tenant);
    const project = call.tenant.project;
    const s = await this.auth.settingsOf(project);
    const email = normalizeEmail(input.email);
    return this.repo.run(project, async (t) => {
      let user = await this.repo.findUser(t, { email });
      if (!user && (input.type === 'signup' || input.type === 'invite' || input.type === 'magiclink')) {
        if (input.type === 'signup' && !input.password) throw GoTrueException.validation('Password is required for signup links');
        if (input.password !== undefined) this.auth.assertStrongPassword(s, input.password);
        const id = randomUUID();
        await this.repo.createUser(t, {
          id, email, passwordHash: input.password ? await hashPassword(input.password) : null, confirmed: false, anonymous: false,
          userMetadata: input.data ?? {}, appMetadata: {},
        });
        user = await this.repo.findUser(t, { id });
      }
      if (!user) throw userNotFound();
      const u: UserRow = user;
      let kind: 'signup' | 'invite' | 'magiclink' | 'recovery' | 'email_change' = input.type === 'email_change_current' || input.type === 'email_change_new' ? 'email_change' : (input.type as 'signup');
      if (kind === 'signup' && u.email_confirmed_at) kind = 'magiclink';
      let target = email;
      if (kind === 'email_change') {
        if (!input.new_email) throw GoTrueException.validation('new_email is required for email change links');
        target = normalizeEmail(input.new_email);
        if (await this.repo.findUser(t, { email: target })) throw GoTrueException.unprocessable(GoTrueCode.EmailExists, 'A user with this email address has already been registered');
      }
      // Returned, not emailed: the caller sends it its own way.
      const issued = await this.repo.transaction(t, async (m) => {
        if (kind === 'email_change') await this.repo.updateUser(t, u.id, { new_email: target }, m);
        return this.auth.issueCode(m, call, s, t, { kind, email: target, userId: u.id, newEmail: target });
      });
      return {
        ...userView((await this.repo.findUser(t, { id: u.id }))!),
        action_link: issued.actionLink,
        email_otp: issued.code,
        hashed_token: issued.link,
        redirect_to: issued.redirectTo,
        verification_type: kind,
      };
    });
  }

  private async find(tenant: TenantContext, id: string): Promise<UserRow> {
    if (!UUID.test(id)) throw userNotFound();
    const user = await this.repo.run(tenant.project, (t) => this.repo.findUser(t, { id }));
    if (!user) throw userNotFound();
    return user;
  }
}

export function assertAdmin(tenant: TenantContext): void {
  if (tenant.role !== 'service') throw GoTrueException.forbidden(GoTrueCode.NotAdmin, 'User not allowed');
}

function stripDerived(meta: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(meta).filter(([k]) => !DERIVED.includes(k)));
}

/** A Go duration as GoTrue takes it (`24h`, `1h30m`, `90s`), from now. */
export function banUntil(duration: string): Date {
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let ms = 0;
  let matched = 0;
  for (let m = re.exec(duration); m; m = re.exec(duration)) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    matched = re.lastIndex;
  }
  if (!duration || matched !== duration.length || ms <= 0 || ms > 876_000 * 3_600_000) {
    throw GoTrueException.validation('ban_duration must be a duration such as "24h" or "none"');
  }
  return new Date(Date.now() + ms);
}
