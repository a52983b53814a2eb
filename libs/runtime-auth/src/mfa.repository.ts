import { Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import { TenantDatabase } from '@plinth/database';
import type { AuthScope, AuthTx } from './auth.repository';
import type { FactorView } from './auth-user.view';

export interface FactorRow extends FactorView {
  user_id: string;
  secret_enc: string;
  last_used_step: string;
}

export interface ChallengeRow {
  id: string;
  factor_id: string;
  ip: string | null;
  attempts: number;
  expires_at: Date;
  verified_at: Date | null;
}

/** Session amr entries; a second factor's entry names its factor (for per-factor downgrade; never in a token). */
type Amr = Array<{ method: string; timestamp: number; factor_id?: string }>;

const FACTOR_COLUMNS = 'id, user_id, friendly_name, factor_type, status, secret_enc, last_used_step, last_challenged_at, created_at, updated_at';

/**
 * `_auth_mfa_factors` and `_auth_mfa_challenges` of a project, and the session changes MFA makes (a verified
 * factor raises a session to aal2, removing the last one lowers them). Every statement names the user, so a
 * factor id of another user (or, with per-project tables, another project) finds nothing.
 */
@Injectable()
export class MfaRepository {
  constructor(private readonly tenants: TenantDatabase) {}

  transaction<T>(t: AuthScope, fn: (tx: AuthTx) => Promise<T>): Promise<T> {
    return this.tenants.asRole(t.target, 'auth', fn);
  }

  private query<R extends QueryResultRow>(t: AuthScope, tx: AuthTx | undefined, text: string, values: unknown[]): Promise<QueryResult<R>> {
    if (tx) return tx.query<R>(text, values);
    return this.tenants.run<R, QueryResult<R>>(t.target, [{ text, values }], (r) => r, { as: 'auth' });
  }

  async listFactors(t: AuthScope, userId: string, tx?: AuthTx): Promise<FactorRow[]> {
    const { rows } = await this.query<FactorRow>(t, tx, `SELECT ${FACTOR_COLUMNS} FROM ${t.factors} WHERE user_id = $1 ORDER BY created_at`, [userId]);
    return rows;
  }

  async findFactor(t: AuthScope, userId: string, factorId: string): Promise<FactorRow | null> {
    const { rows } = await this.query<FactorRow>(t, undefined, `SELECT ${FACTOR_COLUMNS} FROM ${t.factors} WHERE id = $1 AND user_id = $2`, [factorId, userId]);
    return rows[0] ?? null;
  }

  async createFactor(t: AuthScope, f: { id: string; userId: string; friendlyName: string; factorType: string; secretEnc: string; now: Date }, tx: AuthTx): Promise<void> {
    await tx.query(
      `INSERT INTO ${t.factors} (id, user_id, friendly_name, factor_type, status, secret_enc, created_at, updated_at)
       VALUES ($1, $2, $3, $4, 'unverified', $5, $6, $6)`,
      [f.id, f.userId, f.friendlyName, f.factorType, f.secretEnc, f.now],
    );
  }

  /**
   * Deletes a user's factor, and downgrades the sessions that factor raised to aal1 (GoTrue's
   * DowngradeSessionsToAAL1): their amr loses the entry that names it, so their next token is aal1 while sessions
   * raised by another factor stay aal2. Entries from before factors were recorded (no `factor_id`) go when no
   * verified factor is left.
   */
  async deleteFactor(t: AuthScope, userId: string, factorId: string): Promise<FactorRow | null> {
    return this.transaction(t, async (tx) => {
      const { rows } = await tx.query<FactorRow>(`DELETE FROM ${t.factors} WHERE id = $1 AND user_id = $2 RETURNING ${FACTOR_COLUMNS}`, [factorId, userId]);
      if (!rows[0]) return null;
      await tx.query(
        `WITH left_verified AS (SELECT EXISTS (SELECT 1 FROM ${t.factors} WHERE user_id = $1 AND status = 'verified') AS some_left)
         UPDATE ${t.sessions} s SET amr = (
             SELECT coalesce(jsonb_agg(e), '[]'::jsonb) FROM jsonb_array_elements(s.amr) e
              WHERE NOT (e->>'method' = 'totp' AND (e->>'factor_id' = $2 OR (e->>'factor_id' IS NULL AND NOT (SELECT some_left FROM left_verified)))))
          WHERE s.user_id = $1 AND s.amr @> '[{"method":"totp"}]'::jsonb`,
        [userId, factorId],
      );
      return rows[0];
    });
  }

  async createChallenge(t: AuthScope, c: { id: string; factorId: string; userId: string; ip: string; now: Date; expiresAt: Date }): Promise<boolean> {
    const { rows } = await this.query(t, undefined,
      `WITH f AS (UPDATE ${t.factors} SET last_challenged_at = $4 WHERE id = $2 AND user_id = $3 RETURNING id)
       , old AS (DELETE FROM ${t.challenges} WHERE factor_id IN (SELECT id FROM f) AND expires_at < $4)
       INSERT INTO ${t.challenges} (id, factor_id, ip, created_at, expires_at) SELECT $1, f.id, $5, $4, $6 FROM f RETURNING id`,
      [c.id, c.factorId, c.userId, c.now, c.ip, c.expiresAt],
    );
    return rows.length === 1;
  }

  /** The challenge and its factor, locked for the verification (both must belong to `userId`). */
  async lockChallenge(t: AuthScope, tx: AuthTx, userId: string, factorId: string, challengeId: string): Promise<{ challenge: ChallengeRow; factor: FactorRow } | null> {
    const { rows } = await tx.query<FactorRow & { c: ChallengeRow }>(
      `SELECT f.id, f.user_id, f.friendly_name, f.factor_type, f.status, f.secret_enc, f.last_used_step, f.last_challenged_at, f.created_at, f.updated_at,
              row_to_json(c) AS c
         FROM ${t.challenges} c JOIN ${t.factors} f ON f.id = c.factor_id
        WHERE c.id = $1 AND f.id = $2 AND f.user_id = $3 AND c.verified_at IS NULL
        FOR UPDATE OF c, f`,
      [challengeId, factorId, userId],
    );
    if (!rows[0]) return null;
    const { c, ...factor } = rows[0];
    return { challenge: { ...c, expires_at: new Date(c.expires_at) }, factor };
  }

  async countFailedAttempt(t: AuthScope, tx: AuthTx, challengeId: string): Promise<void> {
    await tx.query(`UPDATE ${t.challenges} SET attempts = attempts + 1 WHERE id = $1`, [challengeId]);
  }

  async deleteChallenge(t: AuthScope, tx: AuthTx, challengeId: string): Promise<void> {
    await tx.query(`DELETE FROM ${t.challenges} WHERE id = $1`, [challengeId]);
  }

  /**
   * A correct code: the challenge is spent, the factor verified with `step` as its last accepted time step, the
   * user's other unverified factors of that type dropped (as GoTrue does).
   */
  async acceptCode(t: AuthScope, tx: AuthTx, factor: FactorRow, challengeId: string, step: number, now: Date): Promise<void> {
    await tx.query(`UPDATE ${t.challenges} SET verified_at = $2 WHERE id = $1`, [challengeId, now]);
    await tx.query(`UPDATE ${t.factors} SET status = 'verified', last_used_step = $2, updated_at = $3 WHERE id = $1`, [factor.id, step, now]);
    await tx.query(`DELETE FROM ${t.factors} WHERE user_id = $1 AND factor_type = $2 AND status = 'unverified' AND id <> $3`, [factor.user_id, factor.factor_type, factor.id]);
  }

  /**
   * Raises session `sessionId` (of `userId`) with a second-factor `amr` entry (most recent first), replaces its
   * refresh tokens with a new one, and ends the user's other sessions that have no second factor
   * (GoTrue's InvalidateSessionsWithAALLessThan). Returns the new amr and the ended sessions, or null when the
   * session is gone.
   */
  async elevateSession(
    t: AuthScope,
    tx: AuthTx,
    c: { userId: string; sessionId: string; entry: Amr[number]; refreshHash: string },
  ): Promise<{ amr: Amr; ended: string[] } | null> {
    const { rows } = await tx.query<{ amr: Amr }>(
      `UPDATE ${t.sessions} SET amr = jsonb_build_array($3::jsonb) || (SELECT coalesce(jsonb_agg(e), '[]'::jsonb) FROM jsonb_array_elements(amr) e WHERE e->>'method' <> $4)
        WHERE id = $1 AND user_id = $2 RETURNING amr`,
      [c.sessionId, c.userId, JSON.stringify(c.entry), c.entry.method],
    );
    if (!rows[0]) return null;
    // The aal1 refresh tokens go (not merely revoked: presenting one later must not read as a leaked token and end
    // the session the app now holds at aal2).
    await tx.query(`DELETE FROM ${t.refreshTokens} WHERE session_id = $1`, [c.sessionId]);
    await tx.query(`INSERT INTO ${t.refreshTokens} (token_hash, session_id) VALUES ($1, $2)`, [c.refreshHash, c.sessionId]);
    const ended = await tx.query<{ id: string }>(
      `DELETE FROM ${t.sessions} WHERE user_id = $1 AND id <> $2 AND NOT amr @> '[{"method":"totp"}]'::jsonb RETURNING id`,
      [c.userId, c.sessionId],
    );
    return { amr: rows[0].amr, ended: ended.rows.map((r) => r.id) };
  }
}
