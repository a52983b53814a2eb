import type { operations } from './schema';

/**
 * Response shapes of the management API as the console reads them, taken from the generated OpenAPI types
 * (`schema.d.ts`, `npm run console:api`), so a change to a response shows up here as a type error.
 */
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : never;
/** The JSON body of an operation's success answer (200, else 201, else 202). */
export type Ok<O extends keyof operations> = operations[O]['responses'] extends { 200: infer A }
  ? JsonOf<A>
  : operations[O]['responses'] extends { 201: infer B }
    ? JsonOf<B>
    : operations[O]['responses'] extends { 202: infer C }
      ? JsonOf<C>
      : never;

export type User = Ok<'SessionController_me'>;
/** Sign-in and sign-up answers; with the session cookie there is no refresh token in the body. */
export type AuthResult = Omit<Ok<'AuthController_login'>, 'refresh_token' | 'token_type'> & { org?: { id: string; name: string } };
export type Org = Ok<'OrgsController_list'>[number];
export type Project = Ok<'ProjectsController_get'>;
export type CreatedProject = Ok<'ProjectsController_create'>;
export type ApiKey = Ok<'ProjectsController_listKeys'>[number];
export type CreatedKey = Ok<'ProjectsController_createKey'>;
export type Table = Ok<'TablesController_list'>[number];
export type Column = Table['columns'][number];
export type Rule = Table['rules'][number];
export type ProjectUsage = Ok<'UsageController_projectUsage'>;
export type MeterTotal = ProjectUsage['meters'][string];
export type Plan = Ok<'PlansController_list'>[number];
export type BillingOverview = Ok<'BillingController_overview'>;
export type Invoice = Ok<'BillingController_invoices'>[number];
export type Member = Ok<'OrgsController_members'>[number];
/** An org's invitation, or one of yours (which also names the org). */
export type Invitation = Ok<'OrgsController_invitations'>[number] & { org_name?: string };
export type AuditPage = Ok<'OrgsController_auditLog'>;
export type AuditEntry = AuditPage['entries'][number];
