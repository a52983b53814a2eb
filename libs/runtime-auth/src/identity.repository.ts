import { Injectable } from '@nestjs/common';
import type { QueryResult, QueryResultRow } from 'pg';
import { TenantDatabase } from '@plinth/database';
import type { AuthScope, AuthTx } from './auth.repository';
import type { IdentityRow } from './auth-user.view';

/**
 * Provider identities of a project's users (`_auth_identities`, created with the users table): an OAuth / OIDC
 * identity is (provider, the provider's subject), and belongs to one user. Same pool and role as AuthRepository.
 */
@Injectable()
export class IdentityRepository {
  constructor(private readonly tenants: TenantDatabase) {}

  transaction<T>(t: AuthScope, fn: (tx: AuthTx) => Promise<T>): Promise<T> {
    return this.tenants.asRole(t.target, 'auth', fn);
  }

  private query<R extends QueryResultRow>(t: AuthScope, tx: AuthTx | undefined, text: string, values: unknown[]): Promise<QueryResult<R>> {
    if (tx) return tx.query<R>(text, values);
    return this.tenants.run<R, QueryResult<R>>(t.target, [{ text, values }], (r) => r, { as: 'auth' });
  }

  /** The identity of `subject` at `provider`, locked for the sign-in that uses it. */
  async find(t: AuthScope, tx: AuthTx, provider: string, subject: string): Promise<IdentityRow | null> {
    const { rows } = await tx.query<IdentityRow>(`SELECT * FROM ${t.identities} WHERE provider = $1 AND provider_id = $2 FOR UPDATE`, [provider, subject]);
    return rows[0] ?? null;
  }

  async add(t: AuthScope, tx: AuthTx, userId: string, provider: string, subject: string, data: Record<string, unknown>): Promise<void> {
    await tx.query(
      `INSERT INTO ${t.identities} (id, user_id, provider, provider_id, identity_data) VALUES (gen_random_uuid(), $1, $2, $3, $4)`,
      [userId, provider, subject, JSON.stringify(data)],
    );
  }

  async updateData(t: AuthScope, tx: AuthTx, identityId: string, data: Record<string, unknown>): Promise<void> {
    await tx.query(`UPDATE ${t.identities} SET identity_data = $2, updated_at = now() WHERE id = $1`, [identityId, JSON.stringify(data)]);
  }

  /** A user created by a provider sign-in: its identity only (no email identity). False when the email is taken. */
  async createUser(
    t: AuthScope,
    tx: AuthTx,
    u: { id: string; email: string | null; confirmed: boolean; metadata: Record<string, unknown>; provider: string; subject: string; data: Record<string, unknown> },
  ): Promise<boolean> {
    const { rows } = await tx.query(
      `WITH u AS (
         INSERT INTO ${t.users} (id, email, email_confirmed_at, user_metadata) VALUES ($1, $2, CASE WHEN $3::boolean THEN now() END, $4)
         ON CONFLICT (email) DO NOTHING RETURNING id)
       INSERT INTO ${t.identities} (id, user_id, provider, provider_id, identity_data) SELECT gen_random_uuid(), u.id, $5, $6, $7 FROM u RETURNING user_id`,
      [u.id, u.email, u.confirmed, JSON.stringify(u.metadata), u.provider, u.subject, JSON.stringify(u.data)],
    );
    return rows.length === 1;
  }

  /** Deletes a user's identity unless it is their last one: 'deleted', 'last' or 'not_found'. */
  async unlink(t: AuthScope, userId: string, identityId: string): Promise<'deleted' | 'last' | 'not_found'> {
    return this.transaction(t, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(`SELECT id FROM ${t.identities} WHERE user_id = $1 FOR UPDATE`, [userId]);
      if (!rows.some((r) => r.id === identityId)) return 'not_found';
      if (rows.length < 2) return 'last';
      await this.query(t, tx, `DELETE FROM ${t.identities} WHERE id = $1 AND user_id = $2`, [identityId, userId]);
      return 'deleted';
    });
  }
}
