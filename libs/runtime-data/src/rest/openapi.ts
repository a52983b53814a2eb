import type { Action, PolicyFn } from '../postgrest';
import { ColumnDefinition, TableDefinition, baseType } from '../catalog/table-definition';

/**
 * The per-project OpenAPI (Swagger 2.0, as PostgREST serves at its root) describing declared tables. With the secret
 * key it describes everything; other callers see only the tables, columns and methods their policy allows, so the
 * document never reveals more than the API would.
 */

type Schema = Record<string, unknown>;

function columnSchema(c: ColumnDefinition): Schema {
  const base = baseType(c.type);
  const s: Schema = {};
  const types: Record<string, [string | undefined, string]> = {
    text: ['string', 'text'],
    varchar: ['string', 'character varying'],
    int4: ['integer', 'integer'],
    int8: ['integer', 'bigint'],
    float8: ['number', 'double precision'],
    numeric: ['number', 'numeric'],
    bool: ['boolean', 'boolean'],
    uuid: ['string', 'uuid'],
    timestamptz: ['string', 'timestamp with time zone'],
    date: ['string', 'date'],
    jsonb: [undefined, 'jsonb'],
    enum: ['string', 'text'],
  };
  if (c.type.endsWith('[]')) {
    const [itemType] = types[c.type.slice(0, -2)] ?? ['string'];
    Object.assign(s, { type: 'array', items: { type: itemType }, format: `${types[c.type.slice(0, -2)]?.[1] ?? 'text'}[]` });
  } else {
    const [type, format] = types[base] ?? ['string', c.type];
    if (type) s.type = type;
    s.format = format;
  }
  if (c.values) s.enum = c.values;
  if (base === 'varchar') s.maxLength = Number(/\((\d+)\)/.exec(c.type)?.[1]);
  const notes: string[] = [];
  if (c.primary_key) notes.push('This is a Primary Key.<pk/>');
  if (c.references) notes.push(`This is a Foreign Key to \`${c.references.table}.${c.references.column}\`.<fk table='${c.references.table}' column='${c.references.column}'/>`);
  if (notes.length) s.description = `Note:\n${notes.join('\n')}`;
  if (c.default?.kind === 'literal' && c.default.value !== null) s.default = c.default.value;
  return s;
}

const METHODS: Array<[string, Action, string]> = [
  ['get', 'read', 'Read rows'],
  ['post', 'create', 'Insert rows (upsert with Prefer: resolution=…)'],
  ['patch', 'update', 'Update the rows the filters select'],
  ['delete', 'delete', 'Delete the rows the filters select'],
];

export function openApiDocument(ref: string, basePath: string, tables: Iterable<TableDefinition>, policy: PolicyFn): Schema {
  const paths: Record<string, Schema> = {};
  const definitions: Record<string, Schema> = {};
  for (const table of tables) {
    const read = policy(table.name, 'read');
    const allowed = METHODS.filter(([, action]) => policy(table.name, action).rows !== 'none');
    if (!allowed.length) continue;
    const visible = table.columns.filter((c) => read.rows !== 'none' && (read.columns === 'all' || read.columns.includes(c.name)));
    const columns = visible.length ? visible : table.columns.filter((c) => allowed.some(([, a]) => { const p = policy(table.name, a); return p.columns === 'all' || p.columns.includes(c.name); }));
    definitions[table.name] = {
      type: 'object',
      required: columns.filter((c) => !c.nullable && !c.default).map((c) => c.name),
      properties: Object.fromEntries(columns.map((c) => [c.name, columnSchema(c)])),
    };
    const filters = columns.map((c) => ({ name: c.name, in: 'query', required: false, type: 'string', format: columnSchema(c).format }));
    const common = [
      { $ref: '#/parameters/select' },
      { $ref: '#/parameters/order' },
      { $ref: '#/parameters/range' },
      { $ref: '#/parameters/offset' },
      { $ref: '#/parameters/limit' },
      { $ref: '#/parameters/prefer' },
    ];
    const ops: Schema = {};
    for (const [method, , summary] of allowed) {
      const body = method === 'post' || method === 'patch' ? [{ name: 'body', in: 'body', required: true, schema: { $ref: `#/definitions/${table.name}` } }] : [];
      ops[method] = {
        tags: [table.name],
        summary,
        parameters: [...(method === 'post' ? [] : filters), ...common, ...body],
        responses:
          method === 'get'
            ? { 200: { description: 'OK', schema: { type: 'array', items: { $ref: `#/definitions/${table.name}` } } }, 206: { description: 'Partial Content' } }
            : { [method === 'post' ? 201 : 204]: { description: method === 'post' ? 'Created' : 'No Content' } },
      };
    }
    paths[`/${table.name}`] = ops;
  }
  return {
    swagger: '2.0',
    info: { title: `Plinth project ${ref}`, description: 'PostgREST-compatible REST API of the project\'s declared tables', version: '1' },
    basePath,
    consumes: ['application/json', 'application/vnd.pgrst.object+json'],
    produces: ['application/json', 'application/vnd.pgrst.object+json'],
    paths,
    definitions,
    parameters: {
      select: { name: 'select', in: 'query', required: false, type: 'string', description: 'Columns, aliases, casts and embedded resources' },
      order: { name: 'order', in: 'query', required: false, type: 'string', description: 'col.asc|desc.nullsfirst|nullslast' },
      range: { name: 'Range', in: 'header', required: false, type: 'string', description: 'Rows, e.g. 0-24' },
      offset: { name: 'offset', in: 'query', required: false, type: 'string' },
      limit: { name: 'limit', in: 'query', required: false, type: 'string' },
      prefer: { name: 'Prefer', in: 'header', required: false, type: 'string', description: 'count=exact|planned|estimated, return=minimal|representation, resolution=merge-duplicates|ignore-duplicates' },
    },
    securityDefinitions: { apikey: { type: 'apiKey', in: 'header', name: 'apikey' } },
    security: [{ apikey: [] }],
  };
}
