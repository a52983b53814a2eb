import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { z } from 'zod';
import { accountSchema, createdPersonalTokenSchema, signupResultSchema } from '../../libs/identity/src/accounts/auth.responses';
import { auditLogSchema, memberSchema, orgSchema } from '../../libs/identity/src/orgs/orgs.responses';
import { apiKeySchema, createdApiKeySchema, createdProjectSchema, projectSchema, rotatedApiKeySchema } from '../../libs/tenancy/src/projects.responses';
import { tableSchema } from '../../libs/runtime-data/src/catalog/tables.responses';
import { authSettingsViewSchema } from '../../libs/runtime-auth/src/auth-settings.responses';
import { limitsViewSchema, orgUsageSchema, planSchema, projectUsageSchema } from '../../libs/quotas/src/usage.responses';
import { billingOverviewSchema } from '../../libs/billing/src/billing.responses';
import { functionSchema, functionSecretSchema, functionVersionSchema, functionWithSourceSchema } from '../../libs/runtime-functions/src/functions.responses';
import { deliveriesViewSchema, webhookViewSchema, webhookWithSecretSchema } from '../../libs/runtime-notifications/src/notifications.dto';
import { declareTable } from '../support/data';
import { bootTestApp, createProject, signup, TestApp, uniqueEmail } from '../support/test-app';

/**
 * The management API's OpenAPI document (`/docs.json`) is complete and valid, for every route Nest serves.
 *
 * The rule for controllers (README, Architecture, "Documenting a management endpoint"): every operation has
 * `@ApiEndpoint({ summary, description, status?, response })` from @plinth/common (a summary, a description, and
 * one 2xx answer with a zod schema; a 204 has none); bodies and query strings are read with `@ZodBody(schema)` /
 * `@ZodQuery(schema)`, which validate and document themselves. An endpoint that must not be documented (a webhook) says so with `@ApiExcludeEndpoint()`
 * and is listed in EXCLUDED below. This test walks Express's router, so a new controller is checked as soon as
 * it is mounted.
 */
type Operation = {
  summary?: string;
  description?: string;
  parameters?: Array<{ name: string; in: string; schema?: unknown; $ref?: string }>;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
};
type Doc = { paths: Record<string, Record<string, Operation>>; components?: Record<string, unknown> };

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** Routes Nest serves that are deliberately not in the document, with why. */
const EXCLUDED = new Set([
  'post /v1/billing/stripe/webhook', // Stripe's callback, signed by Stripe; not for API clients
  'post /v1/admin/projects/{ref}/move', // the operator's (OPERATOR_TOKEN), documented in docs/clusters.md; not customer API
]);

/**
 * Validates with @seriousme/openapi-schema-validator in a child Node process: the package is ESM only and uses
 * `import.meta`, which jest's CommonJS transform can't load.
 */
function validateOpenApi(doc: unknown): Promise<{ valid: boolean; errors: unknown }> {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    let text = '';
    process.stdin.on('data', (c) => (text += c));
    process.stdin.on('end', async () => {
      const r = await new Validator().validate(JSON.parse(text));
      process.stdout.write(JSON.stringify({ valid: r.valid, errors: r.errors ?? [] }));
    });`;
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: join(__dirname, '..', '..'), maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`validator failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as { valid: boolean; errors: unknown });
    });
    child.stdin!.end(JSON.stringify(doc));
  });
}

describe('OpenAPI document (/docs.json)', () => {
  let t: TestApp;
  let doc: Doc;
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => ({ key: `${m} ${path}`, op: item[m] })));

  beforeAll(async () => {
    t = await bootTestApp();
    const res = await t.http().get('/docs.json');
    expect(res.status).toBe(200);
    doc = res.body as Doc;
  });
  afterAll(() => t?.close());

  it('is a valid OpenAPI document (@seriousme/openapi-schema-validator)', async () => {
    const result = await validateOpenApi(doc);
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('has no $ref that points nowhere', () => {
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    const resolves = (ref: string) => {
      if (!ref.startsWith('#/')) return false;
      let at: unknown = doc;
      for (const part of ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
        if (!at || typeof at !== 'object' || !(part in at)) return false;
        at = (at as Record<string, unknown>)[part];
      }
      return true;
    };
    expect(refs.filter((r) => !resolves(r))).toEqual([]);
  });

  it('every operation has a summary, a description and a 2xx response with a schema (204: no body)', () => {
    const problems: string[] = [];
    for (const { key, op } of operations()) {
      if (!op.summary?.trim()) problems.push(`${key}: no summary`);
      if (!op.description?.trim()) problems.push(`${key}: no description`);
      const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
      if (!ok.length) problems.push(`${key}: no 2xx response`);
      for (const [status, r] of ok) {
        if (status === '204') continue;
        const schemas = Object.values(r.content ?? {}).map((c) => c.schema);
        if (!schemas.length || schemas.some((s) => !s)) problems.push(`${key}: ${status} without a schema`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents every route Nest serves (except the listed exclusions), so new controllers are held to the rule', () => {
    const app = t.app as NestExpressApplication;
    const express = app.getHttpAdapter().getInstance() as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
    type Layer = { route?: { path: string | string[]; methods: Record<string, boolean> } };
    const served = new Set<string>();
    for (const layer of (express.router ?? express._router)!.stack) {
      if (!layer.route) continue;
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) {
        // The document and its UI, and catch-alls (Nest's fallback), which aren't operations.
        if (p.startsWith('/docs') || p.includes('*')) continue;
        for (const [m, on] of Object.entries(layer.route.methods)) {
          if (on && m !== '_all') served.add(`${m} ${p.replace(/:(\w+)/g, '{$1}')}`);
        }
      }
    }
    const documented = new Set(operations().map((o) => o.key));
    expect([...served].filter((r) => !documented.has(r) && !EXCLUDED.has(r)).sort()).toEqual([]);
    expect(served.size).toBeGreaterThan(40);
  });

  it('lists the query parameters of list and usage endpoints', () => {
    const query = (path: string) => (doc.paths[path].get.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
    expect(query('/v1/projects/{ref}/usage')).toEqual(['from', 'granularity', 'meter', 'to']);
    expect(query('/v1/orgs/{orgId}/usage')).toEqual(['from', 'granularity', 'meter', 'to']);
    expect(query('/v1/orgs/{orgId}/audit-log')).toEqual(['before', 'limit']);
    const usageFrom = doc.paths['/v1/projects/{ref}/usage'].get.parameters!.find((p) => p.name === 'from')!;
    expect(usageFrom.schema).toMatchObject({ type: 'string' });
  });

  it('serves the UI at /docs and /docs/ (trailing slash), with every script and stylesheet it loads', async () => {
    for (const path of ['/docs', '/docs/']) {
      const ui = await t.http().get(path);
      expect(ui.status).toBe(200);
      expect(ui.headers['content-type']).toMatch(/text\/html/);
      expect(ui.text).toContain('swagger-ui');
      // Assets resolve against the page's own URL, as a browser does: with and without the slash.
      const assets = [...ui.text.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => new URL(m[1], `http://x${path}`).pathname);
      expect(assets.length).toBeGreaterThan(2);
      for (const asset of assets) {
        const res = await t.http().get(asset);
        if (res.status !== 200) throw new Error(`${path}: ${asset} → ${res.status}`);
      }
      // And the page's init script fetches the document (inline or by URL) that is served.
      const init = await t.http().get(new URL('swagger-ui-init.js', `http://x${path.endsWith('/') ? path : `${path}/`}`).pathname);
      expect(init.status).toBe(200);
    }
  });

  it('the documented response schemas describe what the endpoints answer', async () => {
    const check = (what: string, schema: z.ZodType, res: { status: number; body: unknown }) => {
      const r = schema.safeParse(res.body);
      if (!r.success) throw new Error(`${what} (${res.status}): ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    };
    check('signup', signupResultSchema, await t.http().post('/v1/auth/signup').send({ email: uniqueEmail('doc'), password: 'Corr3ct-Horse-Battery' }));
    const u = await signup(t, 'openapi');
    const http = (method: 'get' | 'post' | 'put', path: string, body?: object) => (body ? t.http()[method](path).set(u.auth).send(body) : t.http()[method](path).set(u.auth));
    check('me', accountSchema, await http('get', '/v1/me'));
    check('token', createdPersonalTokenSchema, await http('post', '/v1/me/tokens', { name: 'ci' }));
    check('org', orgSchema, await http('get', `/v1/orgs/${u.orgId}`));
    check('members', memberSchema.array(), await http('get', `/v1/orgs/${u.orgId}/members`));
    check('new project', createdProjectSchema, await http('post', `/v1/orgs/${u.orgId}/projects`, { name: 'documented' }));
    const p = await createProject(t, u, 'documented-2');
    check('project', projectSchema, await http('get', `/v1/projects/${p.ref}`));
    check('keys', apiKeySchema.array(), await http('get', `/v1/projects/${p.ref}/keys`));
    const key = await http('post', `/v1/projects/${p.ref}/keys`, { type: 'secret', name: 'doc' });
    check('new key', createdApiKeySchema, key);
    check('rotated key', rotatedApiKeySchema, await http('post', `/v1/projects/${p.ref}/keys/${key.body.id}/rotate`, {}));
    check('table', tableSchema, { status: 201, body: await declareTable(t, u, p, { name: 'docs', columns: [{ name: 'id', type: 'int8', primary_key: true, default: 'identity' }, { name: 'meta', type: 'jsonb', default: { value: { a: 1 } } }] }) });
    check('auth config', authSettingsViewSchema, await http('get', `/v1/projects/${p.ref}/auth/config`));
    check('usage', projectUsageSchema, await http('get', `/v1/projects/${p.ref}/usage?granularity=hour`));
    check('org usage', orgUsageSchema, await http('get', `/v1/orgs/${u.orgId}/usage`));
    check('limits', limitsViewSchema, await http('get', `/v1/projects/${p.ref}/limits`));
    check('plans', planSchema.array(), await http('get', '/v1/plans'));
    check('billing', billingOverviewSchema, await http('get', `/v1/orgs/${u.orgId}/billing`));
    check('audit log', auditLogSchema, await http('get', `/v1/orgs/${u.orgId}/audit-log?limit=5`));
    check('function secrets', functionSecretSchema.array(), await http('put', `/v1/projects/${p.ref}/functions/secrets`, { GREETING: 'hola' }));
    check('deployed function', functionSchema, await http('put', `/v1/projects/${p.ref}/functions/hello`, { source: 'export default { fetch() { return new Response("hi"); } };', language: 'js', cron: '*/5 * * * *' }));
    check('functions', functionSchema.array(), await http('get', `/v1/projects/${p.ref}/functions`));
    check('function', functionWithSourceSchema, await http('get', `/v1/projects/${p.ref}/functions/hello`));
    check('function versions', functionVersionSchema.array(), await http('get', `/v1/projects/${p.ref}/functions/hello/versions`));
    const hook = await http('post', `/v1/projects/${p.ref}/webhooks`, { url: 'https://example.com/hook', events: ['notification.sent'] });
    check('new webhook', webhookWithSecretSchema, hook);
    check('rotated webhook secret', webhookWithSecretSchema, await http('post', `/v1/projects/${p.ref}/webhooks/${hook.body.id}/rotate-secret`, {}));
    check('webhooks', webhookViewSchema.array(), await http('get', `/v1/projects/${p.ref}/webhooks`));
    check('deliveries', deliveriesViewSchema, await http('get', `/v1/projects/${p.ref}/notifications/deliveries`));
  });

  it('declares exactly one 2xx answer per operation', () => {
    const several = operations().filter(({ op }) => Object.keys(op.responses).filter((s) => /^2/.test(s)).length !== 1).map((o) => o.key);
    expect(several).toEqual([]);
  });
});
