import { describe, expect, it } from 'vitest';
import { toApiError } from '../api/client';
import { alterMessages, indexColumns, parseReference } from './table-edit';

describe('table edits', () => {
  it('reads a reference as table.column, with on_delete only when it is not the default', () => {
    expect(parseReference('', 'cascade')).toEqual({ reference: null });
    expect(parseReference(' profiles.id ', 'no action')).toEqual({ reference: { table: 'profiles', column: 'id' } });
    expect(parseReference('profiles.id', 'cascade')).toEqual({ reference: { table: 'profiles', column: 'id', on_delete: 'cascade' } });
    expect(parseReference('profiles', 'no action')).toHaveProperty('problem');
    expect(parseReference('a.b.c', 'no action')).toHaveProperty('problem');
  });

  it('splits index columns on commas', () => {
    expect(indexColumns('owner_id, created_at,,')).toEqual(['owner_id', 'created_at']);
    expect(indexColumns('  ')).toEqual([]);
  });

  it("picks the API's messages about one kind of change", () => {
    const e = toApiError(400, { error: { code: 'validation_failed', message: 'Table change is invalid', details: [
      { path: 'drop_columns', message: '"owner_id" is used by a rule; change the rules first' },
      { path: 'rename_columns.0.to', message: 'must be lowercase' },
    ] } });
    expect(alterMessages(e, 'drop_columns')).toEqual(['"owner_id" is used by a rule; change the rules first']);
    expect(alterMessages(e, 'rename_columns')).toEqual(['must be lowercase']);
    expect(alterMessages(e, 'add_indexes')).toEqual([]);
    expect(alterMessages(new Error('x'), 'drop_columns')).toEqual([]);
  });
});
