import { Injectable } from '@nestjs/common';

/**
 * Per-endpoint concurrency in this process: at most `max` deliveries to one endpoint in flight, the rest wait in
 * arrival order, so one slow endpoint can't take every worker slot and a burst doesn't flood a customer's server.
 */
@Injectable()
export class EndpointSlots {
  private readonly endpoints = new Map<string, { active: number; waiting: Array<() => void> }>();

  async run<T>(endpointId: string, max: number, fn: () => Promise<T>): Promise<T> {
    let e = this.endpoints.get(endpointId);
    if (!e) this.endpoints.set(endpointId, (e = { active: 0, waiting: [] }));
    // A finished run hands its slot straight to the next waiter, so a newcomer can't slip in between.
    if (e.active >= Math.max(1, max)) await new Promise<void>((resolve) => e.waiting.push(resolve));
    else e.active++;
    try {
      return await fn();
    } finally {
      const next = e.waiting.shift();
      if (next) next();
      else if (--e.active === 0) this.endpoints.delete(endpointId);
    }
  }
}
