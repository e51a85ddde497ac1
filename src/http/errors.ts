/**
 * The one error handler: every error leaves as JSON `{statusCode, error, message, code}`. Service
 * errors and client mistakes say what went wrong; a 5xx says only "internal error" and the details
 * go to the log.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ServiceError } from '../service/errors.ts';
import { TEXT_PATTERN } from './routes/schemas.ts';

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String(),
    code: Type.String({ description: 'stable machine-readable error code' }),
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
    if (err instanceof ServiceError) {
      code = err.code;
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
    reply.status(statusCode).send({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code });
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
