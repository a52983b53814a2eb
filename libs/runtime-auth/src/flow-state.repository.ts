import { Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import { TenantDatabase } from '@plinth/database';
import type { AuthScope, AuthTx } from './auth.repository';

export interface NewFlowState {
  id: string;
  userId: string | null;
  codeId: string | null;
  authMethod: string;
  provider: string;
  codeChallenge: string | null;
  data: Record<string, unknown>;
  expiresAt: Date;
  /** Set when the flow is created with its auth code already issued (an OAuth flow after its callback). */
  authCodeHash?: string;
}

export interface FlowStateRow {
  id: string;
  user_id: string | null;
  auth_method: string;
  provider: string;
  code_challenge: string | null;
  data: Record<string, unknown>;
  expires_at: Date;
}

const COLUMNS = 'id, user_id, auth_method, provider, code_challenge, data, expires_at';

/**
 * `_auth_flow_states` of a project: a flow started by the app (an emailed link, an OAuth redirect) that ends with
 * an auth code for the app to exchange. Same pool and role as {@link AuthRepository}; times come from the caller
 * (the app's clock), so expiry is what the service decides.
 */
@Injectable()
export class FlowStateRepository {
  constructor(private readonly tenants: TenantDatabase) {}

  private query<R extends QueryResultRow>(t: AuthScope, tx: AuthTx | undefined, text: string, values: unknown[]): Promise<QueryResult<R>> {
    if (tx) return tx.query<R>(text, values);
    return this.tenants.run<R, QueryResult<R>>(t.target, [{ text, values }], (r) => r, { as: 'auth' });
  }

  /** Stores a flow; expired flows of the project are swept in the same statement. */
  async create(t: AuthScope, f: NewFlowState, now: Date, tx?: AuthTx): Promise<void> {
    await this.query(t, tx,
      `WITH old AS (DELETE FROM ${t.flowStates} WHERE expires_at < $9 OR (code_id IS NOT NULL AND code_id = $3))
       INSERT INTO ${t.flowStates} (id, user_id, code_id, auth_method, provider, code_challenge, data, expires_at, auth_code_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10)`,
      [f.id, f.userId, f.codeId, f.authMethod, f.provider, f.codeChallenge, JSON.stringify(f.data), f.expiresAt, now, f.authCodeHash ?? null],
    );
  }

  /**
   * The live flow waiting for emailed code `codeId`, now given its auth code (and a new, short expiry); null when
   * there is none (an implicit flow) or it expired.
   */
  async issueForCode(t: AuthScope, codeId: string, authCodeHash: string, expiresAt: Date, now: Date): Promise<FlowStateRow | null> {
    const { rows } = await this.query<FlowStateRow>(t, undefined,
      `UPDATE ${t.flowStates} SET auth_code_hash = $2, expires_at = $3, code_id = NULL
        WHERE code_id = $1 AND expires_at > $4 AND code_challenge IS NOT NULL RETURNING ${COLUMNS}`,
      [codeId, authCodeHash, expiresAt, now],
    );
    return rows[0] ?? null;
  }

  /** Removes the flow waiting for emailed code `codeId` (the code was used another way). */
  async deleteForCode(t: AuthScope, codeId: string): Promise<void> {
    await this.query(t, undefined, `DELETE FROM ${t.flowStates} WHERE code_id = $1`, [codeId]);
  }

  /** Takes (deletes) a flow by id: the single use of an OAuth state. Expired ones are returned too; the caller decides. */
  async take(t: AuthScope, id: string): Promise<FlowStateRow | null> {
    const { rows } = await this.query<FlowStateRow>(t, undefined,
      `DELETE FROM ${t.flowStates} WHERE id = $1 AND auth_code_hash IS NULL AND code_id IS NULL RETURNING ${COLUMNS}`, [id]);
    return rows[0] ?? null;
  }

  /** Takes (deletes) the flow an auth code was issued for: whatever happens next, that code is spent. */
  async takeByAuthCode(t: AuthScope, authCodeHash: string): Promise<FlowStateRow | null> {
    const { rows } = await this.query<FlowStateRow>(t, undefined, `DELETE FROM ${t.flowStates} WHERE auth_code_hash = $1 RETURNING ${COLUMNS}`, [authCodeHash]);
    return rows[0] ?? null;
  }
}
