/** Catalog and resolved-policy types the PostgREST dialect is built over. */
export type { Catalog, TableDef, ColumnDef, ForeignKeyDef, PolicyFn, TablePolicy, RowCondition, ColumnTest, Scalar, Action } from './catalog';
/** A policy that allows every row and column (secret keys). */
export { allowAll } from './catalog';
/** Errors in PostgREST's `{code,message,details,hint}` shape with their HTTP status. */
export { PostgrestError, Errors } from './postgrest.error';
/** Maps a node-postgres error from a generated statement to the PostgrestError PostgREST would send. */
export { mapPgError, POLICY_VIOLATION_MARKER } from './map-pg-error';
export type { MapPgErrorOptions } from './map-pg-error';
/** Protective limits (rows, list lengths, nesting) and their defaults. */
export { DEFAULT_LIMITS } from './limits';
export type { PostgrestLimits } from './limits';
/** Catalog, policy and limits a plan is built with. */
export type { BuildContext } from './resolver';
/** Query string + headers → parsed request (pure, no catalog). */
export { parseRequest, parsePrefer, header } from './parse-request';
export type { RequestInput, QueryInput, HeaderInput, ParsedRequest, Preferences, CountMode, ReturnMode, MediaChoice } from './parse-request';
/** Parsed request → one parameterised statement. */
export { buildRead } from './build-read';
export type { ReadPlan } from './build-read';
export { buildInsert, buildUpdate, buildDelete } from './build-write';
export type { WritePlan } from './build-write';
/** Parse + build in one call per HTTP method, and the PostgREST-shaped response from the statement's row. */
export { planRead, planInsert, planUpdate, planDelete, finishRead, finishWrite, isPostgrestError } from './postgrest';
/** A read's planned/estimated count: the EXPLAIN still to run after the read, if any. */
export { estimateStatement } from './postgrest';
export type { PostgrestResponse, ReadRow, WriteRow } from './postgrest';
/** The Content-Type of an answer in a negotiated media type, as PostgREST spells it. */
export { contentType } from './postgrest';
/** The statement type every plan extends. */
export type { SqlQuery } from './sql';
