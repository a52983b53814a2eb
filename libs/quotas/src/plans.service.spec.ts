import type { Clock } from '@plinth/common';
import type { CacheInvalidation } from '@plinth/database';
import type { EntityManager } from 'typeorm';
import type { Plan } from './plan';
import type { PlansRepository } from './plans.repository';
import { ORG_PLAN_TOPIC, PlansService } from './plans.service';

describe(PlansService.name, () => {
  const plan = (id: string) => ({ id, name: id, limits: {} }) as unknown as Plan;
  let reads: number;
  let stored: string;
  let handler: (orgId: string) => void;
  let published: Array<[string, string]>;
  let sut: PlansService;

  beforeEach(() => {
    reads = 0;
    stored = 'pro';
    published = [];
    const m = {} as EntityManager;
    const repo = {
      all: async () => [plan('free'), plan('pro'), plan('enterprise')],
      orgPlanId: async () => (reads++, stored),
      setOrgPlan: async (_org: string, id: string) => ((stored = id), m),
    } as unknown as PlansRepository;
    const invalidation = {
      subscribe: (_topic: string, h: (k: string) => void) => (handler = h),
      onResync: () => undefined,
      ttl: (ms: number) => ms,
      publish: async (_m: EntityManager, topic: string, key: string) => {
        published.push([topic, key]);
        handler(key); // as CacheInvalidation does on this instance
      },
    } as unknown as CacheInvalidation;
    sut = new PlansService(repo, { now: () => new Date() } as unknown as Clock, invalidation);
    sut.onModuleInit();
  });

  it('keeps an org’s plan cached (no read per request, nor every few seconds) until a change is pushed', async () => {
    expect((await sut.forOrg('o1')).id).toBe('pro');
    expect((await sut.forOrg('o1')).id).toBe('pro');
    expect(reads).toBe(1);
    stored = 'enterprise'; // changed by another instance: its notification drops the entry here
    handler('o1');
    expect((await sut.forOrg('o1')).id).toBe('enterprise');
    expect(reads).toBe(2);
  });

  it('announces a plan change to every instance', async () => {
    await sut.forOrg('o2');
    await sut.setOrgPlan('o2', 'free', {} as EntityManager);
    expect(published).toEqual([[ORG_PLAN_TOPIC, 'o2']]);
    expect((await sut.forOrg('o2')).id).toBe('free');
  });
});
