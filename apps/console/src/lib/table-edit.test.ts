import { describe, expect, it } from 'vitest';
import { toApiError } from '../api/client';
import { alterColumnChange, alterColumnError, alterMessages, columnEditDraft, defaultInput, defaultText, indexColumns, parseReference } from './table-edit';

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

  describe('editing a column (alter_columns)', () => {
    const qty = { name: 'qty', type: 'text', nullable: true, unique: false, default: '1' };

    it('sends only what changed, and nothing when nothing did', () => {
      expect(alterColumnChange(qty, columnEditDraft(qty))).toBeNull();
      expect(alterColumnChange(qty, { ...columnEditDraft(qty), nullable: false })).toEqual({ name: 'qty', nullable: false });
      expect(alterColumnChange(qty, { ...columnEditDraft(qty), unique: true })).toEqual({ name: 'qty', unique: true });
    });

    it('drops an emptied default with null and re-reads a literal default for a new type', () => {
      expect(alterColumnChange(qty, { ...columnEditDraft(qty), default: '  ' })).toEqual({ name: 'qty', default: null });
      expect(alterColumnChange(qty, { ...columnEditDraft(qty), type: 'int4' })).toEqual({ name: 'qty', type: 'int4', default: 1 });
      const at = { name: 'at', type: 'timestamptz', nullable: false, unique: false, default: 'now()' };
      expect(alterColumnChange(at, { ...columnEditDraft(at), type: 'date' })).toEqual({ name: 'at', type: 'date' });
      const id = { name: 'id', type: 'int4', nullable: false, unique: false, default: 'identity' };
      expect(alterColumnChange(id, { ...columnEditDraft(id), type: 'int8' })).toEqual({ name: 'id', type: 'int8' });
    });

    it('reads defaults by type: words, numbers, booleans, JSON as {value}', () => {
      expect(defaultInput('uuid', 'gen_random_uuid()')).toBe('gen_random_uuid()');
      expect(defaultInput('numeric(10,2)', '2.5')).toBe(2.5);
      expect(defaultInput('bool', 'false')).toBe(false);
      expect(defaultInput('text[]', '["a"]')).toEqual({ value: ['a'] });
      expect(defaultInput('jsonb', '{oops')).toBe('{oops');
      expect(defaultInput('text', '42')).toBe('42');
      expect(defaultText({ value: { a: 1 } })).toBe('{"a":1}');
      expect(defaultText(undefined)).toBe('');
      expect(defaultText(3)).toBe('3');
    });

    it("puts the API's message beside the field it names", () => {
      const e = toApiError(409, { error: { code: 'conflict', message: 'Existing rows…', details: [{ path: 'alter_columns.0.nullable', message: 'column "label" contains null values' }] } });
      expect(alterColumnError(e, 'nullable')).toBe('column "label" contains null values');
      expect(alterColumnError(e, 'type')).toBeUndefined();
      expect(alterColumnError(new Error('x'), 'nullable')).toBeUndefined();
    });
  });
});
