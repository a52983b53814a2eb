import { FormObject, FormValue } from './form-encoding';
import { StripeApiError } from './stripe-api-error';

/**
 * Typed readers over a parsed form body. Stripe validates every parameter and answers 400 with the offending
 * `param` (nested ones as `items[0][price]`), so the readers take the param's display path for error messages.
 */
export class Params {
  constructor(
    readonly raw: FormObject,
    private readonly prefix = '',
  ) {}

  /** The display path of a parameter (`items[0][price]`), or of this object itself when no key is given. */
  name(key?: string): string {
    if (key === undefined) return this.prefix;
    return this.prefix ? `${this.prefix}[${key}]` : key;
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined;
  }

  /**
   * Stripe answers `Received unknown parameter: x` for anything an endpoint does not take. Doing the same here means
   * a typo (or a parameter this fake does not model) fails loudly instead of being silently ignored.
   */
  allowOnly(allowed: readonly string[]): this {
    for (const key of Object.keys(this.raw)) {
      if (!allowed.includes(key)) {
        throw StripeApiError.invalid(
          `Received unknown parameter: ${this.name(key)} (the local Stripe test server does not implement it)`,
          this.name(key),
          'parameter_unknown',
        );
      }
    }
    return this;
  }

  string(key: string): string | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw StripeApiError.invalidParam(this.name(key), `Invalid string: ${this.name(key)}`);
    return v;
  }

  requiredString(key: string): string {
    const v = this.string(key);
    if (v === undefined || v === '') throw StripeApiError.missingParam(this.name(key));
    return v;
  }

  /** Stripe treats an empty string as "unset" (the SDK sends `null` as `''`). */
  nullableString(key: string): string | null | undefined {
    const v = this.string(key);
    return v === '' ? null : v;
  }

  integer(key: string): number | undefined {
    const v = this.string(key);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) throw StripeApiError.invalid(`Invalid integer: ${v}`, this.name(key), 'parameter_invalid_integer');
    return Number(v);
  }

  decimal(key: string): string | undefined {
    const v = this.string(key);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d+(\.\d+)?$/.test(v)) throw StripeApiError.invalid(`Invalid decimal: ${v}`, this.name(key), 'parameter_invalid_string');
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.string(key);
    if (v === undefined || v === '') return undefined;
    if (v !== 'true' && v !== 'false') throw StripeApiError.invalid(`Invalid boolean: ${v}`, this.name(key));
    return v === 'true';
  }

  enumOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.string(key);
    if (v === undefined || v === '') return undefined;
    if (!(values as readonly string[]).includes(v)) {
      throw StripeApiError.invalid(`Invalid ${this.name(key)}: must be one of ${values.join(', ')}`, this.name(key));
    }
    return v as T;
  }

  object(key: string): Params | undefined {
    const v = this.raw[key];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw StripeApiError.invalid(`Invalid object`, this.name(key));
    return new Params(v, this.name(key));
  }

  /** Arrays of objects (`items[0][price]`). */
  objects(key: string): Params[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === '') return undefined;
    if (!Array.isArray(v)) throw StripeApiError.invalid(`Invalid array`, this.name(key));
    return v.map((entry: FormValue, i) => {
      if (typeof entry !== 'object' || Array.isArray(entry)) throw StripeApiError.invalid(`Invalid object`, `${this.name(key)}[${i}]`);
      return new Params(entry, `${this.name(key)}[${i}]`);
    });
  }

  /** Arrays of strings (`expand[]=a`, `lookup_keys[0]=x`). */
  strings(key: string): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === '') return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw StripeApiError.invalid(`Invalid array`, this.name(key));
    return v as string[];
  }

  /** `metadata[k]=v`; an empty value deletes the key on update, as in Stripe. */
  metadata(key = 'metadata'): Record<string, string> | null | undefined {
    const v = this.raw[key];
    if (v === undefined) return undefined;
    if (v === '') return null;
    if (typeof v !== 'object' || Array.isArray(v)) throw StripeApiError.invalid('Invalid metadata', this.name(key));
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'string') throw StripeApiError.invalid('Metadata values must be strings', `${this.name(key)}[${k}]`);
      out[k] = val;
    }
    return out;
  }
}

/** Applies a metadata update the way Stripe does: keys merge, `''` unsets a key, `metadata=''` clears all. */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string> | null | undefined): Record<string, string> {
  if (update === undefined) return current;
  if (update === null) return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete next[k];
    else next[k] = v;
  }
  return next;
}
