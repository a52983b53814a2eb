import { Injectable, OnModuleInit } from '@nestjs/common';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { CacheInvalidation } from '@plinth/database';
import { SecretBox } from './secret-box';
import { SigningKeysRepository } from './signing-keys.repository';

export const AUTH_KEYS_TOPIC = 'auth-keys';
const TTL_MS = 60_000;
/** How long a rotated-out key stays in JWKS: longer than any access token it signed may live. */
const OVERLAP_MS = 86_400_000 + 60_000;

interface ProjectKeys {
  active: { kid: string; privateKey: KeyObject } | null;
  publics: Map<string, KeyObject>;
  jwks: Array<Record<string, unknown>>;
  until: number;
}

/**
 * Per-project ES256 signing keys in `control.auth_signing_keys`, private parts sealed with {@link SecretBox}.
 * A project's first key is made on first use (racing instances agree through the unique active-key index).
 * Rotation demotes the active key to `previous`, still published in JWKS until tokens it signed have expired.
 */
@Injectable()
export class SigningKeysService implements OnModuleInit {
  private readonly cache = new Map<string, ProjectKeys>();
  private readonly loading = new Map<string, Promise<ProjectKeys>>();

  constructor(
    private readonly repo: SigningKeysRepository,
    private readonly box: SecretBox,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(AUTH_KEYS_TOPIC, (projectId) => this.cache.delete(projectId));
  }

  /** The key new tokens are signed with (created on first use). */
  async signingKey(projectId: string): Promise<{ kid: string; privateKey: KeyObject }> {
    let keys = await this.keys(projectId);
    if (!keys.active) {
      await this.create(null, projectId);
      this.cache.delete(projectId);
      keys = await this.keys(projectId);
    }
    if (!keys.active) throw new Error('no active signing key after creating one');
    return keys.active;
  }

  /**
   * A verification key by kid. An unknown kid reloads once (another instance may have rotated) but at most
   * every few seconds, so random kids can't make every request hit the database.
   */
  async publicKey(projectId: string, kid: string): Promise<KeyObject | null> {
    const keys = await this.keys(projectId);
    const key = keys.publics.get(kid);
    if (key) return key;
    if (keys.until - TTL_MS + 5000 < Date.now()) {
      this.cache.delete(projectId);
      return (await this.keys(projectId)).publics.get(kid) ?? null;
    }
    return null;
  }

  async jwks(projectId: string): Promise<{ keys: Array<Record<string, unknown>> }> {
    await this.signingKey(projectId);
    return { keys: (await this.keys(projectId)).jwks };
  }

  /** Makes a new active key in the caller's transaction; the old one stays verifiable during the overlap. */
  async rotate(m: EntityManager, projectId: string): Promise<{ kid: string; previous: string | null }> {
    await this.repo.lockProject(m, projectId);
    await this.repo.retireExpired(m, projectId, OVERLAP_MS / 1000);
    const previous = await this.repo.demoteActive(m, projectId);
    const kid = await this.create(m, projectId);
    await this.invalidation.publish(m, AUTH_KEYS_TOPIC, projectId);
    this.cache.delete(projectId);
    return { kid, previous };
  }

  /** In `m`'s transaction, or on its own when null. */
  private async create(m: EntityManager | null, projectId: string): Promise<string> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomUUID();
    const jwk = publicKey.export({ format: 'jwk' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await this.repo.insertActive(m, { kid, projectId, publicJwk: jwk, privateEnc: this.box.seal(pem, `signing-key:${projectId}:${kid}`) });
    return kid;
  }

  private keys(projectId: string): Promise<ProjectKeys> {
    const hit = this.cache.get(projectId);
    if (hit && hit.until > Date.now()) return Promise.resolve(hit);
    let pending = this.loading.get(projectId);
    if (!pending) {
      pending = this.load(projectId).finally(() => this.loading.delete(projectId));
      this.loading.set(projectId, pending);
    }
    return pending;
  }

  private async load(projectId: string): Promise<ProjectKeys> {
    const rows = await this.repo.live(projectId, OVERLAP_MS / 1000);
    const entry: ProjectKeys = { active: null, publics: new Map(), jwks: [], until: Date.now() + TTL_MS };
    for (const r of rows) {
      entry.publics.set(r.kid, createPublicKey({ key: r.public_jwk, format: 'jwk' }));
      entry.jwks.push({ kty: r.public_jwk.kty, crv: r.public_jwk.crv, x: r.public_jwk.x, y: r.public_jwk.y, kid: r.kid, alg: 'ES256', use: 'sig', key_ops: ['verify'] });
      if (r.status === 'active') {
        entry.active = { kid: r.kid, privateKey: createPrivateKey(this.box.open(r.private_enc, `signing-key:${projectId}:${r.kid}`)) };
      }
    }
    if (this.cache.size > 20_000) this.cache.clear();
    this.cache.set(projectId, entry);
    return entry;
  }
}
