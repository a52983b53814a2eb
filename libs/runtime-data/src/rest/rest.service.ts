import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { QueryResult, QueryResultRow } from 'pg';
import { PlinthException, WireException } from '@plinth/common';
import { PLINTH_CONFIG, PlinthConfig } from '@plinth/config';
import { TenantDatabase } from '@plinth/database';
import type { TenantContext } from '@plinth/gateway';
import { Plan, PlansService, statementTimeoutMs } from '@plinth/quotas';
import {
  BuildContext,
  Errors,
  HeaderInput,
  MediaChoice,
  PostgrestError,
  PostgrestResponse,
  ReadPlan,
  ReadRow,
  WritePlan,
  WriteRow,
  contentType,
  estimateStatement,
  finishRead,
  finishWrite,
  header,
  mapPgError,
  parsePrefer,
  planDelete,
  planInsert,
  planRead,
  planUpdate,
} from '../postgrest';
import { DataCatalog } from '../catalog/data-catalog';
import type { OpenApiBody } from '../catalog/project-catalog';
import { transactionEnd } from '../catalog/data-settings';
import { AUTH_UID_SETTING } from '../catalog/table-ddl';
import { openApiDocument } from './openapi';
import { policyFor } from './tenant-policy';

const SET_AUTH_UID = `SELECT set_config('${AUTH_UID_SETTING}', $1, true)`;

/**
 * `Accept-Profile` (reads) / `Content-Profile` (writes) name the schema: a project exposes one, `public` to
 * supabase-js, so any other is PostgREST's 406 PGRST106 rather than silently the same tables.
 */
function checkProfile(req: RestRequest): void {
  const name = req.method === 'GET' || req.method === 'HEAD' ? 'accept-profile' : 'content-profile';
  const profile = header(req.headers, name)?.trim();
  if (profile !== undefined && profile !== '' && profile !== 'public') throw Errors.invalidSchema(profile);
}

export type RestMethod = 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE';

/** One PostgREST request, as the controller hands it over. */
export interface RestRequest {
  method: RestMethod;
  table: string;
  query: URLSearchParams;
  headers: HeaderInput;
  body: unknown;
}

/**
 * The data runtime's request path: compiled catalog (cached) + the caller's policy → one generated, parameterised,
 * schema-qualified statement (prepared once per connection and shape) → run in a transaction as the project's data
 * role with a statement timeout, BEGIN, statement and COMMIT written together → the PostgREST answer. A single-object
 * write waits for its answer before COMMIT, so a row-count mismatch rolls the write back. Every failure
 * leaves as a WireException in PostgREST's shape and status; unexpected ones are logged with an error id.
 */
@Injectable()
export class RestService {
  private readonly logger = new Logger(RestService.name);

  constructor(
    @Inject(PLINTH_CONFIG) private readonly config: PlinthConfig,
    private readonly tenants: TenantDatabase,
    private readonly catalogs: DataCatalog,
    private readonly plans: PlansService,
  ) {}

  async handle(t: TenantContext, req: RestRequest): Promise<PostgrestResponse> {
    const anonymous = t.role === 'anon';
    try {
      checkProfile(req);
      const pc = await this.catalogs.get(t.project);
      const txPrefer = parsePrefer(header(req.headers, 'prefer')).tx;
      const end = transactionEnd(pc.settings, txPrefer);
      const ctx: BuildContext = {
        catalog: pc.catalog,
        policy: policyFor(t, pc),
        anonymous,
        limits: { maxRows: this.config.data.maxRows },
        txAllowed: end.honoured,
        aggregates: pc.settings.aggregates,
      };
      const input = { query: req.query, headers: req.headers };
      if (req.method === 'GET' || req.method === 'HEAD') {
        const plan = planRead(ctx, req.table, input);
        if (plan.media.kind === 'plan') return await this.explain(t, plan, plan.media);
        return await this.read(t, plan);
      }
      let plan: WritePlan;
      if (req.method === 'POST') plan = planInsert(ctx, req.table, input, req.body);
      else if (req.method === 'PATCH') plan = planUpdate(ctx, req.table, input, req.body);
      else plan = planDelete(ctx, req.table, input);
      // Without a filter a PATCH/DELETE touches every row: refused for every key, as hosted PostgREST with
      // pg-safeupdate does, because a forgotten `.eq()` would otherwise change a whole table. Every row on purpose
      // takes a filter that is always true.
      if (plan.kind !== 'insert' && !plan.hasFilters) {
        throw new PostgrestError(400, '21000', `${plan.kind.toUpperCase()} requires a WHERE clause`, null, 'Add a filter choosing the rows; to change every row on purpose, filter on a column that is never null, e.g. ?id=not.is.null');
      }
      if (plan.media.kind === 'plan') return await this.explain(t, plan, plan.media);
      // Transaction-local, like the role: read by `auth.uid` column defaults, gone at COMMIT.
      const setUid = plan.kind === 'insert' && t.user !== null && pc.authUidTables.has(plan.table);
      const statements = setUid ? [{ text: SET_AUTH_UID, values: [t.user!.id] }, plan] : [plan];
      // Rule checks on written rows raise inside the statement; a single-object write that didn't touch exactly one
      // row, or more rows than `max-affected` allows, is refused here, and must be rolled back, so then COMMIT waits
      // for finishWrite's verdict.
      const confirm = plan.single || plan.maxAffected !== undefined;
      return await this.run<WriteRow, PostgrestResponse>(t, statements, (r) => finishWrite(plan, r.rows[0]), { confirm, rollback: end.rollback });
    } catch (err) {
      // The executor's refusal when the project already holds its share of the pool: a 429 like the gateway's.
      if (err instanceof PlinthException) throw err;
      throw this.failure(err, { anonymous, schema: t.project.schema, table: req.table });
    }
  }

  /**
   * The OpenAPI document of the project's declared tables, as far as the caller's policy reaches, serialised.
   * Anonymous and secret-key callers share one policy per catalog, so their document is built once per catalog
   * (a catalog or rule change compiles a new catalog); an end user's or restricted key's is built per request.
   */
  async openApi(t: TenantContext): Promise<OpenApiBody> {
    const pc = await this.catalogs.get(t.project);
    const shared = t.role === 'anon' || t.role === 'service' ? t.role : null;
    const hit = shared ? pc.openApi?.[shared] : undefined;
    if (hit) return hit;
    const doc = openApiDocument(t.project.ref, `/p/${t.project.ref}/rest/v1`, pc.definitions.values(), policyFor(t, pc));
    const body: OpenApiBody = { json: Buffer.from(JSON.stringify(doc), 'utf8') };
    if (shared) (pc.openApi ??= {})[shared] = body;
    return body;
  }

  /**
   * A read, and for a planned/estimated count the EXPLAIN of the same rule-filtered rows as a second statement (the
   * executor hands back only the last statement's result, so it is a second transaction; an estimate needs no more).
   * A read's answer may still be refused (a single object asked for and not one row): after COMMIT, harmless.
   */
  private async read(t: TenantContext, plan: ReadPlan): Promise<PostgrestResponse> {
    const row = await this.run<ReadRow, ReadRow>(t, [plan], (r) => r.rows[0]);
    const estimate = estimateStatement(plan, row);
    if (!estimate) return finishRead(plan, row);
    const explain = await this.run<{ 'QUERY PLAN': unknown }, unknown>(t, [estimate], (r) => r.rows[0]['QUERY PLAN']);
    return finishRead(plan, row, explain);
  }

  /**
   * `Accept: application/vnd.pgrst.plan` (supabase-js `explain()`): the planner's plan of the statement the request
   * would run, for the secret key only (a plan names the project's schema and reveals row estimates past the rules);
   * others get PostgREST's answer for a disabled plan media type. `options=analyze` runs the statement, as PostgREST
   * does, inside a transaction that always rolls back (writes included) and under the plan's statement timeout.
   */
  private async explain(t: TenantContext, plan: ReadPlan | WritePlan, media: MediaChoice): Promise<PostgrestResponse> {
    if (t.role !== 'service') throw Errors.mediaType('application/vnd.pgrst.plan');
    // Option words come from a fixed list (parseMedia), never from the request's text.
    const options = [...(media.planOptions ?? []).map((o) => o.toUpperCase()), `FORMAT ${media.planText ? 'TEXT' : 'JSON'}`];
    const rows = await this.run<{ 'QUERY PLAN': unknown }, Array<{ 'QUERY PLAN': unknown }>>(
      t,
      [{ text: `EXPLAIN (${options.join(', ')}) ${plan.text}`, values: plan.values }],
      (r) => r.rows,
      { rollback: true },
    );
    const body = media.planText ? rows.map((r) => String(r['QUERY PLAN'])).join('\n') : JSON.stringify(rows[0]?.['QUERY PLAN'] ?? []);
    return { status: 200, headers: { 'Content-Type': contentType(media) }, body };
  }

  /**
   * Runs the statements with the statement timeout of the org's plan and the caller (anonymous callers get the
   * shorter one). The plan is cached (the gateway's limits check has loaded it); it is read only when it isn't.
   */
  private run<R extends QueryResultRow, T>(
    t: TenantContext,
    statements: Array<{ text: string; values: unknown[] }>,
    finish: (r: QueryResult<R>) => T,
    opts: { confirm?: boolean; rollback?: boolean } = {},
    plan: Plan | undefined = this.plans.cachedForOrg(t.project.orgId),
  ): Promise<T> {
    if (plan === undefined) return this.plans.forOrg(t.project.orgId).then((loaded) => this.run(t, statements, finish, opts, loaded));
    const p = t.project;
    const target = { ref: p.ref, cluster: p.cluster, schema: p.schema, dataRole: p.dataRole };
    const timeout = statementTimeoutMs(plan, t.role === 'anon', this.config.data.statementTimeoutMs);
    return this.tenants.run(target, statements, finish, { confirm: opts.confirm, rollback: opts.rollback, statementTimeoutMs: timeout });
  }

  /** Any failure as PostgREST's `{code,message,details,hint}` with its status; 5xx are logged with an error id. */
  private failure(err: unknown, opts: { anonymous: boolean; schema: string; table: string }): WireException {
    let mapped = mapPgError(err, opts);
    if (mapped.status >= 500) {
      const errorId = randomUUID();
      this.logger.error({ err, errorId, code: mapped.code }, `data runtime failure ${errorId}`);
      mapped = new PostgrestError(mapped.status, mapped.code, mapped.message, `error id ${errorId}`, mapped.hint);
    }
    return new WireException(mapped.status, mapped.toJSON(), mapped.headers);
  }
}
