import { Injectable, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createPrivateKey, createPublicKey, generateKeyPairSync, JsonWebKey, KeyObject, randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { CacheInvalidation } from '@plinth/database';
import { SecretBox } from './secret-box';

export const AUTH_KEYS_TOPIC = 'auth-keys';
const TTL_MS = 60_000;
/** How long a rotated-out key stays in JWKS: longer than any access token it signed may live. */
const OVERLAP_MS = 86_400_000 + 60_000;

interface KeyRow {
  kid: string;
  status: 'active' | 'previous';
  public_jwk: JsonWebKey;
  private_enc: string;
  rotated_at: Date | null;
}

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
    @InjectDataSource() private readonly db: DataSource,
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
      await this.create(this.db.manager, projectId);
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
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('auth-keys:' || $1))`, [projectId]);
    await m.query(
      `UPDATE control.auth_signing_keys SET status = 'retired' WHERE project_id = $1 AND status = 'previous' AND rotated_at < now() - make_interval(secs => $2)`,
      [projectId, OVERLAP_MS / 1000],
    );
    const prev = (await m.query(
      `UPDATE control.auth_signing_keys SET status = 'previous', rotated_at = now() WHERE project_id = $1 AND status = 'active' RETURNING kid`,
      [projectId],
    )) as [Array<{ kid: string }>, number];
    const kid = await this.create(m, projectId);
    await this.invalidation.publish(m, AUTH_KEYS_TOPIC, projectId);
    this.cache.delete(projectId);
    return { kid, previous: prev[0][0]?.kid ?? null };
  }

  private async create(m: EntityManager, projectId: string): Promise<string> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomUUID();
    const jwk = publicKey.export({ format: 'jwk' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await m.query(
      `INSERT INTO control.auth_signing_keys (kid, project_id, status, public_jwk, private_enc) VALUES ($1, $2, 'active', $3, $4)
       ON CONFLICT DO NOTHING`,
      [kid, projectId, JSON.stringify(jwk), this.box.seal(pem, `signing-key:${projectId}:${kid}`)],
    );
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
    const rows = (await this.db.query(
      `SELECT kid, status, public_jwk, private_enc, rotated_at FROM control.auth_signing_keys
        WHERE project_id = $1 AND status <> 'retired' AND (status = 'active' OR rotated_at > now() - make_interval(secs => $2))`,
      [projectId, OVERLAP_MS / 1000],
    )) as KeyRow[];
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
