import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { Clock } from '@plinth/common';
import { CacheInvalidation, ControlTransactions } from '@plinth/database';
import { OutboxService } from '@plinth/jobs';
import { ProjectsRepository, tenantNames } from '@plinth/tenancy';
import { CapturedChange, CaptureTarget, ChangeCaptureRepository } from './change-capture.repository';
import { enqueueDispatch } from './dispatch-message.job';
import { CAPTURE_TOPIC } from './job-names';
import { MessageRow, NotificationsRepository } from './notifications.repository';
import { renderDigestKey, renderTemplate } from './template-renderer';
import { TemplateRow, TemplatesRepository, TemplateTrigger } from './templates.repository';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const TABLE_EVENT = /^([a-z_][a-z0-9_]{0,62})\.(insert|update|delete)$/;
const BATCH = 200;
const SWEEP_MS = 30_000;

/** `orders.insert`, or `user.created` for the auth users table. */
export function eventName(c: Pick<CapturedChange, 'tbl' | 'op'>): string {
  return c.tbl === '_auth_users' ? `user.${c.op}` : `${c.tbl}.${c.op}`;
}

/**
 * Events from data and auth. Capture is switched on per table when an endpoint subscribes (`orders.insert`, `*`) or
 * when a subscribed table is declared later (a data-runtime table hook, in the declaring transaction); the triggers
 * write each change in its own transaction ({@link ChangeCaptureRepository}). The drain turns captured changes into
 * messages (one per change, deduplicated by its sequence number, so concurrent or repeated drains send it once) and
 * their fan-out jobs, then deletes them. It runs when a trigger's commit notification arrives, and every 30 s for
 * every capturing project in case one was missed.
 */
@Injectable()
export class ChangeCapture implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ChangeCapture.name);
  private readonly draining = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly capture: ChangeCaptureRepository,
    private readonly repo: NotificationsRepository,
    private readonly templates: TemplatesRepository,
    private readonly projects: ProjectsRepository,
    private readonly tx: ControlTransactions,
    private readonly outbox: OutboxService,
    private readonly invalidation: CacheInvalidation,
    private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    this.invalidation.subscribe(CAPTURE_TOPIC, (projectId) => this.kick(projectId));
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Switches capture on for what `events` name, in the caller's transaction (an endpoint being saved). */
  async ensure(m: EntityManager, project: { id: string; ref: string }, events: string[]): Promise<void> {
    const all = events.includes('*');
    const tables = events.map((e) => TABLE_EVENT.exec(e)?.[1]).filter((t): t is string => t !== undefined);
    const users = all || events.some((e) => e.startsWith('user.'));
    if (!all && !tables.length && !users) return;
    const target = await this.target(m, project.id, project.ref);
    await this.capture.ensureTable(m, target);
    const wanted = all ? await this.capture.declaredTables(m, target) : tables;
    await this.capture.ensureTriggers(m, target, wanted, users);
  }

  /** The data runtime's hook: a table declared after an endpoint subscribed to it gets its trigger at once. */
  async tableDeclared(m: EntityManager, t: { projectId: string; ref: string; table: string }): Promise<void> {
    const events = await this.capture.capturedEvents(t.projectId, m);
    if (!events.has('*') && ![...events].some((e) => e.startsWith(`${t.table}.`))) return;
    const target = await this.target(m, t.projectId, t.ref);
    await this.capture.ensureTable(m, target);
    await this.capture.ensureTriggers(m, target, [t.table], false);
  }

  /** Where the project's capture lives: its schema, owner role and cluster (read in `m`, the caller's transaction). */
  private async target(m: EntityManager, projectId: string, ref: string): Promise<CaptureTarget> {
    const names = tenantNames(ref);
    const cluster = await this.projects.clusterOf(ref, m);
    if (cluster === null) throw new Error(`unknown project ${ref}`);
    return { projectId, schema: names.schema, ownerRole: names.ownerRole, cluster };
  }

  /** Drains a project now (or once more after the drain already running). */
  kick(projectId: string): void {
    if (this.draining.has(projectId)) {
      this.draining.set(projectId, true);
      return;
    }
    this.draining.set(projectId, false);
    void this.drain(projectId)
      .catch((e: Error) => this.logger.warn(`change capture drain failed for ${projectId}: ${e.message}`))
      .finally(() => {
        const again = this.draining.get(projectId);
        this.draining.delete(projectId);
        if (again) this.kick(projectId);
      });
  }

  private async sweep(): Promise<void> {
    try {
      for (const id of await this.capture.capturingProjects()) this.kick(id);
    } catch (e) {
      this.logger.warn(`change capture sweep failed: ${(e as Error).message}`);
    }
  }

  /**
   * The message a template trigger makes of a change: to the user whose id the row's column holds (the new row, or
   * the old one of a delete; a user event's own id by default), rendered with the change. None when the row names no
   * user or the template fails to render (logged: a customer's template must not hold up the project's changes).
   */
  private async triggered(projectId: string, template: TemplateRow, trigger: TemplateTrigger, c: CapturedChange, data: Record<string, unknown>, now: Date): Promise<MessageRow | null> {
    const row = c.record ?? c.old_record ?? {};
    const userId = row[trigger.user_id_column ?? 'id'];
    if (typeof userId !== 'string' || !UUID.test(userId)) return null;
    try {
      const r = await renderTemplate(template, data);
      const channels = trigger.channels ?? ['inapp'];
      return {
        id: randomUUID(),
        project_id: projectId,
        idempotency_key: `capture ${c.seq} ${template.id}`,
        event: 'notification.sent',
        recipient: { user_id: userId },
        content: {
          title: r.inapp?.title ?? r.email?.subject ?? undefined,
          body: r.inapp?.body ?? r.email?.text ?? undefined,
          template: template.name,
          ...(r.email ? { email: r.email } : {}),
          ...(template.digest ? { digest: { window_seconds: template.digest.window_seconds, key: await renderDigestKey(template, data) } } : {}),
        },
        data,
        channels,
        created_at: now,
      };
    } catch (e) {
      this.logger.warn(`template ${template.name} of project ${projectId} failed on ${eventName(c)}: ${(e as Error).message}`);
      return null;
    }
  }

  /** Every captured change of the project, oldest first, into messages; returns how many. */
  async drain(projectId: string): Promise<number> {
    const [project] = await this.projects.refsByIds([projectId]);
    if (!project) return 0;
    const at = { schema: tenantNames(project.ref).schema, cluster: project.cluster };
    let total = 0;
    for (;;) {
      const changes = await this.capture.pending(at, BATCH);
      if (!changes.length) return total;
      const subscribed = await this.capture.subscribedEvents(projectId);
      const triggers = await this.templates.withTriggers(projectId);
      const now = this.clock.now();
      await this.tx.run(async (m) => {
        for (const c of changes) {
          const event = eventName(c);
          const data = { table: c.tbl === '_auth_users' ? null : c.tbl, type: c.op, record: c.record, old_record: c.old_record, sequence: Number(c.seq), committed_at: new Date(c.at).toISOString() };
          if (subscribed.has('*') || subscribed.has(event)) {
            const id = randomUUID();
            // The key has a space, which sends' keys can't: a change is one message however often it is drained.
            const fresh = await this.repo.insertMessage(m, { id, project_id: projectId, idempotency_key: `capture ${c.seq}`, event, recipient: {}, content: {}, data, channels: ['webhook'], created_at: now });
            if (fresh) await enqueueDispatch(this.outbox, m, project.orgId, projectId, id);
          }
          for (const { template, trigger } of triggers) {
            if (trigger.event !== event) continue;
            const message = await this.triggered(projectId, template, trigger, c, { ...data, event }, now);
            // Keyed by change and template: one message per trigger however often the change is drained.
            if (message && (await this.repo.insertMessage(m, message))) await enqueueDispatch(this.outbox, m, project.orgId, projectId, message.id);
          }
        }
      });
      await this.capture.remove(at, changes.map((c) => c.seq));
      total += changes.length;
    }
  }
}
