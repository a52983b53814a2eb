import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { Writable } from 'node:stream';
import { DatabaseError, Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { DATABASE_URL } from './database.tokens';
import { PreparedStatements } from './prepared-statements';
import { ProjectSlots } from './project-slots';
import { tenantLoginUrl } from './tenant-login';

/** What the tenant executor needs to know about a project: where it lives and which role it acts as. */
export interface TenantTarget {
  ref: string;
  cluster: string;
  schema: string;
  dataRole: string;
}

/**
 * Which of a project's NOLOGIN roles a tenant transaction works as: `data` (the data runtime; grants on declared
 * tables only), `auth` (the auth runtime; grants on the project's `_auth_*` tables only) or `storage` (the storage
 * runtime; its `_storage_*` tables only). The auth and storage roles' names are derived from the schema
 * (`t_<ref>_auth`, `t_<ref>_storage`), as provisioning derives them from the ref.
 */
export type TenantRole = 'data' | 'auth' | 'storage';

const ROLE_NAME = /^t_[a-z0-9]{4,32}_(data|owner|auth|storage)$/;
const SCHEMA_NAME = /^t_[a-z0-9]{4,32}$/;

/**
 * Sent between the statements of a tenant transaction: fails (XX000), aborting the transaction, unless the role in
 * force is still the project's data role. The login role may switch into every project's data role, so a statement
 * that switched role (an injected `set_config('role', …)`) would otherwise hand the next statement, and COMMIT, to
 * another tenant. Named: parsed once per connection, outside the LRU of generated statements. After the last
 * statement the same check goes in COMMIT's own message (see {@link commitAs}).
 */
const ASSERT_ROLE = { name: 'plinth_assert_role', text: 'SELECT tenant_guard.assert_role($1)' };

/**
 * Tenant traffic runs on its own pool per database cluster, apart from the control plane's pool, so tenants
 * can't starve it. Every statement runs in a transaction that switches to the project's data role with
 * `set_config(..., true)` (transaction-local), so nothing leaks to the next user of a pooled connection.
 * Connections are recycled after `maxUses` to bound per-connection catalog caches across thousands of schemas.
 */
@Injectable()
export class TenantDatabase implements OnModuleDestroy {
  private readonly logger = new Logger(TenantDatabase.name);
  private readonly pools = new Map<string, Pool>();
  /** Per-project fairness on each cluster's pool. */
  private readonly slots = new Map<string, ProjectSlots>();
  private readonly statements: PreparedStatements;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @Inject(DATABASE_URL) private readonly url: string,
  ) {
    this.statements = new PreparedStatements(config.database.tenantStatementCache);
  }

  /**
   * The tenant pool of a cluster (the default cluster is the control database, others come from DATABASE_CLUSTERS):
   * each project's statements go to the pool of the cluster its row names, and nowhere else.
   */
  pool(cluster: string): Pool {
    let pool = this.pools.get(cluster);
    if (pool) return pool;
    let url: string;
    if (cluster === this.config.database.clusterName) url = this.url;
    else if (Object.prototype.hasOwnProperty.call(this.config.database.clusters, cluster)) url = this.config.database.clusters[cluster];
    else throw new Error(`Unknown database cluster "${cluster}"`);
    pool = new Pool({
      connectionString: tenantLoginUrl(url, this.config.secret),
      max: this.config.database.tenantPoolMax,
      maxUses: this.config.database.tenantPoolMaxUses || undefined,
      // Queries go out without waiting for the answer to the one before (see run()).
      pipeline: true,
      idleTimeoutMillis: 30_000,
      application_name: `plinth-tenant-${cluster}`,
    });
    pool.on('error', (err) => this.logger.warn(`tenant pool (${cluster}) idle client error: ${err.message}`));
    this.pools.set(cluster, pool);
    this.slots.set(cluster, new ProjectSlots(this.config.database.tenantProject));
    return pool;
  }

  /**
   * Runs `fn` in one transaction as the project's data role, with a statement timeout. BEGIN and the role
   * switch go in one round trip (with the deallocation of statements this connection's cache has evicted); the
   * role is asserted again with COMMIT. Takes one of the project's slots on the pool (see {@link ProjectSlots}).
   */
  asDataRole<T>(target: TenantTarget, fn: (client: PoolClient) => Promise<T>, statementTimeoutMs = 5000): Promise<T> {
    return this.asRole(target, 'data', fn, statementTimeoutMs);
  }

  /** {@link asDataRole} as any of the project's tenant roles (see {@link TenantRole}). */
  async asRole<T>(target: TenantTarget, as: TenantRole, fn: (client: PoolClient) => Promise<T>, statementTimeoutMs = 5000): Promise<T> {
    const role = roleOf(target, as);
    const begin = beginAs(target, role, statementTimeoutMs);
    const pool = this.pool(target.cluster);
    const slots = this.slots.get(target.cluster)!;
    const entering = slots.enter(target.ref);
    if (entering !== undefined) await entering;
    try {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query(begin + this.statements.takeStale(client));
        const result = await fn(client);
        // One message: should the role check fail, COMMIT isn't run and the ROLLBACK below ends the transaction.
        await client.query(commitAs(role));
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      } finally {
        client.release(broken);
      }
    } finally {
      slots.leave(target.ref);
    }
  }

  /**
   * Generated statements in one transaction as the project's data role, each prepared once per connection (see
   * {@link PreparedStatements}), written to the connection together with BEGIN and COMMIT so the transaction costs
   * one round trip; `finish` turns the last statement's result into the answer. A failing statement aborts the
   * transaction: the COMMIT message behind it is refused, and the transaction rolled back. With `confirm`, COMMIT waits for `finish` to accept the
   * result instead, and a throw from it rolls back (a second round trip): for checks that must undo a write.
   * After each statement the role in force is asserted (see {@link ASSERT_ROLE}, {@link commitAs}), so a statement
   * that switched role aborts the transaction before anything else runs or commits. Since a server error leaves the
   * transaction open behind the refused COMMIT message, failures cost a second round trip (the ROLLBACK).
   * Takes one of the project's slots on the pool first (see {@link ProjectSlots}): may wait, or throw a 429.
   */
  async run<R extends QueryResultRow, T>(
    target: TenantTarget,
    statements: Array<{ text: string; values: unknown[] }>,
    finish: (result: QueryResult<R>) => T,
    opts: { confirm?: boolean; statementTimeoutMs?: number; as?: TenantRole; rollback?: boolean } = {},
  ): Promise<T> {
    const role = roleOf(target, opts.as ?? 'data');
    // `rollback`: the transaction ends in ROLLBACK instead of COMMIT (PostgREST's `Prefer: tx=rollback`).
    const end = opts.rollback ? 'ROLLBACK' : commitAs(role);
    const begin = beginAs(target, role, opts.statementTimeoutMs ?? 5000);
    const pool = this.pool(target.cluster);
    const slots = this.slots.get(target.cluster)!;
    const entering = slots.enter(target.ref);
    if (entering !== undefined) await entering;
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      slots.leave(target.ref);
      throw err;
    }
    // Whether a transaction may still be open on the connection: if so when we leave, it isn't reused.
    let open = true;
    let broken = false;
    try {
      // The pool is in pipeline mode: each query goes out as it is issued, without waiting for the one before.
      // Should BEGIN or the role switch fail, the transaction is aborted and every statement behind it refused.
      // Corked, they leave in one write to the socket instead of one per query (each write is a system call).
      const socket = socketOf(client);
      socket?.cork();
      const sent: Array<Promise<QueryResult>> = [];
      try {
        sent.push(client.query(begin + this.statements.takeStale(client)));
        for (let i = 0; i < statements.length; i++) {
          if (i > 0) sent.push(client.query({ ...ASSERT_ROLE, values: [role] }));
          sent.push(client.query(this.statements.query(client, statements[i].text, statements[i].values)));
        }
        if (!opts.confirm) sent.push(client.query(end));
      } finally {
        socket?.uncork();
      }
      // Settle all before looking at any: no rejection may go unhandled, and the connection must be quiet when
      // it goes back to the pool.
      const settled = await Promise.allSettled(sent);
      const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) {
        // After a server error the transaction is still open (the COMMIT message stopped at its failing check) and the
        // connection usable once it is rolled back; anything else leaves the connection in doubt.
        if (!(failure.reason instanceof DatabaseError)) broken = true;
        else await client.query('ROLLBACK');
        open = false;
        throw failure.reason;
      }
      // BEGIN, then the statements with a role check between each two: the last statement's answer is at 2n - 1.
      const last = (settled[2 * statements.length - 1] as PromiseFulfilledResult<QueryResult<R>>).value;
      if (!opts.confirm) {
        open = false;
        return finish(last);
      }
      let answer: T;
      try {
        answer = finish(last);
      } catch (err) {
        await client.query('ROLLBACK');
        open = false;
        throw err;
      }
      try {
        await client.query(end);
      } catch (err) {
        if (err instanceof DatabaseError) await client.query('ROLLBACK');
        open = !(err instanceof DatabaseError);
        throw err;
      }
      open = false;
      return answer;
    } catch (err) {
      if (open) broken = true;
      throw err;
    } finally {
      client.release(broken);
      slots.leave(target.ref);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
    this.slots.clear();
  }
}

/** The connection's socket (node-postgres internals, stable since pg 7; it corks it itself around one query's messages). */
function socketOf(client: PoolClient): Writable | undefined {
  return (client as unknown as { connection?: { stream?: Writable } }).connection?.stream;
}

/** The name of the project's role `as`; checked against the naming pattern before anything is sent. */
function roleOf(target: TenantTarget, as: TenantRole): string {
  const role = as === 'data' ? target.dataRole : `${target.schema}_${as}`;
  if (!ROLE_NAME.test(role) || !SCHEMA_NAME.test(target.schema)) {
    throw new Error(`Refusing tenant target with malformed names (${target.ref})`);
  }
  return role;
}

/** BEGIN and the switch to the project's role with a statement timeout, transaction-local. */
function beginAs(target: TenantTarget, role: string, statementTimeoutMs: number): string {
  return `BEGIN; SELECT set_config('role', '${role}', true), set_config('statement_timeout', '${Math.floor(statementTimeoutMs)}', true)`;
}

/**
 * COMMIT, after asserting in the same message that the transaction still runs as the project's data role (the
 * last statement's check without a message of its own). Should the check fail, or a statement before it have failed,
 * the rest of the message is skipped and the transaction stays open, aborted: the caller rolls it back.
 */
function commitAs(role: string): string {
  // The role name passed roleOf's pattern check before anything was sent.
  return `SELECT tenant_guard.assert_role('${role}'); COMMIT`;
}
