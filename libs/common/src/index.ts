/** Domain errors with codes, and the one filter that maps them to HTTP. */
export { ErrorCode, ERROR_STATUS, PlinthException } from './plinth.exception';
export { PlinthExceptionFilter, renderException, standardError } from './exception.filter';
export type { ErrorBody, ErrorSite } from './exception.filter';
/** Errors that are their own wire response, in a runtime's dialect (GoTrue, PostgREST). */
export { WireException } from './wire.exception';
/** zod-based validation of bodies and queries, documented in OpenAPI from the same schema. */
export { ZodValidationPipe, ZodBody, ZodQuery, ApiZodBody, ApiZodResponse, ApiEndpoint, openApiSchema, openApiComponents, emptyBody } from './zod';
/** Customer-visible secrets: prefix + random + checksum; only hashes are stored. */
export { generateToken, isWellFormedToken, hashToken } from './secret-token';
/** Who/where a request came from, for auditing. */
/** Route params that are ids: malformed means not found. */
export { UuidParam } from './params';
/** Shared pieces of OpenAPI response schemas. */
export { apiTime, apiId } from './api-schemas';
export { ReqMeta, requestMetaOf } from './request-meta';
export type { RequestMeta } from './request-meta';
/** argon2id password hashing (OWASP setting, off the event loop); verification reads the setting from the hash. */
export { dummyHash, hashPassword, passwordNeedsRehash, verifyPassword, PASSWORD_HASH_PARAMS } from './password-hash';
/** Outbound connections to customer-chosen hosts (webhooks, SMTP), refusing non-public addresses in the socket's own lookup. */
export { connectOutbound, isPublicAddress, nonPublicHostReason, OutboundAddressError, outboundLookup, postJson } from './outbound-http';
export type { OutboundPolicy, OutboundResolver } from './outbound-http';
/** The time every job, meter, quota and bill uses (tests override the provider). */
export { Clock } from './clock';
/** The api's pino logging: root logger, request-bound loggers for Nest routes, Nest's LoggerService. */
export { AppLogging } from './app-logging';
