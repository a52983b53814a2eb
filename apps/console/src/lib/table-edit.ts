import { ApiError } from '../api/client';

/** Table changes beyond adding a column, as the table settings form builds them for `PATCH /tables/{name}`. */
export const ON_DELETE = ['no action', 'restrict', 'cascade', 'set null'] as const;
export type OnDelete = (typeof ON_DELETE)[number];

export interface ReferenceInput {
  table: string;
  column: string;
  on_delete?: OnDelete;
}

/** "profiles.id" → a reference; empty → none; anything else → why not. */
export function parseReference(text: string, onDelete: OnDelete): { reference: ReferenceInput | null } | { problem: string } {
  const t = text.trim();
  if (!t) return { reference: null };
  const m = /^([^.\s]+)\.([^.\s]+)$/.exec(t);
  if (!m) return { problem: 'Write it as table.column, e.g. profiles.id' };
  return { reference: { table: m[1], column: m[2], ...(onDelete !== 'no action' ? { on_delete: onDelete } : {}) } };
}

/** "owner_id, created_at" → ['owner_id', 'created_at'] (empty parts dropped). */
export function indexColumns(text: string): string[] {
  return text.split(',').map((c) => c.trim()).filter(Boolean);
}

/**
 * The API's messages about one kind of change (`drop_columns`, `rename_columns.0.to`, …), for the form that made it;
 * a message about the whole request (no path) goes with it too.
 */
export function alterMessages(error: unknown, kind: string): string[] {
  if (!(error instanceof ApiError)) return [];
  const mine = Object.entries(error.fields).filter(([path]) => path === kind || path.startsWith(`${kind}.`));
  return mine.map(([, message]) => message);
}

/** An existing column as the table API describes it (only what editing needs). */
export interface ColumnLike {
  name: string;
  type: string;
  nullable: boolean;
  unique: boolean;
  default?: unknown;
}

/** The edit form of one column: the default as the text a person types. */
export interface ColumnEditDraft {
  type: string;
  nullable: boolean;
  default: string;
  unique: boolean;
}

const SPECIAL_DEFAULTS = ['now()', 'gen_random_uuid()', 'auth.uid', 'identity'];
const NUMBER_TYPES = ['int4', 'int8', 'float8', 'numeric'];
/** Types whose literal defaults are JSON (objects, arrays) and travel as `{value: …}`. */
const isJsonType = (type: string) => type === 'jsonb' || type.endsWith('[]');

/** The text shown for a stored default (`{value: …}` unwrapped, JSON for objects and arrays). */
export function defaultText(d: unknown): string {
  if (d === undefined || d === null) return '';
  const v = typeof d === 'object' && !Array.isArray(d) && 'value' in d ? (d as { value: unknown }).value : d;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * What was typed as a default, as the API takes it for a column of `type`: the special words as they are, numbers
 * and booleans for such columns, JSON as `{value}` for jsonb and arrays (kept as text when it isn't JSON, so the API
 * explains what's wrong), anything else as a string.
 */
export function defaultInput(type: string, text: string): unknown {
  const d = text.trim();
  if (SPECIAL_DEFAULTS.includes(d)) return d;
  if (NUMBER_TYPES.includes(type.replace(/\(.*\)$/, '')) && d !== '' && Number.isFinite(Number(d))) return Number(d);
  if (type === 'bool' && (d === 'true' || d === 'false')) return d === 'true';
  if (isJsonType(type)) {
    try {
      return { value: JSON.parse(d) as unknown };
    } catch {
      return d;
    }
  }
  return d;
}

export function columnEditDraft(c: ColumnLike): ColumnEditDraft {
  return { type: c.type, nullable: c.nullable, default: defaultText(c.default), unique: c.unique };
}

/** One `alter_columns` entry. */
export interface AlterColumn {
  name: string;
  type?: string;
  nullable?: boolean;
  default?: unknown;
  unique?: boolean;
}

/**
 * The `alter_columns` entry for what changed in the form (only the fields that differ; an emptied default is `null`,
 * which drops it), or null when nothing did. A default is re-sent when the type changes, so it is read for the new type.
 */
export function alterColumnChange(c: ColumnLike, draft: ColumnEditDraft): AlterColumn | null {
  const before = columnEditDraft(c);
  const out: AlterColumn = { name: c.name };
  const typeChanged = draft.type !== before.type;
  if (typeChanged) out.type = draft.type;
  if (draft.nullable !== before.nullable) out.nullable = draft.nullable;
  if (draft.unique !== before.unique) out.unique = draft.unique;
  const text = draft.default.trim();
  if (text !== before.default.trim() || (typeChanged && text !== '' && !SPECIAL_DEFAULTS.includes(text))) out.default = text === '' ? null : defaultInput(draft.type, text);
  return Object.keys(out).length > 1 ? out : null;
}

/** The API's message about one field of the (single) altered column, e.g. `alter_columns.0.type`. */
export function alterColumnError(error: unknown, field: 'name' | 'type' | 'nullable' | 'default' | 'unique'): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  return error.fields[`alter_columns.0.${field}`];
}
