/**
 * An error that already is its wire response, in a runtime's own dialect (GoTrue, PostgREST, …): the
 * exception filter sends its status, body and headers unchanged.
 */
export class WireException extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(`HTTP ${status}`);
    this.name = 'WireException';
  }
}
