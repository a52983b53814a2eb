import type { CacheInvalidation } from '@plinth/database';
import type { Repository } from 'typeorm';
import type { DataSettingsEntity } from './data-settings';
import type { DataTableEntity } from './data-table.entity';
import { DataCatalog } from './data-catalog';

describe(DataCatalog.name, () => {
  let loads: Map<string, number>;
  let resync: () => void;
  let sut: DataCatalog;
  const project = (id: string) => ({ id, schema: `t_${id}` });

  beforeEach(() => {
    loads = new Map();
    const repo = {
      find: async ({ where }: { where: { projectId: string } }) => {
        loads.set(where.projectId, (loads.get(where.projectId) ?? 0) + 1);
        return [];
      },
    } as unknown as Repository<DataTableEntity>;
    const invalidation = {
      subscribe: () => undefined,
      onResync: (h: () => void) => (resync = h),
      ttl: (ms: number) => ms,
    } as unknown as CacheInvalidation;
    sut = new DataCatalog(repo, invalidation, { findOne: async () => null } as unknown as Repository<DataSettingsEntity>);
    sut.onModuleInit();
  });

  it('keeps an idle project’s catalog for minutes, since changes are pushed', async () => {
    const t0 = 1_000_000;
    await sut.get(project('idle'), t0);
    await sut.get(project('idle'), t0 + 5 * 60_000);
    expect(loads.get('idle')).toBe(1);
  });

  it('holds 10,000 projects, and evicts the least recently used beyond its size, not the first loaded', async () => {
    const t0 = 2_000_000;
    await sut.get(project('hot'), t0);
    for (let i = 0; i < 19_999; i++) {
      await sut.get(project(`p${i}`), t0);
      if (i % 5000 === 0) await sut.get(project('hot'), t0); // used now and then: stays at the back
    }
    await sut.get(project('newcomer'), t0); // one more than fits: the least recently used goes
    await sut.get(project('hot'), t0);
    await sut.get(project('p9999'), t0);
    expect(loads.get('hot')).toBe(1);
    expect(loads.get('p9999')).toBe(1);
    await sut.get(project('p0'), t0);
    expect(loads.get('p0')).toBe(2);
  });

  it('forgets every catalog when notifications may have been missed', async () => {
    await sut.get(project('a'), 3_000_000);
    resync();
    await sut.get(project('a'), 3_000_001);
    expect(loads.get('a')).toBe(2);
  });
});
