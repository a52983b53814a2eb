import { Cursor, FieldRef } from './cursor';
import { Errors } from './postgrest.error';

export interface OrderTerm {
  field: FieldRef;
  direction?: 'asc' | 'desc';
  nulls?: 'first' | 'last';
}

/** `order=a.desc.nullslast,data->>k.asc,b` */
export function parseOrder(raw: string, maxTerms: number): OrderTerm[] {
  const c = new Cursor(raw, 'order');
  const terms: OrderTerm[] = [];
  do {
    if (terms.length >= maxTerms) throw Errors.limit(`order has more than ${maxTerms} terms`);
    const term: OrderTerm = { field: c.field() };
    while (c.eat('.')) {
      const word = c.name();
      if ((word === 'asc' || word === 'desc') && !term.direction && !term.nulls) term.direction = word;
      else if ((word === 'nullsfirst' || word === 'nullslast') && !term.nulls) term.nulls = word === 'nullsfirst' ? 'first' : 'last';
      else throw Errors.parse('order', raw, `unexpected "${word}" expecting "asc", "desc", "nullsfirst" or "nullslast"`);
    }
    terms.push(term);
  } while (c.eat(','));
  if (!c.done) c.fail('"," or end of input');
  return terms;
}
