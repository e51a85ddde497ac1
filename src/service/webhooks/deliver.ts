/**
 * One attempt to deliver a webhook: a POST of the signed body, bounded by a timeout, to an address
 * the address policy allows (address-policy.ts), never following a redirect. It reports what
 * happened and never throws: the worker turns the result into the next step.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  forbiddenAddress,
  forbiddenTarget,
  ForbiddenTargetError,
  guardedLookup,
  hostOf,
} from './address-policy.ts';

export interface AttemptResult {
  /** The HTTP status answered; null when none came. */
  statusCode: number | null;
  /** Why the attempt failed, for the delivery log; null when it succeeded. */
  error: string | null;
  latencyMs: number;
}

export interface PostOptions {
  timeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: skip the address policy. */
  allowPrivate: boolean;
}

const USER_AGENT = 'proofmark-webhooks/1';

/** A 2xx answer is a delivery; anything else, or none within the timeout, is a failure to retry. */
export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: PostOptions,
): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const target = new URL(url);
    const host = hostOf(target);
    if (!opts.allowPrivate && isIP(host) && forbiddenAddress(host)) {
      throw forbiddenTarget(host, host);
    }
    const statusCode = await post(target, headers, body, opts);
    const ok = statusCode >= 200 && statusCode < 300;
    return { statusCode, error: ok ? null : `answered HTTP ${statusCode}`, latencyMs: elapsed() };
  } catch (err) {
    return { statusCode: null, error: describe(err, opts.timeoutMs), latencyMs: elapsed() };
  }
}

/** Resolves to the status of the answer once its headers arrive; its body is read and dropped. */
function post(
  target: URL,
  headers: Record<string, string>,
  body: string,
  opts: PostOptions,
): Promise<number> {
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': USER_AGENT,
      },
      // A fresh connection per attempt: a pooled socket would skip the address check of a new lookup.
      agent: false,
      ...(!opts.allowPrivate && { lookup: guardedLookup }),
    });
    // The whole exchange, body included, is bounded: a receiver that streams forever is cut off.
    const timer = setTimeout(() => req.destroy(new TimeoutError()), opts.timeoutMs);
    req.once('close', () => clearTimeout(timer));
    req.once('response', (res: IncomingMessage) => {
      res.on('error', () => {});
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end(body);
  });
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** A line for the delivery log: what went wrong, without a stack. */
function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof TimeoutError) return `no answer within ${timeoutMs} ms`;
  if (err instanceof ForbiddenTargetError) return `refused: ${err.message}`;
  const code = (err as NodeJS.ErrnoException).code;
  const message = err instanceof Error ? err.message : String(err);
  return (code && !message.includes(code) ? `${code}: ${message}` : message).slice(0, 500);
}
