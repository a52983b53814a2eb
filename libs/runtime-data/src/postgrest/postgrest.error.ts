/**
 * Errors in PostgREST's wire shape `{code, message, details, hint}` plus the HTTP status PostgREST would use.
 * Messages are safe to show the caller: they may echo the caller's own (truncated) input, never SQL text or schema
 * names.
 */
export type PostgrestDetails = string | null | Array<Record<string, string>>;

export class PostgrestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Usually text; PGRST201 carries an array of candidate relationships, as PostgREST's does. */
    readonly details: PostgrestDetails = null,
    readonly hint: string | null = null,
    /** Extra response headers (a 416's `Content-Range`). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'PostgrestError';
  }

  /** The JSON body PostgREST sends. */
  toJSON(): { code: string; message: string; details: PostgrestDetails; hint: string | null } {
    return { code: this.code, message: this.message, details: this.details, hint: this.hint };
  }
}

/** Echo at most this much of a caller's input in an error, so a huge hostile value doesn't come back verbatim. */
const ECHO_MAX = 80;
export function echo(s: string): string {
  return s.length > ECHO_MAX ? `${s.slice(0, ECHO_MAX)}…` : s;
}

/** Status for 42501: PostgREST answers 401 to an anonymous caller (it might log in) and 403 otherwise. */
export function permissionStatus(anonymous: boolean): number {
  return anonymous ? 401 : 403;
}

export const Errors = {
  /** PGRST100: a query parameter could not be parsed. */
  parse(what: string, input: string, details: string): PostgrestError {
    return new PostgrestError(400, 'PGRST100', `failed to parse ${what} (${echo(input)})`, details);
  },
  /** PGRST100 for a request that exceeds one of the server's protective limits. */
  limit(message: string): PostgrestError {
    return new PostgrestError(400, 'PGRST100', message);
  },
  /** PGRST102: the body is not what the request needs. */
  body(message: string, details: string | null = null): PostgrestError {
    return new PostgrestError(400, 'PGRST102', message, details);
  },
  /**
   * PGRST103: an offset past the end of the data (total known), a negative limit or an inverted Range. Every 416
   * says in `Content-Range` what there is: `*\/N`, or `*\/*` when nothing was counted.
   */
  range(details: string | null, total?: number): PostgrestError {
    return new PostgrestError(416, 'PGRST103', 'Requested range not satisfiable', details, null, { 'Content-Range': `*/${total ?? '*'}` });
  },
  /** PGRST106: Accept-Profile/Content-Profile names a schema the project doesn't expose. */
  invalidSchema(schema: string): PostgrestError {
    return new PostgrestError(406, 'PGRST106', `Invalid schema: ${echo(schema)}`, null, 'Only the following schemas are exposed: public');
  },
  /** PGRST122: unknown preferences with `Prefer: handling=strict`. */
  invalidPreferences(prefs: string[]): PostgrestError {
    return new PostgrestError(400, 'PGRST122', 'Invalid preferences given with handling=strict', `Invalid preferences: ${prefs.map(echo).join(', ')}`);
  },
  /** PGRST124: `Prefer: handling=strict, max-affected=N` and the write touched more rows (rolled back). */
  maxAffected(rows: number): PostgrestError {
    return new PostgrestError(400, 'PGRST124', 'Query result exceeds max-affected preference constraint', `The query affects ${rows} rows`);
  },
  /** 400: an embed beside aggregates at one level (ask for the aggregate inside the embed instead). */
  embedWithAggregate(name: string): PostgrestError {
    return new PostgrestError(400, 'PGRST100', `'${echo(name)}' can't be embedded next to aggregate functions`, null, `Aggregate inside the embedded resource instead, e.g. ${echo(name)}(count)`);
  },
  /** 400: aggregates inside a to-one embed (one row: nothing to aggregate). */
  aggregateOnToOne(name: string): PostgrestError {
    return new PostgrestError(400, 'PGRST100', `'${echo(name)}' is a to-one relationship: there is nothing to aggregate`);
  },
  /** PGRST123: aggregates in `select` while the project has them switched off. */
  aggregatesDisabled(): PostgrestError {
    return new PostgrestError(400, 'PGRST123', 'Use of aggregate functions is not allowed');
  },
  /** PGRST107: an Accept header we can't satisfy. */
  mediaType(accept: string): PostgrestError {
    return new PostgrestError(406, 'PGRST107', `None of these media types are available: ${echo(accept)}`);
  },
  /** PGRST108: a filter/order/limit on an embedded resource that isn't in `select`. */
  notEmbedded(name: string): PostgrestError {
    return new PostgrestError(
      400,
      'PGRST108',
      `'${echo(name)}' is not an embedded resource in this request`,
      null,
      `Verify that '${echo(name)}' is included in the 'select' query parameter.`,
    );
  },
  /** PGRST116: `Accept: application/vnd.pgrst.object+json` and not exactly one row. */
  singular(rows: number): PostgrestError {
    return new PostgrestError(406, 'PGRST116', 'Cannot coerce the result to a single JSON object', `The result contains ${rows} rows`);
  },
  /** PGRST200: no foreign key between the two tables. */
  noRelationship(from: string, to: string): PostgrestError {
    return new PostgrestError(
      400,
      'PGRST200',
      `Could not find a relationship between '${echo(from)}' and '${echo(to)}' in the schema cache`,
      `Searched for a foreign key relationship between '${echo(from)}' and '${echo(to)}' in the schema 'public', but no matches were found.`,
    );
  },
  /** PGRST201: several relationships fit; the caller must disambiguate with `!hint`. `details` lists each. */
  ambiguousRelationship(from: string, to: string, candidates: Array<{ cardinality: string; embedding: string; relationship: string; hint: string }>): PostgrestError {
    return new PostgrestError(
      300,
      'PGRST201',
      `Could not embed because more than one relationship was found for '${echo(from)}' and '${echo(to)}'`,
      candidates.map((c) => ({ cardinality: c.cardinality, embedding: c.embedding, relationship: c.relationship })),
      `Try changing '${echo(to)}' to one of the following: ${candidates.map((c) => `'${c.hint}'`).join(', ')}. Find the desired relationship in the 'details' key.`,
    );
  },
  /** PGRST100: the same embed twice at one level without distinct aliases (its JSON would hold one key twice). */
  duplicateEmbed(name: string): PostgrestError {
    return new PostgrestError(400, 'PGRST100', `'${echo(name)}' is embedded more than once`, null, `Give each embedding of '${echo(name)}' its own alias, e.g. ${echo(name)}_2:${echo(name)}(...)`);
  },
  /** PGRST204: a body key that is not a (usable) column. */
  unknownBodyColumn(column: string, table: string): PostgrestError {
    return new PostgrestError(400, 'PGRST204', `Could not find the '${echo(column)}' column of '${table}' in the schema cache`);
  },
  /** PGRST205: unknown table. Reported under 'public', as supabase-js users know their schema by that name. */
  unknownTable(table: string): PostgrestError {
    return new PostgrestError(404, 'PGRST205', `Could not find the table 'public.${echo(table)}' in the schema cache`);
  },
  /** 42703: unknown column, or one the caller may not see (the same answer, so hidden columns can't be probed). */
  unknownColumn(table: string, column: string): PostgrestError {
    return new PostgrestError(400, '42703', `column ${table}.${echo(column)} does not exist`);
  },
  /** 42501: the policy denies the action (or the column). */
  permission(table: string, anonymous: boolean): PostgrestError {
    return new PostgrestError(permissionStatus(anonymous), '42501', `permission denied for table ${table}`);
  },
  /** 42501 raised when a written row fails the create/update condition. */
  policyViolation(table: string | undefined, anonymous: boolean): PostgrestError {
    const on = table ? ` for table "${table}"` : '';
    return new PostgrestError(permissionStatus(anonymous), '42501', `new row violates row-level security policy${on}`);
  },
  /** 22P02 and friends: a value that can't be read as the column's type. */
  invalidInput(pgType: string, value: string): PostgrestError {
    return new PostgrestError(400, '22P02', `invalid input syntax for type ${pgType}: "${echo(value)}"`);
  },
  outOfRange(pgType: string, value: string): PostgrestError {
    return new PostgrestError(400, '22003', `value "${echo(value)}" is out of range for type ${pgType}`);
  },
  /** 42704: `fts(lang)` with a configuration PostgreSQL doesn't ship. */
  unknownSearchConfig(name: string): PostgrestError {
    return new PostgrestError(400, '42704', `text search configuration "${echo(name)}" does not exist`);
  },
  /** 42P10: on_conflict names no unique constraint. */
  noConflictTarget(): PostgrestError {
    return new PostgrestError(400, '42P10', 'there is no unique or exclusion constraint matching the ON CONFLICT specification');
  },
  /** 42883: an operator that doesn't apply to the column's type (PostgREST maps it to 404). */
  undefinedOperator(op: string, pgType: string): PostgrestError {
    return new PostgrestError(404, '42883', `operator does not exist: ${pgType} ${op} unknown`);
  },
  /** 42804: e.g. `is.true` on a non-boolean column. */
  datatypeMismatch(message: string): PostgrestError {
    return new PostgrestError(400, '42804', message);
  },
};
