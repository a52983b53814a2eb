import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { JsonWebKey } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';

export interface SigningKeyRow {
  kid: string;
  status: 'active' | 'previous';
  public_jwk: JsonWebKey;
  private_enc: string;
  rotated_at: Date | null;
}

/** control.auth_signing_keys: per-project ES256 keys (one active, recently rotated-out ones as `previous`). */
@Injectable()
export class SigningKeysRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Serialises rotations of one project's keys until `m`'s transaction ends. */
  async lockProject(m: EntityManager, projectId: string): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('auth-keys:' || $1))`, [projectId]);
  }

  /** Retires `previous` keys rotated out longer than `overlapSecs` ago. */
  async retireExpired(m: EntityManager, projectId: string, overlapSecs: number): Promise<void> {
    await m.query(
      `UPDATE control.auth_signing_keys SET status = 'retired' WHERE project_id = $1 AND status = 'previous' AND rotated_at < now() - make_interval(secs => $2)`,
      [projectId, overlapSecs],
    );
  }

  /** Demotes the active key to `previous`; its kid, or null when there was none. */
  async demoteActive(m: EntityManager, projectId: string): Promise<string | null> {
    const prev = (await m.query(
      `UPDATE control.auth_signing_keys SET status = 'previous', rotated_at = now() WHERE project_id = $1 AND status = 'active' RETURNING kid`,
      [projectId],
    )) as [Array<{ kid: string }>, number];
    return prev[0][0]?.kid ?? null;
  }

  /** Inserts an active key, in `m`'s transaction or on its own; a racing active key wins (unique index). */
  async insertActive(m: EntityManager | null, k: { kid: string; projectId: string; publicJwk: JsonWebKey; privateEnc: string }): Promise<void> {
    await (m ?? this.db.manager).query(
      `INSERT INTO control.auth_signing_keys (kid, project_id, status, public_jwk, private_enc) VALUES ($1, $2, 'active', $3, $4)
       ON CONFLICT DO NOTHING`,
      [k.kid, k.projectId, JSON.stringify(k.publicJwk), k.privateEnc],
    );
  }

  /** The active key and those rotated out less than `overlapSecs` ago. */
  async live(projectId: string, overlapSecs: number): Promise<SigningKeyRow[]> {
    return (await this.db.query(
      `SELECT kid, status, public_jwk, private_enc, rotated_at FROM control.auth_signing_keys
        WHERE project_id = $1 AND status <> 'retired' AND (status = 'active' OR rotated_at > now() - make_interval(secs => $2))`,
      [projectId, overlapSecs],
    )) as SigningKeyRow[];
  }
}
