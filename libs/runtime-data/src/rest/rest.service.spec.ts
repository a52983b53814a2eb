import type { Repository } from 'typeorm';
import type { PlinthConfig } from '@plinth/config';
import type { CacheInvalidation, TenantDatabase } from '@plinth/database';
import type { TenantContext } from '@plinth/gateway';
import type { PlansService } from '@plinth/quotas';
import { DataCatalog } from '../catalog/data-catalog';
import type { DataSettingsEntity } from '../catalog/data-settings';
import type { DataTableEntity } from '../catalog/data-table.entity';
import type { TableDefinition } from '../catalog/table-definition';
import type { StoredRule } from '../rules/table-rules';
import { RestService } from './rest.service';

const notes: TableDefinition = {
  name: 'notes',
  columns: ['id', 'title'].map((name) => ({ name, type: 'text', nullable: true, primary_key: name === 'id', unique: false })),
  indexes: [],
};

describe(RestService.name, () => {
  let rules: StoredRule[];
  let loads: number;
  let onChange: (projectId: string) => void;
  let catalog: DataCatalog;
  let sut: RestService;
  const project = { id: 'p1', ref: 'abcd1234', orgId: 'o1', cluster: 'main', schema: 't_abcd1234', dataRole: 't_abcd1234_data' };
  const as = (role: TenantContext['role']): TenantContext => ({
    project,
    runtime: 'rest',
    role,
    user: role === 'authenticated' ? { id: 'u1', claims: {} } : null,
    keyId: 'k1',
    keyType: role === 'service' ? 'secret' : 'publishable',
    restrictions: null,
  });
  const paths = async (role: TenantContext['role']) => Object.keys((JSON.parse((await sut.openApi(as(role))).json.toString()) as { paths: object }).paths);

  beforeEach(() => {
    rules = [{ role: 'anon', action: ['read'] }];
    loads = 0;
    const repo = {
      find: async () => {
        loads++;
        return [{ definition: notes, rules, createdAt: new Date() }];
      },
    } as unknown as Repository<DataTableEntity>;
    const invalidation = { subscribe: (_: string, h: (key: string) => void) => (onChange = h), onResync: () => undefined, ttl: (ms: number) => ms } as unknown as CacheInvalidation;
    const settings = { findOne: async () => null } as unknown as Repository<DataSettingsEntity>;
    catalog = new DataCatalog(repo, invalidation, settings);
    catalog.onModuleInit();
    sut = new RestService({ data: { maxRows: 1000, statementTimeoutMs: 5000 } } as PlinthConfig, {} as TenantDatabase, catalog, {} as PlansService);
  });

  it('builds the anonymous and secret-key documents once per catalog', async () => {
    const first = await sut.openApi(as('anon'));
    expect(await sut.openApi(as('anon'))).toBe(first);
    expect(await sut.openApi(as('service'))).not.toBe(first);
    expect(await sut.openApi(as('service'))).toBe(await sut.openApi(as('service')));
    expect(loads).toBe(1);
  });

  it('serves the new rules as soon as any instance publishes a catalog change', async () => {
    expect(await paths('anon')).toEqual(['/notes']);
    rules = [];
    onChange('p1'); // what the LISTEN/NOTIFY handler does on every instance
    expect(await paths('anon')).toEqual([]);
    expect(await paths('service')).toEqual(['/notes']);
  });

  it('builds an end user document per request (it depends on who they are)', async () => {
    rules = [{ role: 'authenticated', action: ['read'] }];
    const a = await sut.openApi(as('authenticated'));
    expect(await sut.openApi(as('authenticated'))).not.toBe(a);
    expect(await paths('authenticated')).toEqual(['/notes']);
  });
});
