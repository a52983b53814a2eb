import { Injectable } from '@nestjs/common';
import { AuditService } from '@plinth/audit';
import { ErrorCode, PlinthException } from '@plinth/common';
import { ControlTransactions } from '@plinth/database';
import { ProjectDirectory, TenantContext, TenantProject } from '@plinth/gateway';
import type { Principal } from '@plinth/identity';
import { AuthAdminService } from './auth-admin.service';
import type { CreateAuthUser, ListAuthUsersQuery, UpdateAuthUser } from './auth-users.dto';
import { userView } from './auth-user.view';
import { AuthRepository } from './auth.repository';
import { GoTrueCode, GoTrueException } from './gotrue.exception';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The field a GoTrue refusal is about, so the console can show it next to that field. */
function fieldOf(e: GoTrueException): string | undefined {
  if (e.errorCode === GoTrueCode.WeakPassword || /^password/i.test(e.message)) return 'password';
  if (e.errorCode === GoTrueCode.EmailExists || e.errorCode === GoTrueCode.EmailInvalid) return 'email';
  if (e.message.startsWith('ban_duration')) return 'ban_duration';
  return undefined;
}

/** The management API answers in Plinth's error shape: the admin service's GoTrue refusals are re-raised as their equivalents. */
async function plinthErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (!(e instanceof GoTrueException)) throw e;
    const field = fieldOf(e);
    const details = field ? [{ path: field, message: e.message }] : undefined;
    if (e.status === 404) throw PlinthException.notFound('User');
    if (e.errorCode === GoTrueCode.EmailExists) throw PlinthException.conflict(e.message, details);
    if (e.status === 400 || e.status === 422) throw new PlinthException(ErrorCode.ValidationFailed, e.message, details);
    throw e;
  }
}

/**
 * End users of a project on the management API (`/v1/projects/:ref/auth/users`), for console callers: the auth
 * runtime's admin service, which GoTrue's `/admin/users` serves to secret keys only (a browser must never hold
 * one). Listing needs read on the project, changes need update (developer and up); every change is audited.
 */
@Injectable()
export class AuthUsersService {
  constructor(
    private readonly directory: ProjectDirectory,
    private readonly admin: AuthAdminService,
    private readonly repo: AuthRepository,
    private readonly tx: ControlTransactions,
    private readonly audit: AuditService,
  ) {}

  async list(p: Principal, ref: string, q: ListAuthUsersQuery): Promise<{ users: Record<string, unknown>[]; total: number; page: number; per_page: number }> {
    const project = await this.project(p, ref, 'read');
    const search = q.search?.trim();
    const { users, total } = search
      ? await this.search(project, search, q.page, q.per_page)
      : await this.admin.list(this.as(project), q.page, q.per_page);
    return { users, total, page: q.page, per_page: q.per_page };
  }

  async get(p: Principal, ref: string, id: string): Promise<Record<string, unknown>> {
    const project = await this.project(p, ref, 'read');
    return plinthErrors(() => this.admin.get(this.as(project), id));
  }

  async create(p: Principal, ref: string, body: CreateAuthUser): Promise<Record<string, unknown>> {
    const project = await this.project(p, ref, 'update');
    const user = await plinthErrors(() => this.admin.create(this.as(project), body));
    await this.record(p, project, 'auth_user.create', String(user.id), { email: user.email, email_confirm: body.email_confirm === true });
    return user;
  }

  async update(p: Principal, ref: string, id: string, body: UpdateAuthUser): Promise<Record<string, unknown>> {
    const project = await this.project(p, ref, 'update');
    const user = await plinthErrors(() => this.admin.update(this.as(project), id, body));
    // Which fields changed, never their values (a password, metadata the customer may consider private).
    const details: Record<string, unknown> = { changed: Object.keys(body).sort() };
    if (body.ban_duration !== undefined) details.ban_duration = body.ban_duration;
    await this.record(p, project, body.ban_duration === undefined ? 'auth_user.update' : body.ban_duration === 'none' ? 'auth_user.unban' : 'auth_user.ban', id, details);
    return user;
  }

  async remove(p: Principal, ref: string, id: string): Promise<void> {
    const project = await this.project(p, ref, 'update');
    await plinthErrors(() => this.admin.delete(this.as(project), id));
    await this.record(p, project, 'auth_user.delete', id, {});
  }

  /** Users whose email contains `search` (case-insensitive), or the user with that id; newest first. */
  private search(project: TenantProject, search: string, page: number, perPage: number): Promise<{ users: Record<string, unknown>[]; total: number }> {
    const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const id = UUID.test(search) ? search : null;
    return this.repo.run(project, (t) =>
      this.repo.transaction(t, async (tx) => {
        const { rows } = await tx.query<{ id: string; total: string }>(
          `SELECT u.id, count(*) OVER () AS total FROM ${t.users} u
            WHERE lower(u.email) LIKE $1 ESCAPE '\\' OR u.id = $2::uuid
            ORDER BY u.created_at DESC, u.id DESC LIMIT $3 OFFSET $4`,
          [pattern, id, perPage, (page - 1) * perPage],
        );
        const users: Record<string, unknown>[] = [];
        for (const r of rows) {
          const u = await this.repo.findUser(t, { id: r.id }, tx);
          if (u) users.push(userView(u));
        }
        let total = rows.length ? Number(rows[0].total) : 0;
        if (!rows.length && page > 1) {
          const c = await tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${t.users} u WHERE lower(u.email) LIKE $1 ESCAPE '\\' OR u.id = $2::uuid`, [pattern, id]);
          total = Number(c.rows[0].n);
        }
        return { users, total };
      }),
    );
  }

  /** The admin service's caller: the project's own service role, as its secret key would be. */
  private as(project: TenantProject): TenantContext {
    return { project, runtime: 'auth', role: 'service', user: null, keyId: 'console', keyType: 'secret', restrictions: null };
  }

  private async project(p: Principal, ref: string, action: 'read' | 'update'): Promise<TenantProject> {
    const project = await this.directory.find(ref);
    if (!project) throw PlinthException.notFound('Project');
    p.permissions.assert(action, 'Project', project.orgId, 'Project');
    return project;
  }

  private record(p: Principal, project: TenantProject, action: string, userId: string, details: Record<string, unknown>): Promise<void> {
    return this.tx.run((m) => this.audit.record(m, p.actor, { orgId: project.orgId, action, targetType: 'auth_user', targetId: userId, details: { project: project.ref, ...details } }));
  }
}
