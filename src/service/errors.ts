/**
 * Errors the service means to show to its caller: an HTTP status, a stable machine-readable code
 * and a plain message. Anything else that escapes is a 500 whose details stay in the log.
 */
export class ServiceError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** When the caller may try again, in seconds: sent as Retry-After. */
    readonly retryAfterSeconds?: number,
    /** Records of a registration refused one by one (409 duplicate_*): sent as `refused`. */
    readonly refused?: ReadonlyArray<{ externalId: string; code: string }>,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

export const badRequest = (code: string, message: string) => new ServiceError(400, code, message);
export const unauthorized = (message = 'missing or invalid bearer token') =>
  new ServiceError(401, 'unauthorized', message);
export const forbidden = (code: string, message: string) => new ServiceError(403, code, message);
export const notFound = (code: string, message: string) => new ServiceError(404, code, message);
export const conflict = (code: string, message: string) => new ServiceError(409, code, message);
