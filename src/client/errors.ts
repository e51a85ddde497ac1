/** The one error the API client throws, whatever went wrong with a request. */

/**
 * A request that did not give the caller what it asked for. `status` is null when no answer came
 * (the service is unreachable, or the request timed out); otherwise it is the answer's HTTP status,
 * and `code` the API's machine-readable error code when the answer carried one. A 2xx status means
 * the answer came but could not be read (a body that is not JSON). The message is one line, fit to
 * show a user as it is.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    readonly status: number | null,
    readonly code: string | null,
    options?: { cause?: unknown },
    /** On 409 duplicate_secret / duplicate_serial: the records of the request refused, and why. */
    readonly refusedRecords: ReadonlyArray<{ externalId: string; code: string }> = [],
  ) {
    super(message, options);
  }
}

/** An ApiError for a request that got no answer: "cannot reach <base> (<method> <path>): <why>". */
export function unreachable(base: string, method: string, path: string, err: unknown): ApiError {
  return new ApiError(`cannot reach ${base} (${method} ${path}): ${reason(err)}`, method, path, null, null, {
    cause: err,
  });
}

/**
 * An ApiError for an answer with an error status: the API's own message and code when the body is
 * its error body `{statusCode, error, message, code}`, else the method, path and status.
 */
export function refused(
  method: string,
  path: string,
  status: number,
  statusText: string,
  bodyText: string,
): ApiError {
  const body = errorBody(bodyText);
  const code = typeof body?.code === 'string' ? body.code : null;
  if (body && typeof body.message === 'string') {
    const records = Array.isArray(body.refused) ? (body.refused as ApiError['refusedRecords']) : [];
    return new ApiError(
      `${body.message} (${body.code ?? `HTTP ${status}`})`,
      method,
      path,
      status,
      code,
      undefined,
      records,
    );
  }
  return new ApiError(
    `${method} ${path} failed: HTTP ${status} ${statusText}`.trim(),
    method,
    path,
    status,
    code,
  );
}

/** The body parsed as JSON when it is an object (an error body or something else), else null. */
function errorBody(text: string): { message?: unknown; code?: unknown; refused?: unknown } | null {
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === 'object' ? body : null;
  } catch {
    return null;
  }
}

/** fetch's "fetch failed" says nothing alone: its cause (ECONNREFUSED, a DNS failure) does. */
function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message === 'fetch failed' && err.cause instanceof Error)
    return `fetch failed: ${err.cause.message}`;
  return err.message;
}
