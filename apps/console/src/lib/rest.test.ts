import { describe, expect, it } from 'vitest';
import { parseCell, rowsQuery, showCell, totalFromContentRange } from './rest';

describe('rows grid helpers', () => {
  it('builds PostgREST filters, skipping blank ones, and wraps ilike in wildcards', () => {
    const q = rowsQuery({
      filters: [
        { column: 'title', op: 'ilike', value: 'milk' },
        { column: 'stars', op: 'gte', value: '3' },
        { column: 'owner_id', op: 'eq', value: '' },
      ],
      order: 'created_at.desc',
      limit: 50,
      offset: 100,
    });
    expect(q.toString()).toBe('select=*&title=ilike.*milk*&stars=gte.3&order=created_at.desc&limit=50&offset=100');
  });

  it('reads the total from Content-Range', () => {
    expect(totalFromContentRange('0-49/120')).toBe(120);
    expect(totalFromContentRange('*/0')).toBe(0);
    expect(totalFromContentRange('0-9/*')).toBeNull();
    expect(totalFromContentRange(null)).toBeNull();
  });

  it('turns edited text into the column type, and refuses what does not fit', () => {
    expect(parseCell('int4', '42')).toBe(42);
    expect(parseCell('numeric(10,2)', '1.5')).toBe(1.5);
    expect(parseCell('bool', 'yes')).toBe(true);
    expect(parseCell('jsonb', '{"a":1}')).toEqual({ a: 1 });
    expect(parseCell('text', '')).toBeNull();
    expect(() => parseCell('int8', 'abc')).toThrow('not a number');
    expect(() => parseCell('bool', 'maybe')).toThrow('true or false');
  });

  it('shows objects as JSON and null as empty', () => {
    expect(showCell({ a: 1 })).toBe('{"a":1}');
    expect(showCell(null)).toBe('');
    expect(showCell(3)).toBe('3');
  });
});
