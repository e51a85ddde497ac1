/**
 * How the API client's requests reach a service: fetch over HTTP by default; tests pass one over
 * Fastify's inject, so an in-process app needs no socket.
 */

export interface TransportRequest {
  method: string;
  /** Path and query string, starting with '/'. */
  path: string;
  headers: Record<string, string>;
  /** Already serialised; absent for a request without a body. */
  body?: string;
}

export interface TransportResponse {
  status: number;
  statusText: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Sends one request and resolves to whatever the service answered; rejects only when nothing was. */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;

/** How long one request may take over fetch unless the caller says otherwise. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A transport over the global fetch to `base` (no trailing slash). `timeoutMs` bounds each request,
 * body included; null leaves it unbounded (a benchmark's long seal). A failure to get an answer
 * rejects with fetch's own error.
 */
export function fetchTransport(base: string, opts: { timeoutMs?: number | null } = {}): Transport {
  const timeoutMs = opts.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : opts.timeoutMs;
  return async (request) => {
    const res = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      ...(timeoutMs !== null && { signal: AbortSignal.timeout(timeoutMs) }),
    });
    return {
      status: res.status,
      statusText: res.statusText,
      headers: Object.fromEntries(res.headers),
      body: new Uint8Array(await res.arrayBuffer()),
    };
  };
}
