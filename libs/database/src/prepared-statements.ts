import { createHash } from 'node:crypto';
import type { PoolClient, QueryConfig } from 'pg';

/** node-postgres keeps the names it has prepared on a connection here (internal, stable since pg 7). */
interface PgConnectionState {
  parsedStatements: Record<string, string>;
}

/**
 * Named statements for generated SQL, so PostgreSQL parses and plans a statement shape once per connection rather
 * than on every request (the data runtime's statements are CTEs and JSON aggregates whose planning cost rivals
 * their execution). The name is a digest of the text, so the same shape from any request reuses the plan and two
 * texts never share a name (node-postgres refuses a name reused for another text, should a digest ever collide).
 *
 * Only a shape used again is prepared: its first use on a connection goes out unnamed (parsed, planned and
 * forgotten at once), and only a second use while it is still remembered among the connection's recent shapes
 * (4 × `limit` of them) prepares it. With thousands of projects each shape belongs to one tenant's schema, and a
 * shape seen once in a long while would otherwise cost a Parse into connection memory, an eviction and a
 * DEALLOCATE; hot shapes are prepared as before (issue 21).
 *
 * Each connection keeps at most `limit` statements, least recently used first out. An evicted statement is
 * deallocated by the next {@link takeStale} caller (sent with the next BEGIN on that connection), so server
 * memory per connection stays bounded across thousands of tenant schemas. Prepared statements hold no privileges
 * and no settings: each execution is checked against the role in force then, so a statement left on a pooled
 * connection by one tenant is of no use to the next (whose statements name its own schema anyway).
 */
export class PreparedStatements {
  private readonly byClient = new WeakMap<PoolClient, ConnectionStatements>();

  constructor(private readonly limit: number) {}

  /**
   * The query to send: named (prepared once on this connection) when the shape is used again, unnamed on its
   * first use on the connection or with the cache off.
   */
  query(client: PoolClient, text: string, values: unknown[]): QueryConfig {
    if (this.limit <= 0) return { text, values };
    const name = statementName(text);
    if (!this.state(client).use(name, this.limit)) return { text, values };
    return { name, text, values };
  }

  /**
   * `; DEALLOCATE …` for the statements evicted on this connection since the last call ('' when none), to append
   * to the next BEGIN, forgetting them on the node-postgres side at the same time so they are parsed again if they
   * come back.
   */
  takeStale(client: PoolClient): string {
    const s = this.byClient.get(client);
    if (!s || s.stale.length === 0) return '';
    const parsed = (client as unknown as { connection: PgConnectionState }).connection.parsedStatements;
    let sql = '';
    for (const name of s.stale) {
      // Only what the server really holds: a statement whose Parse failed was never created.
      if (parsed[name] === undefined) continue;
      delete parsed[name];
      sql += `; DEALLOCATE "${name}"`;
    }
    s.stale.length = 0;
    return sql;
  }

  private state(client: PoolClient): ConnectionStatements {
    let s = this.byClient.get(client);
    if (!s) this.byClient.set(client, (s = new ConnectionStatements()));
    return s;
  }
}

class ConnectionStatements {
  /** Names in use order, oldest first (a Map iterates in insertion order). */
  private readonly recent = new Map<string, true>();
  /** Shapes used once on this connection and not prepared, oldest first. */
  private readonly seen = new Map<string, true>();
  readonly stale: string[] = [];

  /** Whether to send `name` as a prepared statement: it is prepared already, or used for the second time. */
  use(name: string, limit: number): boolean {
    if (this.recent.has(name)) {
      this.touch(name, limit);
      return true;
    }
    if (this.seen.delete(name)) {
      this.touch(name, limit);
      return true;
    }
    this.seen.set(name, true);
    if (this.seen.size > 4 * limit) this.seen.delete(this.seen.keys().next().value as string);
    return false;
  }

  private touch(name: string, limit: number): void {
    if (this.recent.delete(name)) {
      this.recent.set(name, true);
      return;
    }
    const wasStale = this.stale.indexOf(name);
    if (wasStale >= 0) this.stale.splice(wasStale, 1);
    this.recent.set(name, true);
    if (this.recent.size > limit) {
      const oldest = this.recent.keys().next().value as string;
      this.recent.delete(oldest);
      this.stale.push(oldest);
    }
  }
}

/** Names of recent texts: a Map lookup is cheaper than a digest, and request shapes repeat. */
const NAMES = new Map<string, string>();
const NAMES_MAX = 5_000;

/** `pl_` and a digest of the text: 46 characters, inside PostgreSQL's 63-byte identifier limit. */
export function statementName(text: string): string {
  let name = NAMES.get(text);
  if (name === undefined) {
    name = `pl_${createHash('sha256').update(text).digest('base64url')}`;
    if (NAMES.size >= NAMES_MAX) NAMES.clear();
    NAMES.set(text, name);
  }
  return name;
}
