import { Injectable } from '@nestjs/common';
import type { AuditActor } from '@plinth/audit';
import { ErrorCode, PlinthException } from '@plinth/common';
import { ProjectDirectory, TenantProject } from '@plinth/gateway';
import type { BucketAdmin } from './bucket-admin.guard';
import { BucketRuleInput, normaliseBucketRules, StoredBucketRule } from './bucket-rules';
import { bucketId } from './object-path';
import { StorageException } from './storage.exception';
import { StorageRepository } from './storage.repository';
import { BucketInput, BucketView, bucketView, StorageService } from './storage.service';

/** The management API answers in Plinth's error shape: a Storage-dialect refusal is re-raised as its equivalent. */
async function plinthErrors<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (e) {
    if (!(e instanceof StorageException)) throw e;
    if (e.status === 404) throw new PlinthException(ErrorCode.NotFound, e.message);
    if (e.status === 409) throw PlinthException.conflict(e.message);
    if (e.status === 400) throw PlinthException.badRequest(e.message);
    throw e;
  }
}

/** Who the audit log names for a management call. */
const actorOf = (a: BucketAdmin): AuditActor => (a.kind === 'key' ? a.actor : a.principal.actor);

/** A bucket on the management API: Storage's view plus its rules. */
export type ManagedBucket = BucketView & { rules: StoredBucketRule[] };

/**
 * Buckets on the management API (`/v1/projects/:ref/buckets`): the same buckets as the tenant API's, plus their
 * rules. Console callers need the project permission of the route; a key must be the project's own secret key.
 */
@Injectable()
export class BucketsAdminService {
  constructor(
    private readonly directory: ProjectDirectory,
    private readonly storage: StorageService,
    private readonly repo: StorageRepository,
  ) {}

  async list(a: BucketAdmin, ref: string): Promise<ManagedBucket[]> {
    const project = await this.project(a, ref, 'read');
    return (await this.repo.listBuckets(project)).map((b) => ({ ...bucketView(b), rules: b.rules }));
  }

  async get(a: BucketAdmin, ref: string, id: string): Promise<ManagedBucket> {
    const project = await this.project(a, ref, 'read');
    return this.view(project, id);
  }

  async create(a: BucketAdmin, ref: string, input: BucketInput): Promise<ManagedBucket> {
    const project = await this.project(a, ref, 'update');
    const id = await plinthErrors(Promise.resolve().then(() => bucketId(input.id ?? input.name)));
    await plinthErrors(this.storage.createBucket(project, actorOf(a), { ...input, id }, null));
    return this.view(project, id);
  }

  async update(a: BucketAdmin, ref: string, id: string, input: BucketInput): Promise<ManagedBucket> {
    const project = await this.project(a, ref, 'update');
    await plinthErrors(Promise.resolve().then(() => this.storage.updateBucket(project, actorOf(a), bucketId(id), input)));
    return this.view(project, id);
  }

  async remove(a: BucketAdmin, ref: string, id: string): Promise<void> {
    const project = await this.project(a, ref, 'update');
    await plinthErrors(Promise.resolve().then(() => this.storage.deleteBucket(project, actorOf(a), bucketId(id))));
  }

  async putRules(a: BucketAdmin, ref: string, id: string, rules: BucketRuleInput[]): Promise<ManagedBucket> {
    const project = await this.project(a, ref, 'update');
    const updated = await plinthErrors(Promise.resolve().then(() => this.repo.updateBucket(project, bucketId(id), { rules: normaliseBucketRules(rules) })));
    if (!updated) throw new PlinthException(ErrorCode.NotFound, 'Bucket not found');
    await this.storage.audited(project, actorOf(a), 'bucket.rules_update', bucketId(id), { rules: rules.length });
    return this.view(project, id);
  }

  private async view(project: TenantProject, id: string): Promise<ManagedBucket> {
    const b = await plinthErrors(Promise.resolve().then(() => this.repo.bucket(project, bucketId(id))));
    if (!b) throw new PlinthException(ErrorCode.NotFound, 'Bucket not found');
    return { ...bucketView(b), rules: b.rules };
  }

  private async project(a: BucketAdmin, ref: string, action: 'read' | 'update'): Promise<TenantProject> {
    const project = await this.directory.find(ref);
    if (!project) throw PlinthException.notFound('Project');
    if (a.kind === 'key') {
      if (a.projectId !== project.id) throw PlinthException.notFound('Project');
    } else {
      a.principal.permissions.assert(action, 'Project', project.orgId, 'Project');
    }
    return project;
  }
}
