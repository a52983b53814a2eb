import { z } from 'zod';

/** Building blocks of response schemas in the OpenAPI document (see `ApiEndpoint`). */
export const apiTime = z.iso.datetime({ offset: true }).describe('ISO 8601 time');
export const apiId = z.uuid();
