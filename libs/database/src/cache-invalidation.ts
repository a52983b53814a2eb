import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Client } from 'pg';
import { EntityManager } from 'typeorm';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
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

/** One LISTEN connection (the control database's, or a further cluster's). */
interface Listener {
  url: string;
  client: Client | undefined;
  connecting: Promise<void> | undefined;
  everConnected: boolean;
}

/**
 * How long an entry cached while the listener is down may live: notifications sent meanwhile are lost, so
 * caches fall back to this short TTL until the listener is back (and are emptied when it is).
 */
export const UNPUSHED_TTL_MS = 1000;

/**
 * Cross-instance cache invalidation over Postgres LISTEN/NOTIFY: works the same embedded or external, needs
 * no Redis, and a NOTIFY sent inside a transaction is delivered only if it commits. Because every change is
 * pushed, caches may keep entries long ({@link ttl}): an idle project's key, catalog and limits stay cached
 * instead of costing a control-plane lookup every few seconds (issue 21). A missed notification is only possible
 * while the listener is down, so on losing it and again on getting it back every cache is emptied
 * ({@link onResync}), and entries cached in between live {@link UNPUSHED_TTL_MS} at most.
 *
 * It listens on the control database and on every further cluster (DATABASE_CLUSTERS): notices sent from a tenant
 * transaction (a storage bucket changed, a captured change committed) go out on the project's own cluster.
 * Publishing still goes through the control database; "listening" means listening on all of them.
 */
@Injectable()
export class CacheInvalidation implements OnModuleDestroy {
  private readonly logger = new Logger(CacheInvalidation.name);
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly resyncs = new Set<() => void>();
  private readonly listeners: Listener[];
  private closed = false;

  constructor(@Inject(DATABASE_URL) url: string, @Inject(PLINTH_CONFIG) config: PlinthConfig) {
    this.listeners = [url, ...Object.values(config.database.clusters)].map((u) => ({ url: u, client: undefined, connecting: undefined, everConnected: false }));
  }

  /** Calls `handler(key)` whenever any instance publishes on `topic`. */
  subscribe(topic: string, handler: Handler): void {
    if (!this.handlers.has(topic)) this.handlers.set(topic, new Set());
    this.handlers.get(topic)!.add(handler);
    void this.ensureListening();
  }

  /** Calls `handler()` when notifications may have been missed (listener lost, and back): drop everything. */
  onResync(handler: () => void): void {
    this.resyncs.add(handler);
    void this.ensureListening();
  }

  /** Whether changes are being pushed to this instance now. */
  get listening(): boolean {
    return this.listeners.every((l) => l.client !== undefined);
  }

  /** The TTL for an entry cached now: `pushedMs` while changes are pushed, {@link UNPUSHED_TTL_MS} otherwise. */
  ttl(pushedMs: number): number {
    return this.listening ? pushedMs : Math.min(pushedMs, UNPUSHED_TTL_MS);
  }

  /**
   * Publishes in the caller's transaction (delivered on commit), or at once without one. This instance's handlers
   * also run at once, so the instance making a change doesn't serve the old value until its own notification comes
   * back; an entry loaded again before the commit is dropped again when the notification arrives.
   */
  async publish(manager: EntityManager, topic: string, key: string): Promise<void> {
    await manager.query('SELECT pg_notify($1, $2)', invalidationNotice(topic, key));
    for (const h of this.handlers.get(topic) ?? []) h(key);
  }

  private async ensureListening(): Promise<void> {
    await Promise.all(this.listeners.map((l) => this.listen(l)));
  }

  private listen(l: Listener): Promise<void> {
    if (l.client || this.closed) return Promise.resolve();
    l.connecting ??= this.connect(l).finally(() => (l.connecting = undefined));
    return l.connecting;
  }

  private async connect(l: Listener): Promise<void> {
    const client = new Client({ connectionString: l.url, application_name: 'plinth-listener' });
    client.on('notification', (msg) => this.dispatch(msg.payload));
    let lost = false;
    const onLost = (why: string) => {
      if (this.closed || lost) return; // shutting down: the connection ending is expected
      lost = true;
      this.logger.warn(`invalidation listener lost: ${why}; reconnecting`);
      if (l.client === client) l.client = undefined;
      this.resync();
      setTimeout(() => void this.listen(l), 1000).unref();
    };
    client.on('error', (err) => onLost(err.message));
    client.on('end', () => onLost('connection ended'));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.closed) {
        await client.end();
        return;
      }
      const reconnected = l.everConnected;
      l.everConnected = true;
      l.client = client;
      // Whatever was cached while nobody listened may be stale.
      if (reconnected) this.resync();
    } catch (err) {
      this.logger.warn(`invalidation listener could not connect: ${(err as Error).message}`);
      lost = true; // retried below, not by the 'end' handler
      await client.end().catch(() => undefined);
      if (!this.closed) setTimeout(() => void this.listen(l), 1000).unref();
    }
  }

  private resync(): void {
    for (const h of this.resyncs) {
      try {
        h();
      } catch (err) {
        this.logger.warn(`cache resync failed: ${(err as Error).message}`);
      }
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
    for (const l of this.listeners) {
      await l.connecting;
      await l.client?.end().catch(() => undefined);
      l.client = undefined;
    }
  }
}
