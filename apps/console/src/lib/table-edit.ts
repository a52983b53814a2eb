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
