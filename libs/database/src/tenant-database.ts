import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { DATABASE_URL } from './database.tokens';
import { PreparedStatements } from './prepared-statements';
import { tenantLoginUrl } from './tenant-login';

/** What the tenant executor needs to know about a project: where it lives and which role it acts as. */
export interface TenantTarget {
  ref: string;
  cluster: string;
  schema: string;
  dataRole: string;
}

const ROLE_NAME = /^t_[a-z0-9]{4,32}_(data|owner)$/;
const SCHEMA_NAME = /^t_[a-z0-9]{4,32}$/;

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
  private readonly statements: PreparedStatements;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    @Inject(DATABASE_URL) private readonly url: string,
  ) {
    this.statements = new PreparedStatements(config.database.tenantStatementCache);
  }

  /** The pool of a cluster; only the configured one exists for now. */
  pool(cluster: string): Pool {
    let pool = this.pools.get(cluster);
    if (pool) return pool;
    if (cluster !== this.config.database.clusterName) throw new Error(`Unknown database cluster "${cluster}"`);
    pool = new Pool({
      connectionString: tenantLoginUrl(this.url, this.config.secret),
      max: this.config.database.tenantPoolMax,
      maxUses: this.config.database.tenantPoolMaxUses || undefined,
      idleTimeoutMillis: 30_000,
      application_name: `plinth-tenant-${cluster}`,
    });
    pool.on('error', (err) => this.logger.warn(`tenant pool (${cluster}) idle client error: ${err.message}`));
    this.pools.set(cluster, pool);
    return pool;
  }

  /**
   * Runs `fn` in one transaction as the project's data role, with a statement timeout. BEGIN and the role
   * switch go in one round trip (with the deallocation of statements this connection's cache has evicted).
   */
  async asDataRole<T>(target: TenantTarget, fn: (client: PoolClient) => Promise<T>, statementTimeoutMs = 5000): Promise<T> {
    if (!ROLE_NAME.test(target.dataRole) || !SCHEMA_NAME.test(target.schema)) {
      throw new Error(`Refusing tenant target with malformed names (${target.ref})`);
    }
    const client = await this.pool(target.cluster).connect();
    let broken = false;
    try {
      await client.query(
        `${this.statements.takeStale(client)}BEGIN; SELECT set_config('role', '${target.dataRole}', true), set_config('statement_timeout', '${Math.floor(statementTimeoutMs)}', true)`,
      );
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Runs a generated statement inside {@link asDataRole} as a prepared statement of this connection: parsed and
   * planned on first use, then only bound and executed (see {@link PreparedStatements}).
   */
  prepared<R extends QueryResultRow>(client: PoolClient, text: string, values: unknown[]): Promise<QueryResult<R>> {
    return client.query<R>(this.statements.query(client, text, values));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }
}
