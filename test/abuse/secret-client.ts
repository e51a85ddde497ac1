/**
 * What the secret-abuse tests send over a real socket: a secret check through the API or the page's
 * form, from a chosen local address (any of 127.0.0.0/8 reaches the loopback interface) or with a
 * chosen X-Forwarded-For, and the answer classified as the attacker sees it.
 */
import { request, type IncomingHttpHeaders } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface From {
  /** The connection's source address (127.0.0.2, ...). */
  localAddress?: string;
  /** Sent as X-Forwarded-For, for an instance that trusts its proxy. */
  forwardedFor?: string;
}

/** One request on a fresh connection; the body is JSON (an object) or a urlencoded form (a string). */
export function send(
  baseUrl: string,
  method: string,
  path: string,
  body?: object | string,
  from: From = {},
): Promise<Answer> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (payload !== undefined) {
    headers['content-type'] =
      typeof body === 'string' ? 'application/x-www-form-urlencoded' : 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  if (from.forwardedFor) headers['x-forwarded-for'] = from.forwardedFor;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: url.pathname + url.search,
        headers,
        agent: false,
        ...(from.localAddress && { localAddress: from.localAddress }),
        signal: AbortSignal.timeout(30_000),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

/** A secret check through the JSON API. */
export const apiCheck = (baseUrl: string, recordId: string, secret: string, from?: From) =>
  send(baseUrl, 'POST', `/v1/verify/${recordId}/secret`, { secret }, from);

/** A secret check through the verification page's form. */
export const pageCheck = (baseUrl: string, recordId: string, secret: string, from?: From) =>
  send(baseUrl, 'POST', `/v/${recordId}/secret`, new URLSearchParams({ secret }).toString(), from);

export type Outcome = 'match' | 'no_match' | 'secret_attempts_exhausted' | 'rate_limited' | 'other';

/** What an answer told the attacker, on either route. */
export function outcomeOf(answer: Answer): Outcome {
  const html = String(answer.headers['content-type']).startsWith('text/html');
  if (answer.status === 200) {
    if (html) return answer.text.includes('<section class="result ok">') ? 'match' : 'no_match';
    return (JSON.parse(answer.text) as { match: boolean }).match ? 'match' : 'no_match';
  }
  if (answer.status === 429) {
    // The record's page (its verdict on <body>) for an exhausted record; a plain error page otherwise.
    if (html)
      return answer.text.includes('<body data-verdict=') ? 'secret_attempts_exhausted' : 'rate_limited';
    return (JSON.parse(answer.text) as { code: string }).code as Outcome;
  }
  return 'other';
}
