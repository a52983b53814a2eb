import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, IsNull, Repository } from 'typeorm';
import { AuditService } from '@plinth/audit';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { PlinthException } from '@plinth/common';
import { CacheInvalidation } from '@plinth/database';
import type { Principal } from '@plinth/identity';
import { ApiKeyService, ApiKeyView, CreateKeyInput, RotateKeyInput } from '@plinth/keys';
import { ProjectEntity } from './project.entity';
import { ProjectRefs, REF_PATTERN, tenantNames } from './project-ref';
import { Provisioner } from './provisioner';
import type { TenantSql } from './provisioning-hooks';

export const PROJECT_TOPIC = 'project';

export interface ProjectView {
  id: string;
  ref: string;
  org_id: string;
  name: string;
  status: string;
  cluster: string;
  endpoint: string;
  created_at: string;
}

/** Project lifecycle: create (provision), read, rename, delete (deprovision); and the project's keys. */
@Injectable()
export class ProjectsService {
  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @InjectRepository(ProjectEntity) private readonly repo: Repository<ProjectEntity>,
    private readonly provisioner: Provisioner,
    private readonly keys: ApiKeyService,
    private readonly audit: AuditService,
    private readonly invalidation: CacheInvalidation,
    private readonly refs: ProjectRefs,
  ) {}

  /**
   * One transaction: the project row, its schema and roles, its first two keys, the audit entry. Any failure
   * rolls all of it back.
   */
  async create(p: Principal, orgId: string, name: string): Promise<ProjectView & { keys: { publishable: string; secret: string } }> {
    p.permissions.assert('create', 'Project', orgId, 'Organization');
    const cluster = await this.provisioner.place(orgId);
    for (let attempt = 0; ; attempt++) {
      const ref = this.refs.next();
      try {
        return await this.repo.manager.transaction(async (m) => {
          await this.provisioner.admit(m, orgId);
          const names = tenantNames(ref);
          const project = await m.save(
            m.create(ProjectEntity, {
              ref,
              orgId,
              name,
              status: 'active',
              cluster,
              schemaName: names.schema,
              ownerRole: names.ownerRole,
              dataRole: names.dataRole,
              createdBy: p.userId,
              deletedAt: null,
            }),
          );
          await this.provisioner.provisionOn(m, cluster, ref);
          const publishable = await this.keys.create(m, project.id, { type: 'publishable', name: 'Default publishable key' }, p.userId);
          const secret = await this.keys.create(m, project.id, { type: 'secret', name: 'Default secret key' }, p.userId);
          await this.audit.record(m, p.actor, { orgId, action: 'project.create', targetType: 'project', targetId: ref, details: { name } });
          return { ...this.view(project), keys: { publishable: publishable.key, secret: secret.key } };
        });
      } catch (e) {
        // A ref collision (unique index) is retried with a fresh ref; anything else is a real failure.
        if ((e as { code?: string }).code === '23505' && attempt < 3) continue;
        throw e;
      }
    }
  }

  async list(p: Principal, orgId: string): Promise<ProjectView[]> {
    p.permissions.assert('read', 'Project', orgId, 'Organization');
    const rows = await this.repo.find({ where: { orgId, deletedAt: IsNull() }, order: { createdAt: 'ASC' } });
    return rows.map((r) => this.view(r));
  }

  async get(p: Principal, ref: string): Promise<ProjectView> {
    return this.view(await this.authorized(p, ref, 'read'));
  }

  async rename(p: Principal, ref: string, name: string): Promise<ProjectView> {
    const project = await this.authorized(p, ref, 'update');
    return this.repo.manager.transaction(async (m) => {
      await m.update(ProjectEntity, { id: project.id }, { name });
      await this.audit.record(m, p.actor, { orgId: project.orgId, action: 'project.rename', targetType: 'project', targetId: ref, details: { name } });
      return this.view({ ...project, name });
    });
  }

  /** Drops the schema and roles and revokes every key. Deleting a deleted project succeeds and does nothing. */
  async delete(p: Principal, ref: string): Promise<void> {
    const project = await this.find(ref, true);
    if (!project) throw PlinthException.notFound('Project');
    p.permissions.assert('delete', 'Project', project.orgId, 'Project');
    if (project.status === 'deleted') return;
    await this.repo.manager.transaction(async (m) => {
      const locked = await m.findOne(ProjectEntity, { where: { id: project.id }, lock: { mode: 'pessimistic_write' } });
      if (!locked || locked.status === 'deleted') return;
      await this.keys.revokeAll(m, project.id);
      await this.provisioner.deprovisionOn(m, locked.cluster, ref);
      await m.update(ProjectEntity, { id: project.id }, { status: 'deleted', deletedAt: new Date() });
      await this.invalidation.publish(m, PROJECT_TOPIC, ref);
      await this.audit.record(m, p.actor, { orgId: project.orgId, action: 'project.delete', targetType: 'project', targetId: ref });
    });
  }

  async listKeys(p: Principal, ref: string): Promise<ApiKeyView[]> {
    const project = await this.authorized(p, ref, 'read', 'ApiKey');
    return this.keys.list(project.id);
  }

  async createKey(p: Principal, ref: string, input: CreateKeyInput): Promise<ApiKeyView & { key: string }> {
    const project = await this.authorized(p, ref, 'create', 'ApiKey');
    return this.repo.manager.transaction(async (m) => {
      const { view, key } = await this.keys.create(m, project.id, input, p.userId);
      await this.audit.record(m, p.actor, {
        orgId: project.orgId, action: 'api_key.create', targetType: 'api_key', targetId: view.id, details: { project: ref, type: input.type },
      });
      return { ...view, key };
    });
  }

  async revokeKey(p: Principal, ref: string, id: string): Promise<ApiKeyView> {
    const project = await this.authorized(p, ref, 'delete', 'ApiKey');
    return this.repo.manager.transaction(async (m) => {
      const view = await this.keys.revoke(m, project.id, id);
      await this.audit.record(m, p.actor, { orgId: project.orgId, action: 'api_key.revoke', targetType: 'api_key', targetId: id, details: { project: ref } });
      return view;
    });
  }

  async rotateKey(p: Principal, ref: string, id: string, input: RotateKeyInput): Promise<ApiKeyView & { key: string; previous: ApiKeyView }> {
    const project = await this.authorized(p, ref, 'create', 'ApiKey');
    const expireOldAt = input.expire_old_at ? new Date(input.expire_old_at) : new Date();
    return this.repo.manager.transaction(async (m) => {
      const { view, key, old } = await this.keys.rotate(m, project.id, id, expireOldAt, p.userId);
      await this.audit.record(m, p.actor, {
        orgId: project.orgId, action: 'api_key.rotate', targetType: 'api_key', targetId: id,
        details: { project: ref, new_key: view.id, expire_old_at: expireOldAt.toISOString() },
      });
      return { ...view, key, previous: old };
    });
  }

  /**
   * Tenant DDL for the project (declared tables…) on the cluster it lives on: in `m` on the default cluster, else in a
   * transaction of its cluster committed just before `m`'s. Callers hold the project's catalog lock in `m`.
   */
  ddl<T>(m: EntityManager, project: ProjectEntity, fn: (sql: TenantSql) => Promise<T>): Promise<T> {
    return this.provisioner.onCluster(m, project.cluster, fn);
  }

  /** An active project by ref, for the gateway (no caller check: the key is the credential there). */
  findActive(ref: string): Promise<ProjectEntity | null> {
    if (!REF_PATTERN.test(ref)) return Promise.resolve(null);
    return this.repo.findOne({ where: { ref, status: 'active' } });
  }

  private async find(ref: string, includeDeleted = false): Promise<ProjectEntity | null> {
    if (!REF_PATTERN.test(ref)) return null;
    const row = await this.repo.findOne({ where: { ref } });
    if (!row || (!includeDeleted && row.status === 'deleted')) return null;
    return row;
  }

  private async authorized(p: Principal, ref: string, action: 'read' | 'update' | 'create' | 'delete', subject: 'Project' | 'ApiKey' = 'Project'): Promise<ProjectEntity> {
    const project = await this.find(ref);
    if (!project) throw PlinthException.notFound('Project');
    p.permissions.assert(action, subject, project.orgId, 'Project');
    return project;
  }

  private view(r: ProjectEntity): ProjectView {
    return {
      id: r.id,
      ref: r.ref,
      org_id: r.orgId,
      name: r.name,
      status: r.status,
      cluster: r.cluster,
      endpoint: `${this.config.http.publicUrl}/p/${r.ref}`,
      created_at: r.createdAt.toISOString(),
    };
  }
}
