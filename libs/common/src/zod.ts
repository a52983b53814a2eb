import { applyDecorators, ArgumentMetadata, Body, Injectable, PipeTransform, Query } from '@nestjs/common';
import { ApiBody } from '@nestjs/swagger';
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

/** Parameter decorator: the body, validated by `schema`, and documented in OpenAPI from the same schema. */
export function ZodBody(schema: z.ZodType): ParameterDecorator {
  return Body(new ZodValidationPipe(schema));
}

/** Method decorator that puts a zod schema into the OpenAPI document as the request body. */
export function ApiZodBody(schema: z.ZodType): MethodDecorator {
  // zod's JSON Schema output is structurally what OpenAPI 3.1 expects; the swagger typings are narrower.
  const jsonSchema = z.toJSONSchema(schema, { target: 'openapi-3.0', unrepresentable: 'any' }) as Record<string, unknown>;
  delete jsonSchema.$schema;
  return applyDecorators(ApiBody({ schema: jsonSchema }));
}

/** Parameter decorator: the query string, validated by `schema`. */
export function ZodQuery(schema: z.ZodType): ParameterDecorator {
  return Query(new ZodValidationPipe(schema));
}

/** A body must be a JSON object; used by schemas for endpoints that take no fields. */
export const emptyBody = z.object({}).strict();
