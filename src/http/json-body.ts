/**
 * JSON bodies must be UTF-8. Node decodes stray bytes to U+FFFD, so a merchant's product name or
 * serial would be stored changed, silently, and anchored that way. The body is decoded strictly and
 * refused as 400 invalid_json when it is not UTF-8; then Fastify's own parser (which refuses
 * __proto__ and constructor keys) reads it.
 */
import type { FastifyInstance } from 'fastify';

export function installStrictJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      const err = Object.assign(new Error('the body is not valid UTF-8'), {
        statusCode: 400,
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      });
      done(err, undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
