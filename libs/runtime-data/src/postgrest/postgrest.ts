import { ReadPlan, buildRead, estimatedTotal, needsEstimate } from './build-read';
import { WritePlan, buildDelete, buildInsert, buildUpdate } from './build-write';
import { MediaChoice, RequestInput, parseRequest } from './parse-request';
import { Errors, PostgrestError } from './postgrest.error';
import { BuildContext } from './resolver';
import { withDefaults } from './limits';
import { SqlQuery } from './sql';

/** GET/HEAD: parse the query string and headers, check them against catalog and policy, build one statement. */
export function planRead(ctx: BuildContext, table: string, input: RequestInput): ReadPlan {
  return buildRead(ctx, table, parseRequest(input, withDefaults(ctx.limits)));
}

/** POST: insert, or upsert with `Prefer: resolution=merge-duplicates|ignore-duplicates`. `body` is parsed JSON. */
export function planInsert(ctx: BuildContext, table: string, input: RequestInput, body: unknown): WritePlan {
  return buildInsert(ctx, table, parseRequest(input, withDefaults(ctx.limits)), body);
}

/** PATCH. */
export function planUpdate(ctx: BuildContext, table: string, input: RequestInput, body: unknown): WritePlan {
  return buildUpdate(ctx, table, parseRequest(input, withDefaults(ctx.limits)), body);
}

/** DELETE. */
export function planDelete(ctx: BuildContext, table: string, input: RequestInput): WritePlan {
  return buildDelete(ctx, table, parseRequest(input, withDefaults(ctx.limits)));
}

/** The HTTP answer built from a plan and the one row its statement returned. */
export interface PostgrestResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON text to send as is, or null for no body. */
  body: string | null;
}

/** The row a read statement returns (pg returns int8 as string). */
export interface ReadRow {
  body: string | null;
  n: number | string;
  total: number | string | null;
}
export interface WriteRow {
  body: string | null;
  n: number | string;
  guard?: number | string | null;
  /** For an upsert, how many rows were new. */
  inserted?: number | string | null;
}

/** The Content-Type of an answer in the negotiated media type, spelled as PostgREST spells it. */
export function contentType(media: MediaChoice): string {
  switch (media.kind) {
    case 'object':
      return `application/vnd.pgrst.object+json${media.stripNulls ? ';nulls=stripped' : ''}; charset=utf-8`;
    case 'csv':
      return 'text/csv; charset=utf-8';
    case 'plan': {
      const options = media.planOptions?.length ? `; options=${media.planOptions.join('|')}` : '';
      return `application/vnd.pgrst.plan+${media.planText ? 'text' : 'json'}; for="application/json"${options}; charset=utf-8`;
    }
    default:
      return media.stripNulls ? 'application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8' : 'application/json; charset=utf-8';
  }
}

function commonHeaders(media: MediaChoice | null, applied: string[]): Record<string, string> {
  const h: Record<string, string> = media ? { 'Content-Type': contentType(media) } : {};
  if (applied.length) h['Preference-Applied'] = applied.join(', ');
  return h;
}

/**
 * The statement still to run for the read's total, given the read's row: {@link ReadPlan.estimate} for
 * `count=planned`, and for `count=estimated` when more than maxRows rows matched; otherwise none.
 */
export function estimateStatement(plan: ReadPlan, row: ReadRow): SqlQuery | undefined {
  const total = row.total === null || row.total === undefined ? null : Number(row.total);
  return needsEstimate(plan, total) ? plan.estimate : undefined;
}

/**
 * Status and headers of a read the way PostgREST computes them: 206 when a known total exceeds the page, 416
 * (PGRST103) for an offset past the end, PGRST116 when a single object was asked for and the rows aren't one.
 * `explain` is the "QUERY PLAN" value of {@link estimateStatement}'s answer, when there was one to run.
 */
export function finishRead(plan: ReadPlan, row: ReadRow, explain?: unknown): PostgrestResponse {
  const n = Number(row.n);
  const counted = row.total === null || row.total === undefined ? null : Number(row.total);
  const total = explain !== undefined ? estimatedTotal(plan, explain, counted) : (counted ?? undefined);
  if (plan.single && n !== 1) throw Errors.singular(n);
  // Rows came back, so the range is satisfiable whatever a planned total says (an estimate may undercount).
  if (total !== undefined && plan.offset > total && n === 0) {
    throw Errors.range(`An offset of ${plan.offset} was requested, but there are only ${total} rows.`, total);
  }
  const headers = commonHeaders(plan.media, plan.preferenceApplied);
  const range = n > 0 ? `${plan.offset}-${plan.offset + n - 1}` : '*';
  headers['Content-Range'] = `${range}/${total ?? '*'}`;
  const status = !plan.single && total !== undefined && n < total ? 206 : 200;
  const json = row.body ?? (plan.single ? null : '[]');
  return { status, headers, body: plan.media.kind === 'csv' ? toCsv(json) : json };
}

/**
 * CSV as PostgREST writes it: a header of the first row's keys, then each row as PostgreSQL's record text (values
 * quoted when empty or holding a delimiter, quote, backslash, parenthesis or space; NULL empty; booleans t/f).
 */
export function toCsv(json: string | null): string {
  const rows = json ? (JSON.parse(json) as unknown) : [];
  const list = (Array.isArray(rows) ? rows : [rows]) as Array<Record<string, unknown>>;
  if (list.length === 0) return '\n';
  const keys = Object.keys(list[0]);
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    const text = typeof v === 'boolean' ? (v ? 't' : 'f') : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return text === '' || /[",\\()\s]/.test(text) ? `"${text.replace(/(["\\])/g, '$1$1')}"` : text;
  };
  return `${keys.join(',')}\n${list.map((r) => keys.map((k) => cell(r[k])).join(',')).join('\n')}`;
}

/**
 * Status and headers of a write. Throws PGRST116 for a single-object write that touched 0 or several rows; call it
 * inside the transaction so that throwing rolls the write back, as PostgREST does.
 */
export function finishWrite(plan: WritePlan, row: WriteRow): PostgrestResponse {
  const n = Number(row.n);
  if (row.guard !== undefined && row.guard !== null && Number(row.guard) !== 0) throw Errors.policyViolation(plan.table, false);
  if (plan.single && n !== 1) throw Errors.singular(n);
  if (plan.maxAffected !== undefined && n > plan.maxAffected) throw Errors.maxAffected(n);
  const representation = plan.returning === 'representation';
  // Only an answer with a body says what its body is (PostgREST sends no Content-Type on return=minimal).
  const headers = commonHeaders(representation ? plan.media : null, plan.preferenceApplied);
  const total = plan.count ? String(n) : '*';
  headers['Content-Range'] = plan.kind === 'insert' || n === 0 ? `*/${total}` : `0-${n - 1}/${total}`;
  let body = representation ? (row.body ?? (plan.single ? null : '[]')) : null;
  if (body !== null && plan.media.kind === 'csv') body = toCsv(body);
  if (plan.kind === 'insert') {
    // A merge-duplicates upsert that created no row (every row existed) answers 200, as PostgREST does.
    const onlyMerged = row.inserted !== undefined && row.inserted !== null && Number(row.inserted) === 0;
    return { status: onlyMerged ? 200 : 201, headers, body };
  }
  return { status: representation ? 200 : 204, headers, body };
}

/** Whether a thrown value is a PostgrestError (for callers that also see other errors). */
export function isPostgrestError(err: unknown): err is PostgrestError {
  return err instanceof PostgrestError;
}
