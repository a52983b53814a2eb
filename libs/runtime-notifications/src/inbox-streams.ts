import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { CacheInvalidation } from '@plinth/database';
import { INBOX_TOPIC } from './job-names';
import { inboxItem } from './inbox.service';
import { NotificationsRepository } from './notifications.repository';

/** One open stream: its response and the last entry it was sent (nothing else is held per stream). */
interface Stream {
  res: ServerResponse;
  last: bigint;
}

/** At most this many entries per catch-up read (a stream far behind is caught up in several). */
const BATCH = 200;

/**
 * Live inbox streams (Server-Sent Events) of this api instance, grouped by (project, user). A new inbox entry is
 * announced on commit to every instance over Postgres LISTEN/NOTIFY ({@link INBOX_TOPIC}); each instance with
 * streams for that user reads the entries after the oldest of their positions once and writes each stream what it
 * hasn't had. `Last-Event-ID` (the entry's cursor) resumes after a reconnect. One timer sends every stream's
 * heartbeat; per stream only the response and a cursor are kept.
 */
@Injectable()
export class InboxStreams implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(InboxStreams.name);
  private readonly groups = new Map<string, Set<Stream>>();
  /** Groups with a catch-up running, and whether another announcement came meanwhile. */
  private readonly busy = new Map<string, boolean>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly repo: NotificationsRepository,
    private readonly invalidation: CacheInvalidation,
  ) {}

  onModuleInit(): void {
    this.invalidation.subscribe(INBOX_TOPIC, (key) => this.announce(key));
  }

  onApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    for (const group of this.groups.values()) for (const s of group) s.res.end();
    this.groups.clear();
  }

  /** How many streams are open on this instance. */
  get size(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.size;
    return n;
  }

  /** Opens a stream for the user: headers, anything after `lastEventId` (else from now on), then live entries. */
  async open(projectId: string, userId: string, res: ServerResponse, lastEventId: string | undefined): Promise<void> {
    const key = `${projectId}:${userId}`;
    const last = BigInt(lastEventId ?? (await this.repo.latestSeq(projectId, userId)));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\n: ${last}\n\n`);
    const stream: Stream = { res, last };
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = new Set()));
    group.add(stream);
    res.socket?.setKeepAlive(true);
    res.on('close', () => {
      const g = this.groups.get(key);
      g?.delete(stream);
      if (g && g.size === 0) this.groups.delete(key);
    });
    this.startHeartbeat();
    // What was missed (a resume), and anything committed between reading the position and joining the group.
    await this.catchUp(key);
  }

  private announce(key: string): void {
    if (this.groups.has(key)) void this.catchUp(key);
  }

  private async catchUp(key: string): Promise<void> {
    if (this.busy.has(key)) {
      this.busy.set(key, true);
      return;
    }
    this.busy.set(key, false);
    try {
      for (;;) {
        const group = this.groups.get(key);
        if (!group || group.size === 0) break;
        let from: bigint | undefined;
        for (const s of group) if (from === undefined || s.last < from) from = s.last;
        const sep = key.indexOf(':');
        const rows = await this.repo.inboxAfter(key.slice(0, sep), key.slice(sep + 1), from!.toString(), BATCH);
        for (const row of rows) {
          const seq = BigInt(row.seq);
          const frame = `id: ${row.seq}\nevent: notification\ndata: ${JSON.stringify(inboxItem(row))}\n\n`;
          for (const s of group) {
            if (s.last >= seq) continue;
            s.res.write(frame);
            s.last = seq;
          }
        }
        if (rows.length === BATCH) continue;
        if (this.busy.get(key)) {
          this.busy.set(key, false);
          continue;
        }
        break;
      }
    } catch (e) {
      this.logger.warn(`inbox stream catch-up failed: ${(e as Error).message}`);
    } finally {
      this.busy.delete(key);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      if (this.groups.size === 0) return;
      for (const group of this.groups.values()) for (const s of group) s.res.write(': heartbeat\n\n');
    }, this.config.notifications.sseHeartbeatMs);
    this.heartbeat.unref();
  }
}
