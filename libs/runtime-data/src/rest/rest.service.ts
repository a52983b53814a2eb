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
  HeaderInput,
  PostgrestError,
  PostgrestResponse,
  ReadPlan,
  ReadRow,
  WritePlan,
  WriteRow,
  estimateStatement,
  finishRead,
  finishWrite,
  mapPgError,
  planDelete,
  planInsert,
  planRead,
  planUpdate,
} from '../postgrest';
import { DataCatalog } from '../catalog/data-catalog';
import type { OpenApiBody } from '../catalog/project-catalog';
import { AUTH_UID_SETTING } from '../catalog/table-ddl';
import { openApiDocument } from './openapi';
import { policyFor } from './tenant-policy';

const SET_AUTH_UID = `SELECT set_config('${AUTH_UID_SETTING}', $1, true)`;

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
      const pc = await this.catalogs.get(t.project);
      const ctx: BuildContext = { catalog: pc.catalog, policy: policyFor(t, pc), anonymous, limits: { maxRows: this.config.data.maxRows } };
      const input = { query: req.query, headers: req.headers };
      if (req.method === 'GET' || req.method === 'HEAD') {
        return await this.read(t, planRead(ctx, req.table, input));
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
      // Transaction-local, like the role: read by `auth.uid` column defaults, gone at COMMIT.
      const setUid = plan.kind === 'insert' && t.user !== null && pc.authUidTables.has(plan.table);
      const statements = setUid ? [{ text: SET_AUTH_UID, values: [t.user!.id] }, plan] : [plan];
      // Rule checks on written rows raise inside the statement; a single-object write that didn't touch exactly one
      // row is refused here, and must be rolled back, so then COMMIT waits for finishWrite's verdict.
      return await this.run<WriteRow, PostgrestResponse>(t, statements, (r) => finishWrite(plan, r.rows[0]), plan.single);
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
   * Runs the statements with the statement timeout of the org's plan and the caller (anonymous callers get the
   * shorter one). The plan is cached (the gateway's limits check has loaded it); it is read only when it isn't.
   */
  private run<R extends QueryResultRow, T>(
    t: TenantContext,
    statements: Array<{ text: string; values: unknown[] }>,
    finish: (r: QueryResult<R>) => T,
    confirm = false,
    plan: Plan | undefined = this.plans.cachedForOrg(t.project.orgId),
  ): Promise<T> {
    if (plan === undefined) return this.plans.forOrg(t.project.orgId).then((loaded) => this.run(t, statements, finish, confirm, loaded));
    const p = t.project;
    const target = { ref: p.ref, cluster: p.cluster, schema: p.schema, dataRole: p.dataRole };
    const timeout = statementTimeoutMs(plan, t.role === 'anon', this.config.data.statementTimeoutMs);
    return this.tenants.run(target, statements, finish, { confirm, statementTimeoutMs: timeout });
  }

  /** Any failure as PostgREST's `{code,message,details,hint}` with its status; 5xx are logged with an error id. */
  private failure(err: unknown, opts: { anonymous: boolean; schema: string; table: string }): WireException {
    let mapped = mapPgError(err, opts);
    if (mapped.status >= 500) {
      const errorId = randomUUID();
      this.logger.error({ err, errorId, code: mapped.code }, `data runtime failure ${errorId}`);
      mapped = new PostgrestError(mapped.status, mapped.code, mapped.message, `error id ${errorId}`, mapped.hint);
    }
    return new WireException(mapped.status, mapped.toJSON());
  }
}
