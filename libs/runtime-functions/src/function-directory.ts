import { Injectable, Logger } from '@nestjs/common';
import { CacheInvalidation } from '@plinth/database';
import { FunctionSecretBox } from './function-secret-box';
import { DeployedFunction, FunctionsRepository } from './functions.repository';

export const FUNCTIONS_TOPIC = 'functions';
const TTL_MS = 30_000;

/**
 * Deployed functions and opened secrets per project, cached for the invocation path. A deploy, rollback, delete or
 * secret change invalidates this instance's entry at once and others' by push (Postgres NOTIFY); the TTL only heals
 * a missed notification.
 */
@Injectable()
export class FunctionDirectory {
  private readonly logger = new Logger(FunctionDirectory.name);
  private readonly functions = new Map<string, { at: number; value: Promise<DeployedFunction | undefined> }>();
  private readonly secrets = new Map<string, { at: number; value: Promise<Record<string, string>> }>();
  private readonly code = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly repo: FunctionsRepository,
    private readonly box: FunctionSecretBox,
    private readonly invalidation: CacheInvalidation,
  ) {
    invalidation.subscribe(FUNCTIONS_TOPIC, (key) => this.drop(key));
  }

  find(projectId: string, name: string): Promise<DeployedFunction | undefined> {
    const key = `${projectId}/${name}`;
    const hit = this.functions.get(key);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const value = this.repo.deployed(projectId, name);
    this.functions.set(key, { at: Date.now(), value });
    value.catch(() => this.functions.delete(key));
    return value;
  }

  /** A version's compiled module (immutable, so cached without expiry; bounded). */
  compiled(versionId: string): Promise<string | undefined> {
    let hit = this.code.get(versionId);
    if (!hit) {
      if (this.code.size > 500) this.code.clear();
      hit = this.repo.compiled(versionId);
      this.code.set(versionId, hit);
      hit.catch(() => this.code.delete(versionId));
    }
    return hit;
  }

  projectSecrets(projectId: string): Promise<Record<string, string>> {
    const hit = this.secrets.get(projectId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const value = this.repo.secrets(projectId).then((rows) => {
      const out: Record<string, string> = {};
      for (const r of rows) {
        try {
          out[r.name] = this.box.open(projectId, r.name, r.value_enc);
        } catch {
          this.logger.warn(`function secret ${r.name} of project ${projectId} does not open (sealed under another key?)`);
        }
      }
      return out;
    });
    this.secrets.set(projectId, { at: Date.now(), value });
    value.catch(() => this.secrets.delete(projectId));
    return value;
  }

  invalidate(projectId: string, name: string): void {
    this.drop(`${projectId}/${name}`);
    this.publish(`${projectId}/${name}`);
  }

  invalidateSecrets(projectId: string): void {
    this.drop(`${projectId}`);
    this.publish(projectId);
  }

  private publish(key: string): void {
    this.repo.notify(FUNCTIONS_TOPIC, key).catch((e: Error) => this.logger.warn(`invalidation not published: ${e.message}`));
  }

  private drop(key: string): void {
    if (key.includes('/')) this.functions.delete(key);
    else this.secrets.delete(key);
  }
}
