import type { PlinthConfig } from '@plinth/config';
import type { CacheInvalidation } from '@plinth/database';
import { BillingAccessService } from './billing-access.service';
import type { BillingAccountRepository } from './billing-account.repository';
import { TestClock } from '../../../test/support/test-clock';

const DAY = 86_400_000;

describe(BillingAccessService.name, () => {
  const config = { billing: { graceDays: 7, readOnlyDays: 14 } } as PlinthConfig;
  let since: Date | null;
  let queries: number;
  let onInvalidate: (key: string) => void;
  let clock: TestClock;
  let sut: BillingAccessService;

  beforeEach(() => {
    since = null;
    queries = 0;
    const accounts = { delinquentSince: async () => (queries++, since) } as unknown as BillingAccountRepository;
    const invalidation = { subscribe: (_topic: string, h: (key: string) => void) => (onInvalidate = h) } as unknown as CacheInvalidation;
    clock = new TestClock();
    sut = new BillingAccessService(config, accounts, invalidation, clock);
    sut.onModuleInit();
  });

  // admit() decides synchronously when cached (undefined or a throw) and returns a promise otherwise.
  const status = (admit: () => Promise<void> | undefined) => Promise.resolve().then(admit).then(() => 'ok', (e: { status?: number }) => e.status);

  it('admits everything for an org in good standing, reading the database once', async () => {
    expect(await status(() => sut.admit('org', true))).toBe('ok');
    expect(await status(() => sut.admit('org', false))).toBe('ok');
    expect(queries).toBe(1);
  });

  it('refuses writes with 402 once the grace period is over, then everything once suspended', async () => {
    since = new Date(clock.nowMs());
    expect(await status(() => sut.admit('org', true))).toBe('ok');
    clock.travel(7 * DAY);
    expect(await status(() => sut.admit('org', false))).toBe('ok');
    expect(await status(() => sut.admit('org', true))).toBe(402);
    clock.travel(14 * DAY);
    expect(await status(() => sut.admit('org', false))).toBe(402);
    expect(queries).toBe(1); // the clock moves the state; the cached timestamp stays valid
  });

  it('forgets an org when billing publishes a change, so payment restores access at once', async () => {
    since = new Date(clock.nowMs() - 30 * DAY);
    expect(await status(() => sut.admit('org', false))).toBe(402);
    since = null;
    onInvalidate('org');
    expect(await status(() => sut.admit('org', false))).toBe('ok');
    expect(queries).toBe(2);
  });
});
