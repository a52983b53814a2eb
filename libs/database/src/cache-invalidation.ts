import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Client } from 'pg';
import { EntityManager } from 'typeorm';
import { DATABASE_URL } from './database.tokens';

const CHANNEL = 'plinth_invalidate';

/**
 * The channel and message of a publication, for SQL that publishes itself (`pg_notify($1, $2)` in a statement of a
 * tenant transaction, delivered only if it commits) where no control EntityManager is at hand.
 */
export function invalidationNotice(topic: string, key: string): [channel: string, payload: string] {
  return [CHANNEL, JSON.stringify({ topic, key })];
}

type Handler = (key: string) => void;

/**
 * Cross-instance cache invalidation over Postgres LISTEN/NOTIFY: works the same embedded or external, needs
 * no Redis, and a NOTIFY sent inside a transaction is delivered only if it commits. Caches still keep a short
 * TTL so a missed notification (listener reconnecting) heals within seconds.
 */
@Injectable()
export class CacheInvalidation implements OnModuleDestroy {
  private readonly logger = new Logger(CacheInvalidation.name);
  private readonly handlers = new Map<string, Set<Handler>>();
  private client: Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(@Inject(DATABASE_URL) private readonly url: string) {}

  /** Calls `handler(key)` whenever any instance publishes on `topic`. */
  subscribe(topic: string, handler: Handler): void {
    if (!this.handlers.has(topic)) this.handlers.set(topic, new Set());
    this.handlers.get(topic)!.add(handler);
    void this.ensureListening();
  }

  /** Publishes in the caller's transaction (delivered on commit), or at once without one. */
  async publish(manager: EntityManager, topic: string, key: string): Promise<void> {
    await manager.query('SELECT pg_notify($1, $2)', invalidationNotice(topic, key));
  }

  private ensureListening(): Promise<void> {
    if (this.client || this.closed) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.url, application_name: 'plinth-listener' });
    client.on('notification', (msg) => this.dispatch(msg.payload));
    client.on('error', (err) => {
      if (this.closed) return; // shutting down: the connection ending is expected
      this.logger.warn(`invalidation listener lost: ${err.message}; reconnecting`);
      this.client = undefined;
      setTimeout(() => void this.ensureListening(), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.client = client;
    } catch (err) {
      this.logger.warn(`invalidation listener could not connect: ${(err as Error).message}`);
      await client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.ensureListening(), 1000).unref();
    }
  }

  private dispatch(payload: string | undefined): void {
    if (!payload) return;
    try {
      const { topic, key } = JSON.parse(payload) as { topic: string; key: string };
      for (const h of this.handlers.get(topic) ?? []) h(key);
    } catch {
      this.logger.warn('ignored malformed invalidation message');
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await this.connecting;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
