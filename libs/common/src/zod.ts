import { applyDecorators, ArgumentMetadata, Body, Injectable, PipeTransform, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiResponse } from '@nestjs/swagger';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ErrorCode, PlinthException } from './plinth.exception';

/** Validates a value with a zod schema; failures are a 400 listing every problem by path. */
@Injectable()
export class ZodValidationPipe<T extends z.ZodType> implements PipeTransform {
  constructor(private readonly schema: T) {}

  transform(value: unknown, metadata: ArgumentMetadata): z.infer<T> {
    // No parsed body at all: none was sent, or not as JSON (a text or other body isn't parsed). Say what is expected
    // rather than zod's "expected object, received undefined".
    if (value === undefined && metadata.type === 'body' && !this.schema.safeParse(undefined).success) {
      throw new PlinthException(ErrorCode.ValidationFailed, 'Request is invalid: expected a JSON body (Content-Type: application/json)', [
        { path: '', message: 'expected a JSON body (Content-Type: application/json)' },
      ]);
    }
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    throw new PlinthException(
      ErrorCode.ValidationFailed,
      'Request is invalid: ' +
        result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; '),
      result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
}

/**
 * Shared schemas of the OpenAPI document (`components.schemas`): recursive zod schemas (a JSON value) can't be
 * inlined, so their definitions land here, named by content, and the api adds them to the document it builds.
 * Filled as decorators are evaluated, i.e. when controllers are imported.
 */
const components = new Map<string, unknown>();

/** The component schemas {@link openApiSchema} hoisted, for `document.components.schemas`. */
export function openApiComponents(): Record<string, unknown> {
  return Object.fromEntries(components);
}

/**
 * A zod schema as OpenAPI 3.0 JSON Schema. Recursive parts become `#/components/schemas/…` references (see
 * {@link openApiComponents}); everything else is inline.
 */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  // zod's JSON Schema output is structurally what OpenAPI expects; the swagger typings are narrower.
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', unrepresentable: 'any', io, reused: 'inline', cycles: 'ref' }) as Record<string, unknown>;
  delete json.$schema;
  const defs = (json.definitions ?? {}) as Record<string, unknown>;
  delete json.definitions;
  if (!Object.keys(defs).length) return json;
  // Name each definition by its content (same schema → same component), then point the references at them.
  const names = new Map<string, string>();
  for (const [id, def] of Object.entries(defs)) {
    const digest = createHash('sha256').update(JSON.stringify(def)).digest('hex').slice(0, 10);
    names.set(`#/definitions/${id}`, id.startsWith('__') ? `Schema_${digest}` : id);
  }
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' && names.has(x) ? `#/components/schemas/${names.get(x)!}` : rewrite(x)]));
  };
  for (const [id, def] of Object.entries(defs)) components.set(names.get(`#/definitions/${id}`)!, rewrite(def));
  return rewrite(json) as Record<string, unknown>;
}

/** Applies a method decorator from a parameter decorator (parameter decorators run first, on the same method). */
function onMethod(decorator: MethodDecorator, target: object, key: string | symbol | undefined): void {
  if (key === undefined) return;
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor) decorator(target, key, descriptor);
}

/** @nestjs/swagger's metadata key for documented parameters (its DECORATORS.API_PARAMETERS, not exported). */
const API_PARAMETERS = 'swagger/apiParameters';
const hasDocumentedBody = (method: unknown) =>
  ((Reflect.getMetadata(API_PARAMETERS, method as object) as Array<{ in?: string }> | undefined) ?? []).some((p) => p.in === 'body');

/** Parameter decorator: the body, validated by `schema`, and documented in OpenAPI from the same schema. */
export function ZodBody(schema: z.ZodType): ParameterDecorator {
  const body = Body(new ZodValidationPipe(schema));
  return (target, key, index) => {
    body(target, key, index);
    onMethod(ApiBody({ schema: openApiSchema(schema) }), target, key);
  };
}

/**
 * Method decorator that puts a zod schema into the OpenAPI document as the request body. {@link ZodBody} does it
 * already; this stays for bodies read some other way, and adds nothing where ZodBody documented the body.
 */
export function ApiZodBody(schema: z.ZodType): MethodDecorator {
  return (target, key, descriptor) => {
    if (hasDocumentedBody(descriptor.value)) return;
    ApiBody({ schema: openApiSchema(schema) })(target, key, descriptor);
  };
}

/** Parameter decorator: the query string, validated by `schema` (an object), and each field documented as a query parameter. */
export function ZodQuery(schema: z.ZodType): ParameterDecorator {
  const query = Query(new ZodValidationPipe(schema));
  const json = openApiSchema(schema);
  const properties = (json.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((json.required ?? []) as string[]);
  const params = Object.entries(properties).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return ApiQuery({ name, required: required.has(name), schema: rest, description: typeof description === 'string' ? description : undefined });
  });
  return (target, key, index) => {
    query(target, key, index);
    for (const p of params) onMethod(p, target, key);
  };
}

/** Method decorator: a response of `status` whose JSON body `schema` describes (the 2xx answer of a management endpoint). */
export function ApiZodResponse(status: number, schema: z.ZodType, description = 'OK'): MethodDecorator {
  return ApiResponse({ status, description, schema: openApiSchema(schema, 'output') });
}

/**
 * Method decorator documenting a management endpoint, as every controller method must (test/e2e/openapi.e2e-spec.ts
 * checks the document): a one-line summary, a description, and the 2xx answer: `status` (200 unless given) with
 * the JSON `response` schema; a 204 has no body, so no schema.
 */
export function ApiEndpoint(o: { summary: string; description: string; status?: number; response?: z.ZodType; responseDescription?: string }): MethodDecorator {
  const status = o.status ?? 200;
  const decorators = [ApiOperation({ summary: o.summary, description: o.description })];
  if (status === 204) decorators.push(ApiResponse({ status, description: o.responseDescription ?? 'Done; no content' }));
  else if (o.response) decorators.push(ApiZodResponse(status, o.response, o.responseDescription));
  return applyDecorators(...decorators);
}

/** A body must be a JSON object; used by schemas for endpoints that take no fields. */
export const emptyBody = z.object({}).strict();
