import { Errors } from './postgrest.error';

/** One step of a JSON path: `->key`, `->>key`, `->0`. */
export interface JsonPathStep {
  arrow: '->' | '->>';
  key: string | number;
}
/** A column reference as it appears in select/filter/order: a name plus an optional JSON path. */
export interface FieldRef {
  name: string;
  path: JsonPathStep[];
}

/** Characters that end a name; everything else (unicode included) may be part of one and is checked against the catalog. */
const RESERVED = new Set([',', '.', ':', '(', ')', '!', '"', '*', '{', '}']);

/**
 * A small hand-written scanner shared by the select, filter and order grammars. It reports errors as PGRST100 with
 * what was expected, like PostgREST's parsec messages.
 */
export class Cursor {
  i = 0;
  constructor(
    readonly s: string,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(n = 1): string {
    return this.s.slice(this.i, this.i + n);
  }
  eat(token: string): boolean {
    if (this.s.startsWith(token, this.i)) {
      this.i += token.length;
      return true;
    }
    return false;
  }
  expect(token: string): void {
    if (!this.eat(token)) this.fail(`"${token}"`);
  }
  skipSpaces(): void {
    while (!this.done && /\s/.test(this.s[this.i])) this.i++;
  }
  fail(expecting: string): never {
    const found = this.done ? 'end of input' : `"${this.s[this.i]}"`;
    throw Errors.parse(this.what, this.s, `unexpected ${found} expecting ${expecting}`);
  }

  /** A double-quoted string with backslash escapes (PostgREST's quoted value/name). */
  quoted(): string {
    this.expect('"');
    let out = '';
    for (;;) {
      if (this.done) this.fail('closing quote');
      const c = this.s[this.i++];
      if (c === '"') return out;
      if (c === '\\' && !this.done) out += this.s[this.i++];
      else out += c;
    }
  }

  /** A bare or quoted name. A '-' belongs to the name unless it starts a JSON arrow. */
  name(): string {
    this.skipSpaces();
    if (this.peek() === '"') return this.quoted();
    const start = this.i;
    while (!this.done) {
      const c = this.s[this.i];
      if (RESERVED.has(c) || /\s/.test(c) || this.peek(2) === '->') break;
      this.i++;
    }
    if (this.i === start) this.fail('field name');
    return this.s.slice(start, this.i);
  }

  /** name ( ('->' | '->>') (key | index) )* */
  field(): FieldRef {
    const name = this.name();
    const path: JsonPathStep[] = [];
    for (;;) {
      let arrow: JsonPathStep['arrow'];
      if (this.eat('->>')) arrow = '->>';
      else if (this.eat('->')) arrow = '->';
      else break;
      const key = this.name();
      path.push({ arrow, key: /^-?\d{1,9}$/.test(key) ? Number(key) : key });
    }
    return { name, path };
  }
}
