/**
 * The one error handler: every error leaves as JSON `{statusCode, error, message, code}`. Service
 * errors and client mistakes say what went wrong; a 5xx says only "internal error" and the details
 * go to the log.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ServiceError } from '../service/errors.ts';
import { TEXT_PATTERN } from './routes/schemas.ts';

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    code: Type.String({ description: 'stable machine-readable error code' }),
    refused: Type.Optional(
      Type.Array(Type.Object({ externalId: Type.String(), code: Type.String() }), {
        description:
          'on 409 duplicate_secret / duplicate_serial: every record of the request refused as a duplicate ' +
          '(its externalId and why); the request wrote nothing',
      }),
    ),
  },
  { $id: 'ErrorResponse' },
);

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_content_length',
};

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    let statusCode = err.statusCode ?? 500;
    let code: string;
    let message = err.message;
    let refused: ServiceError['refused'];
    if (err instanceof ServiceError) {
      code = err.code;
      refused = err.refused;
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
    } else if (err.validation) {
      statusCode = 400;
      code = 'invalid_request';
      message =
        `${err.validationContext ?? 'request'}${err.message.replace(/^(body|params|querystring|headers)/, '')}`
          // Said in words rather than as the regular expression.
          .replace(`must match pattern "${TEXT_PATTERN}"`, 'must not hold NUL or a lone UTF-16 surrogate');
    } else if (err.code && FASTIFY_CODES[err.code]) {
      code = FASTIFY_CODES[err.code]!;
      if (code === 'invalid_json') statusCode = 400;
    } else if (statusCode === 429) {
      code = 'rate_limited';
    } else if (statusCode < 500 && statusCode >= 400) {
      code = (err.code ?? 'bad_request').toLowerCase();
    } else {
      statusCode = 500;
      code = 'internal_error';
      message = 'internal error';
      request.log.error({ err }, 'request failed');
    }
    reply.status(statusCode).send({
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message,
      code,
      ...(refused && { refused }),
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
      code: 'route_not_found',
    });
  });
}

function errorBody(statusCode: number, code: string, message: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code };
}

/** The router's own refusals (Fastify's `frameworkErrors`), in the same shape as every other error. */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const [statusCode, code, message] =
    err.code === 'FST_ERR_BAD_URL'
      ? [400, 'invalid_url', 'the URL path is not valid percent-encoded UTF-8']
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? [414, 'uri_too_long', 'a path segment is longer than 100 characters']
        : [400, 'bad_request', err.message];
  void reply.status(statusCode).send(errorBody(statusCode, code, message));
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (Fastify's `clientErrorHandler`):
 * answered on the raw socket, then closed, in the same JSON shape.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [statusCode, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'request_timeout', 'the request took too long to arrive']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'the request line or headers exceed 16 KB']
        : [400, 'malformed_request', 'the request is not valid HTTP/1.1'];
  const body = JSON.stringify(errorBody(statusCode, code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
