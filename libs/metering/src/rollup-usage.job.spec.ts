import { JobRegistry } from '@plinth/jobs';
import { Clock } from '@plinth/common';
import { RollupUsageJob } from './rollup-usage.job';
import type { UsageRepository } from './usage.repository';

describe(RollupUsageJob.name, () => {
  const at = (iso: string) => new Date(iso);

  function setup(now: string, watermark: Date | null, earliest: Date | null = null) {
    const calls: Array<[Date, Date, Date]> = [];
    const repo = {
      rolledThrough: async () => watermark,
      earliestMinute: async () => earliest,
      rollup: async (from: Date, to: Date, keep: Date) => {
        calls.push([from, to, keep]);
        return 1;
      },
    };
    // Frozen, not set: a set Clock keeps running, and a millisecond under load would show in `keep`.
    const clock = new (class extends Clock {
      override nowMs(): number {
        return Date.parse(now);
      }
    })();
    return { sut: new RollupUsageJob(repo as unknown as UsageRepository, new JobRegistry(), clock), calls };
  }

  it('rolls up hours that ended at least 10 minutes ago, re-rolling the last two', async () => {
    const { sut, calls } = setup('2026-05-10T12:09:00Z', at('2026-05-10T11:00:00Z'));
    await sut.run();
    // 12:09 - 10 min = 11:59 → hours before 11:00 are settled; nothing new to add but the re-roll window.
    expect(calls).toEqual([[at('2026-05-10T09:00:00Z'), at('2026-05-10T11:00:00Z'), at('2026-05-08T12:09:00Z')]]);
  });

  it('starts from the earliest minute on the first run, and does nothing when nothing is settled', async () => {
    const first = setup('2026-05-10T12:30:00Z', null, at('2026-05-10T07:42:00Z'));
    await first.sut.run();
    expect(first.calls[0].slice(0, 2)).toEqual([at('2026-05-10T07:00:00Z'), at('2026-05-10T12:00:00Z')]);
    const empty = setup('2026-05-10T12:30:00Z', null, null);
    expect(await empty.sut.run()).toBe(0);
    expect(empty.calls).toEqual([]);
  });
});
