import { Catalog, ColumnDef, PolicyFn, TableDef, TablePolicy } from './catalog';
import { BuildContext } from './resolver';

/** A small blog catalog used by the specs (and created for real by the database spec). */
const col = (name: string, type: string, opts: Partial<ColumnDef> = {}): ColumnDef => ({ name, type, nullable: true, hasDefault: false, ...opts });

export const TABLES: TableDef[] = [
  {
    name: 'orgs',
    columns: [col('id', 'int8', { nullable: false, hasDefault: true }), col('name', 'text')],
    primaryKey: ['id'],
    uniques: [],
    foreignKeys: [],
  },
  {
    name: 'users',
    columns: [
      col('id', 'uuid', { nullable: false, hasDefault: true }),
      col('email', 'text', { nullable: false }),
      col('name', 'varchar(40)'),
      col('secret', 'text'),
      col('age', 'int4'),
      col('org_id', 'int8'),
      col('created_at', 'timestamptz', { hasDefault: true }),
    ],
    primaryKey: ['id'],
    uniques: [['email']],
    foreignKeys: [{ name: 'users_org_id_fkey', columns: ['org_id'], refTable: 'orgs', refColumns: ['id'] }],
  },
  {
    name: 'profiles',
    columns: [col('user_id', 'uuid', { nullable: false }), col('bio', 'text')],
    primaryKey: ['user_id'],
    uniques: [],
    foreignKeys: [{ name: 'profiles_user_id_fkey', columns: ['user_id'], refTable: 'users', refColumns: ['id'] }],
  },
  {
    name: 'posts',
    columns: [
      col('id', 'int8', { nullable: false, hasDefault: true }),
      col('author_id', 'uuid'),
      col('editor_id', 'uuid'),
      col('title', 'varchar(200)'),
      col('tags', 'text[]'),
      col('data', 'jsonb'),
      col('published', 'bool', { hasDefault: true, defaultSql: 'false' }),
      col('score', 'float8'),
      col('price', 'numeric'),
      col('day', 'date'),
    ],
    primaryKey: ['id'],
    uniques: [['title', 'author_id']],
    foreignKeys: [
      { name: 'posts_author_id_fkey', columns: ['author_id'], refTable: 'users', refColumns: ['id'] },
      { name: 'posts_editor_id_fkey', columns: ['editor_id'], refTable: 'users', refColumns: ['id'] },
    ],
  },
  {
    name: 'comments',
    columns: [
      col('id', 'int8', { nullable: false, hasDefault: true }),
      col('post_id', 'int8', { nullable: false }),
      col('owner_id', 'uuid'),
      col('body', 'text'),
    ],
    primaryKey: ['id'],
    uniques: [],
    foreignKeys: [{ name: 'comments_post_id_fkey', columns: ['post_id'], refTable: 'posts', refColumns: ['id'] }],
  },
];

export function catalogOf(schema: string): Catalog {
  return { schema, tables: new Map(TABLES.map((t) => [t.name, t])) };
}

export const CATALOG = catalogOf('t_abc123');

export const ALICE = '11111111-1111-1111-1111-111111111111';
export const BOB = '22222222-2222-2222-2222-222222222222';

/** A policy from a table → action → policy map; anything unlisted is denied. */
export function policyOf(rules: Record<string, Partial<Record<string, TablePolicy>>>): PolicyFn {
  return (table, action) => rules[table]?.[action] ?? { rows: 'none', columns: 'all' };
}

export function ctx(policy: PolicyFn, extra: Partial<BuildContext> = {}): BuildContext {
  return { catalog: CATALOG, policy, ...extra };
}
