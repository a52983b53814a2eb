import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { TenantClusters, TenantDatabase, TenantTarget } from '@plinth/database';
import type { TenantProject } from '@plinth/gateway';
import { sqlOn, tenantNames } from '@plinth/tenancy';
import type { TenantSql } from '@plinth/tenancy';
import { authFlowTables, AuthFlowTables, createAuthFlowTables } from './auth-flow-schema';
import { authTables, AuthTables, createAuthTables } from './auth-schema';
import type { UserRow } from './auth-user.view';

/** A project's auth tables and where their SQL runs (the project's cluster, as its auth role). */
export type AuthScope = AuthTables & AuthFlowTables & { readonly target: TenantTarget };

/** A transaction on the tenant pool as the project's auth role (see {@link AuthRepository.transaction}). */
export type AuthTx = PoolClient;

export type CodeKind = 'signup' | 'magiclink' | 'recovery' | 'email_change' | 'invite';
/** Every kind of stored code: the emailed links' kinds, and the reauthentication nonce (a code without a link). */
export type StoredCodeKind = CodeKind | 'reauthentication';

export interface NewUser {
  id: string;
  email: string | null;
  passwordHash: string | null;
  confirmed: boolean;
  anonymous: boolean;
  userMetadata: Record<string, unknown>;
  appMetadata: Record<string, unknown>;
  bannedUntil?: Date | null;
}

export interface NewSession {
  sessionId: string;
  userId: string;
  amr: Array<{ method: string; timestamp: number }>;
  userAgent: string | null;
  ip: string | null;
  refreshHash: string;
}

export type RefreshOutcome =
  | { status: 'ok'; sessionId: string; userId: string; amr: NewSession['amr'] }
  | { status: 'not_found' }
  | { status: 'reused'; sessionId: string }
  /** A spent token replayed within the reuse interval: the caller answers with the session's current token. */
  | { status: 'reused_recently'; sessionId: string };

/** The session's current refresh token (sealed) and the hash of its live token, to check the one against the other. */
export interface CurrentRefreshToken {
  sealed: string | null;
  liveHash: string | null;
  userId: string;
  amr: NewSession['amr'];
}

export interface CodeRow {
  id: string;
  kind: StoredCodeKind;
  email: string;
  user_id: string | null;
}

/** Columns an update may set (anything else is a programming error). */
const UPDATABLE = new Set([
  'email', 'encrypted_password', 'email_confirmed_at', 'confirmation_sent_at', 'new_email', 'is_anonymous', 'banned_until',
  'user_metadata', 'app_metadata', 'last_sign_in_at', 'invited_at',
]);

const USER_COLUMNS = `u.id, u.email, u.encrypted_password, u.email_confirmed_at, u.confirmation_sent_at, u.new_email, u.is_anonymous,
  u.banned_until, u.user_metadata, u.app_metadata, u.last_sign_in_at, u.created_at, u.updated_at, u.invited_at`;

/** The user's MFA factors as GoTrue shows them (never the secret), for the user object. */
const FACTORS_OF_U = (t: AuthScope) =>
  `coalesce((SELECT json_agg(json_build_object('id', f.id, 'friendly_name', f.friendly_name, 'factor_type', f.factor_type, 'status', f.status,
     'created_at', f.created_at, 'updated_at', f.updated_at, 'last_challenged_at', f.last_challenged_at) ORDER BY f.created_at)
     FROM ${t.factors} f WHERE f.user_id = u.id), '[]'::json) AS factors`;

/**
 * End-user data of a project (users, identities, sessions, refresh tokens, one-time codes) in its own schema,
 * with schema-qualified, parameterised SQL on the tenant pool as the project's auth role (`t_<ref>_auth`, granted
 * these tables only): tenant traffic can't starve the control pool, and a statement here can't reach the
 * project's declared tables, another project, or control data. Never through the data role, which has no grant
 * on these tables. Table names come from the validated ref only. A method given a transaction runs in it;
 * without one, its statement is a transaction of its own (one round trip).
 */
@Injectable()
export class AuthRepository {
  private readonly logger = new Logger(AuthRepository.name);
  private readonly ready = new Set<string>();

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly tenants: TenantDatabase,
    private readonly clusters: TenantClusters,
  ) {}

  tables(project: Pick<TenantProject, 'ref' | 'cluster' | 'schema' | 'dataRole'>): AuthScope {
    const target: TenantTarget = { ref: project.ref, cluster: project.cluster, schema: tenantNames(project.ref).schema, dataRole: project.dataRole };
    return { ...authTables(target.schema), ...authFlowTables(target.schema), target };
  }

  /** Runs `fn`; a project provisioned before the auth runtime existed gets its tables first (once). */
  async run<T>(project: Pick<TenantProject, 'ref' | 'cluster' | 'schema' | 'dataRole'>, fn: (t: AuthScope) => Promise<T>): Promise<T> {
    const t = this.tables(project);
    // Once per project and process: the newest tables exist (else they are created first). Retrying `fn` after a
    // missing table is not enough on its own: statements before the failing one (a user created, a rate limit
    // spent) would run twice.
    if (!this.ready.has(project.ref)) {
      const { rows } = await this.tenants.run<{ t: string | null }, QueryResult<{ t: string | null }>>(
        t.target, [{ text: `SELECT to_regclass($1) AS t`, values: [t.challenges] }], (r) => r, { as: 'auth' });
      if (!rows[0]?.t) await this.backfill(project.ref, project.cluster);
      this.ready.add(project.ref);
    }
    try {
      return await fn(t);
    } catch (e) {
      if ((e as { code?: string }).code !== '42P01' || this.ready.has(project.ref)) throw e;
      await this.backfill(project.ref, project.cluster);
      this.ready.add(project.ref);
      return fn(t);
    }
  }

  /** Runs `fn` in one transaction on the tenant pool as the project's auth role; pass its client to the methods. */
  transaction<T>(t: AuthScope, fn: (tx: AuthTx) => Promise<T>): Promise<T> {
    return this.tenants.asRole(t.target, 'auth', fn);
  }

  /** One statement: in `tx` when given, else as a transaction of its own. */
  private query<R extends QueryResultRow>(t: AuthScope, tx: AuthTx | undefined, text: string, values: unknown[]): Promise<QueryResult<R>> {
    if (tx) return tx.query<R>(text, values);
    return this.tenants.run<R, QueryResult<R>>(t.target, [{ text, values }], (r) => r, { as: 'auth' });
  }

  /**
   * DDL, so as the schema's owner (the auth role may create nothing), on the project's cluster: the control pool for
   * the default cluster, the cluster's admin connection for another one.
   */
  private async backfill(ref: string, cluster: string): Promise<void> {
    const names = tenantNames(ref);
    this.logger.log(`creating auth tables for project ${ref}`);
    const onCluster = <T>(fn: (m: TenantSql) => Promise<T>) =>
      cluster === this.clusters.defaultName ? this.db.transaction((m) => fn(m)) : this.clusters.transaction(cluster, (c) => fn(sqlOn(c)));
    await onCluster(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('auth-tables:' || $1))`, [ref]);
      const exists = (await m.query(`SELECT to_regclass($1) AS t`, [`"${names.schema}"."_auth_users"`])) as Array<{ t: string | null }>;
      await m.query(`SET LOCAL ROLE "${names.ownerRole}"`);
      // Tables added later (flows, MFA) are created idempotently for a schema that has the first ones.
      if (exists[0]?.t) await createAuthFlowTables(m, { ref, ...names });
      else await createAuthTables(m, { ref, ...names });
    });
  }

  async findUser(t: AuthScope, by: { id: string } | { email: string }, tx?: AuthTx, lock = false): Promise<UserRow | null> {
    const [where, value] = 'id' in by ? ['u.id = $1', by.id] : ['u.email = $1', by.email];
    const { rows } = await this.query<UserRow>(t, tx,
      `SELECT ${USER_COLUMNS},
         coalesce((SELECT json_agg(i ORDER BY i.created_at) FROM ${t.identities} i WHERE i.user_id = u.id), '[]'::json) AS identities,
         ${FACTORS_OF_U(t)}
         FROM ${t.users} u WHERE ${where}${lock ? ' FOR UPDATE OF u' : ''}`,
      [value],
    );
    return rows[0] ?? null;
  }

  /** Inserts a user and, when it has an email, its email identity. False when the email is taken. */
  async createUser(t: AuthScope, u: NewUser, tx?: AuthTx): Promise<boolean> {
    const { rows } = await this.query<{ id: string }>(t, tx,
      `WITH u AS (
         INSERT INTO ${t.users} (id, email, encrypted_password, email_confirmed_at, is_anonymous, user_metadata, app_metadata, banned_until)
         VALUES ($1, $2, $3, CASE WHEN $4::boolean THEN now() END, $5, $6, $7, $8)
         ON CONFLICT (email) DO NOTHING RETURNING id, email)
       , i AS (
         INSERT INTO ${t.identities} (id, user_id, provider, provider_id, identity_data)
         SELECT gen_random_uuid(), u.id, 'email', u.id::text,
                jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', $4::boolean, 'phone_verified', false)
           FROM u WHERE u.email IS NOT NULL)
       SELECT id FROM u`,
      [u.id, u.email, u.passwordHash, u.confirmed, u.anonymous, JSON.stringify(u.userMetadata), JSON.stringify(u.appMetadata), u.bannedUntil ?? null],
    );
    return rows.length === 1;
  }

  /** Adds the email identity of a user who just got (or changed) an email. */
  async upsertEmailIdentity(t: AuthScope, userId: string, email: string, tx?: AuthTx): Promise<void> {
    await this.query(t, tx,
      `INSERT INTO ${t.identities} (id, user_id, provider, provider_id, identity_data)
       VALUES (gen_random_uuid(), $1::uuid, 'email', $1::uuid::text,
               jsonb_build_object('sub', $1::uuid::text, 'email', $2::text, 'email_verified', true, 'phone_verified', false))
       ON CONFLICT (provider, provider_id) DO UPDATE SET identity_data = EXCLUDED.identity_data, updated_at = now()`,
      [userId, email],
    );
  }

  async updateUser(t: AuthScope, id: string, fields: Record<string, unknown>, tx?: AuthTx): Promise<void> {
    const keys = Object.keys(fields);
    if (!keys.length) return;
    for (const k of keys) if (!UPDATABLE.has(k)) throw new Error(`not an updatable user column: ${k}`);
    const sets = keys.map((k, i) => `${k} = $${i + 2}`).join(', ');
    const values = keys.map((k) => {
      const v = fields[k];
      return v !== null && typeof v === 'object' && !(v instanceof Date) ? JSON.stringify(v) : v;
    });
    await this.query(t, tx, `UPDATE ${t.users} SET ${sets}, updated_at = now() WHERE id = $1`, [id, ...values]);
  }

  /** Swaps a password hash for an equivalent fresh one, unless the password changed meanwhile. */
  async replacePasswordHash(t: AuthScope, id: string, current: string, fresh: string): Promise<void> {
    await this.query(t, undefined, `UPDATE ${t.users} SET encrypted_password = $3 WHERE id = $1 AND encrypted_password = $2`, [id, current, fresh]);
  }

  async deleteUser(t: AuthScope, id: string): Promise<boolean> {
    const { rowCount } = await this.query(t, undefined, `DELETE FROM ${t.users} WHERE id = $1`, [id]);
    return rowCount === 1;
  }

  async listUsers(t: AuthScope, page: number, perPage: number, oldestFirst: boolean): Promise<{ users: UserRow[]; total: number }> {
    const order = oldestFirst ? 'u.created_at, u.id' : 'u.created_at DESC, u.id DESC';
    const { rows } = await this.query<UserRow & { total: string }>(t, undefined,
      `SELECT ${USER_COLUMNS}, count(*) OVER () AS total,
         coalesce((SELECT json_agg(i ORDER BY i.created_at) FROM ${t.identities} i WHERE i.user_id = u.id), '[]'::json) AS identities,
         ${FACTORS_OF_U(t)}
         FROM ${t.users} u ORDER BY ${order} LIMIT $1 OFFSET $2`,
      [perPage, (page - 1) * perPage],
    );
    const total = rows.length ? Number(rows[0].total) : Number((await this.query<{ n: string }>(t, undefined, `SELECT count(*) AS n FROM ${t.users}`, [])).rows[0].n);
    return { users: rows, total };
  }

  /** One statement: the session, its first refresh token and the sign-in time. */
  async createSession(t: AuthScope, s: NewSession, tx?: AuthTx): Promise<void> {
    await this.query(t, tx,
      `WITH s AS (
         INSERT INTO ${t.sessions} (id, user_id, amr, user_agent, ip) VALUES ($1, $2, $3, $4, $5) RETURNING id)
       , r AS (INSERT INTO ${t.refreshTokens} (token_hash, session_id) SELECT $6, id FROM s)
       UPDATE ${t.users} SET last_sign_in_at = now() WHERE id = $2`,
      [s.sessionId, s.userId, JSON.stringify(s.amr), s.userAgent, s.ip, s.refreshHash],
    );
  }

  /**
   * Exchanges a refresh token for a new one. A token already spent means it leaked (or a client raced): spent
   * within the last `reuseSeconds` it is a race (two tabs refreshing at once) and the caller hands back the
   * session's current token (see {@link currentRefreshToken}); spent earlier, the whole session (its token
   * family) is revoked, and the caller refuses. One statement (so one round trip on the tenant pool): the
   * presented token's row is locked first, and a concurrent exchange of the same token waits for it, then sees
   * it spent. `nextSealed` is the new token sealed, kept on the session for such replays.
   */
  async rotateRefreshToken(t: AuthScope, presentedHash: string, nextHash: string, nextSealed: string, reuseSeconds: number): Promise<RefreshOutcome> {
    const { rows } = await this.query<{ session_id: string; revoked: boolean; recent: boolean; user_id: string; amr: NewSession['amr'] }>(t, undefined,
      `WITH r AS (
         SELECT r.session_id, r.revoked, coalesce(r.revoked_at > now() - make_interval(secs => $4), false) AS recent, s.user_id, s.amr
           FROM ${t.refreshTokens} r JOIN ${t.sessions} s ON s.id = r.session_id
          WHERE r.token_hash = $1 FOR UPDATE OF r)
       , spent AS (UPDATE ${t.refreshTokens} SET revoked = true, revoked_at = now() WHERE token_hash = $1 AND EXISTS (SELECT 1 FROM r WHERE NOT r.revoked))
       , fresh AS (INSERT INTO ${t.refreshTokens} (token_hash, session_id) SELECT $2, r.session_id FROM r WHERE NOT r.revoked)
       , touched AS (UPDATE ${t.sessions} SET refreshed_at = now(), refresh_token_sealed = $3 WHERE id IN (SELECT r.session_id FROM r WHERE NOT r.revoked))
       , ended AS (DELETE FROM ${t.sessions} WHERE id IN (SELECT r.session_id FROM r WHERE r.revoked AND NOT r.recent))
       SELECT session_id, revoked, recent, user_id, amr FROM r`,
      [presentedHash, nextHash, nextSealed, reuseSeconds],
    );
    const row = rows[0];
    if (!row) return { status: 'not_found' };
    if (row.revoked) return row.recent ? { status: 'reused_recently', sessionId: row.session_id } : { status: 'reused', sessionId: row.session_id };
    return { status: 'ok', sessionId: row.session_id, userId: row.user_id, amr: row.amr };
  }

  /**
   * The session's current refresh token, read after a replay within the reuse interval. A statement of its own
   * on purpose: the exchange that raced the replay committed while the replay's statement waited on the row lock,
   * and only a new statement's snapshot sees the session row it wrote.
   */
  async currentRefreshToken(t: AuthScope, sessionId: string): Promise<CurrentRefreshToken | null> {
    const { rows } = await this.query<{ sealed: string | null; live_hash: string | null; user_id: string; amr: NewSession['amr'] }>(t, undefined,
      `SELECT s.refresh_token_sealed AS sealed, s.user_id, s.amr,
              (SELECT r.token_hash FROM ${t.refreshTokens} r WHERE r.session_id = s.id AND NOT r.revoked ORDER BY r.created_at DESC LIMIT 1) AS live_hash
         FROM ${t.sessions} s WHERE s.id = $1`,
      [sessionId],
    );
    const row = rows[0];
    return row ? { sealed: row.sealed, liveHash: row.live_hash, userId: row.user_id, amr: row.amr } : null;
  }

  /** Ends one session (a replay that can't be answered is treated as theft). */
  async deleteSession(t: AuthScope, sessionId: string): Promise<void> {
    await this.query(t, undefined, `DELETE FROM ${t.sessions} WHERE id = $1`, [sessionId]);
  }

  /** When the session began (sign-in time), or null when it is gone. */
  async sessionCreatedAt(t: AuthScope, sessionId: string, userId: string): Promise<Date | null> {
    const { rows } = await this.query<{ created_at: Date }>(t, undefined, `SELECT created_at FROM ${t.sessions} WHERE id = $1 AND user_id = $2`, [sessionId, userId]);
    return rows[0]?.created_at ?? null;
  }

  /** True while the session exists and its user isn't banned. */
  async sessionActive(t: AuthScope, sessionId: string): Promise<boolean> {
    const { rows } = await this.query(t, undefined,
      `SELECT 1 FROM ${t.sessions} s JOIN ${t.users} u ON u.id = s.user_id
        WHERE s.id = $1 AND (u.banned_until IS NULL OR u.banned_until <= now())`,
      [sessionId],
    );
    return rows.length === 1;
  }

  /** Deletes sessions: `local` the given one, `global` all of the user's, `others` all but the given one. */
  async deleteSessions(t: AuthScope, userId: string, scope: 'local' | 'global' | 'others', sessionId: string | null, tx?: AuthTx): Promise<string[]> {
    const { rows } = await this.query<{ id: string }>(t, tx,
      scope === 'local'
        ? `DELETE FROM ${t.sessions} WHERE user_id = $1 AND id = $2 RETURNING id`
        : scope === 'global'
          ? `DELETE FROM ${t.sessions} WHERE user_id = $1 AND ($2::uuid IS NULL OR true) RETURNING id`
          : `DELETE FROM ${t.sessions} WHERE user_id = $1 AND id IS DISTINCT FROM $2 RETURNING id`,
      [userId, sessionId],
    );
    return rows.map((r) => r.id);
  }

  async createCode(
    t: AuthScope,
    c: { id: string; kind: StoredCodeKind; email: string; userId: string | null; codeHash: string; linkHash: string; ttlSeconds: number },
    tx: AuthTx,
  ): Promise<void> {
    await tx.query(
      `WITH old AS (DELETE FROM ${t.codes} WHERE email = $3 AND kind = $2 OR expires_at < now())
       INSERT INTO ${t.codes} (id, kind, email, user_id, code_hash, link_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
      [c.id, c.kind, c.email, c.userId, c.codeHash, c.linkHash, c.ttlSeconds],
    );
  }

  /**
   * Consumes the newest live code of one of `kinds` for `email` whose hash matches. A miss counts an attempt on
   * every live candidate; a code that has taken 5 wrong guesses is dead.
   */
  async consumeCode(t: AuthScope, email: string, kinds: StoredCodeKind[], matches: (hash: string) => boolean): Promise<CodeRow | null> {
    return this.transaction(t, async (tx) => {
      const { rows } = await tx.query<CodeRow & { code_hash: string }>(
        `SELECT id, kind, email, user_id, code_hash FROM ${t.codes}
          WHERE email = $1 AND kind = ANY($2) AND expires_at > now() AND attempts < 5 ORDER BY created_at DESC LIMIT 5 FOR UPDATE`,
        [email, kinds],
      );
      const hit = rows.find((r) => matches(r.code_hash));
      if (!hit) {
        if (rows.length) await tx.query(`UPDATE ${t.codes} SET attempts = attempts + 1 WHERE id = ANY($1)`, [rows.map((r) => r.id)]);
        return null;
      }
      await tx.query(`DELETE FROM ${t.codes} WHERE email = $1 AND kind = $2`, [email, hit.kind]);
      return { id: hit.id, kind: hit.kind, email: hit.email, user_id: hit.user_id };
    });
  }

  /** Consumes a live code by its link hash (single use: the row is deleted). */
  async consumeLink(t: AuthScope, linkHash: string, kinds: CodeKind[]): Promise<CodeRow | null> {
    const { rows } = await this.query<CodeRow>(t, undefined,
      `DELETE FROM ${t.codes} WHERE link_hash = $1 AND kind = ANY($2) AND expires_at > now() AND attempts < 5 RETURNING id, kind, email, user_id`,
      [linkHash, kinds],
    );
    return rows[0] ?? null;
  }
}
