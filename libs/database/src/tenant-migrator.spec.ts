import type { Client } from 'pg';
import { forEachTenantSchema, tenantSchemaNames } from './tenant-migrator';

/** A connection that answers the schema list with `schemas` and records every other statement. */
function fakeClient(schemas: string[]) {
  const sent: string[] = [];
  const client = {
    query: async (text: string) => {
      if (text.includes('FROM pg_namespace')) return { rows: schemas.map((schema) => ({ schema })) };
      sent.push(text);
      return { rows: [] };
    },
  } as unknown as Client;
  return { client, sent };
}

describe(forEachTenantSchema.name, () => {
  it('runs the SQL of every schema as its owner, 100 schemas per transaction', async () => {
    const schemas = Array.from({ length: 250 }, (_, i) => `t_a${String(i).padStart(11, '0')}`);
    const { client, sent } = fakeClient(schemas);
    expect(await forEachTenantSchema(client, (s) => `SELECT '${s.ref}'`, true)).toBe(250);
    expect(sent.filter((q) => q === 'BEGIN')).toHaveLength(3);
    expect(sent.filter((q) => q === 'COMMIT')).toHaveLength(3);
    const batches = sent.filter((q) => q !== 'BEGIN' && q !== 'COMMIT');
    expect(batches.map((b) => (b.match(/SET LOCAL ROLE/g) ?? []).length)).toEqual([100, 100, 50]);
    expect(batches[0]).toContain(`SET LOCAL ROLE "t_a00000000000_owner";\nSELECT 'a00000000000';\nRESET ROLE;`);
  });

  it('runs as the admin user when the migration asks, and rolls a failed batch back', async () => {
    const { client, sent } = fakeClient(['t_abcdefghijkl']);
    await forEachTenantSchema(client, () => 'SELECT 1', false);
    expect(sent).toEqual(['BEGIN', 'SELECT 1;', 'COMMIT']);
    const failing = { query: async (text: string) => {
      if (text.includes('FROM pg_namespace')) return { rows: [{ schema: 't_abcdefghijkl' }] };
      if (text === 'SELECT boom;') throw new Error('boom');
      sent.push(text);
      return { rows: [] };
    } } as unknown as Client;
    sent.length = 0;
    await expect(forEachTenantSchema(failing, () => 'SELECT boom', false)).rejects.toThrow('boom');
    expect(sent).toEqual(['BEGIN', 'ROLLBACK']);
  });
});

describe(tenantSchemaNames.name, () => {
  it("derives a project's roles from its schema and refuses anything else", () => {
    expect(tenantSchemaNames('t_abcdefghijkl')).toEqual({
      ref: 'abcdefghijkl', schema: 't_abcdefghijkl', ownerRole: 't_abcdefghijkl_owner', dataRole: 't_abcdefghijkl_data',
      authRole: 't_abcdefghijkl_auth', storageRole: 't_abcdefghijkl_storage',
    });
    for (const bad of ['control', 't_short', 't_ABCDEFGHIJKL', 't_abcdefghijkl"; DROP', 't_1bcdefghijkl']) expect(() => tenantSchemaNames(bad)).toThrow(/not a tenant schema/);
  });
});
