import { Injectable } from '@nestjs/common';
import type { JobHandler, JobSchedule } from './job-handler';

/** Handlers by (queue, name), and the repeatable schedules, filled by each lib's jobs at module init. */
@Injectable()
export class JobRegistry {
  private readonly handlers = new Map<string, JobHandler<never>>();
  private readonly scheduled: JobSchedule[] = [];

  register<T extends { orgId: string | null }>(handler: JobHandler<T>): void {
    const key = `${handler.queue}/${handler.name}`;
    if (this.handlers.has(key) && this.handlers.get(key) !== handler) throw new Error(`Job ${key} is registered twice`);
    this.handlers.set(key, handler as unknown as JobHandler<never>);
  }

  /** Adds a repeatable schedule (the worker enqueues it through the outbox, once per window). */
  schedule(s: JobSchedule): void {
    if (!this.scheduled.some((x) => x.queue === s.queue && x.name === s.name)) this.scheduled.push(s);
  }

  get(queue: string, name: string): JobHandler<never> | undefined {
    return this.handlers.get(`${queue}/${name}`);
  }

  schedules(): readonly JobSchedule[] {
    return this.scheduled;
  }

  /** `queue/name` of every registered handler: runners and relays only take jobs this process can run. */
  keys(): string[] {
    return [...this.handlers.keys()];
  }

  /** Queues that have at least one handler. */
  queues(): string[] {
    return [...new Set([...this.handlers.keys()].map((k) => k.split('/')[0]))];
  }
}
