/**
 * QR codes for an item's verification page, to print on a card or show next to a licence key.
 * The code holds exactly verifyUrl(ctx, id) (PUBLIC_BASE_URL + "/v/" + id): byte mode, error
 * correction M, a 4-module quiet zone. The URL never changes, so the images cache for a long time,
 * here too: a code is rendered once and kept, and new renders are held to QR_RENDERS_PER_SECOND
 * (503 qr_busy with Retry-After past it; see qr-budget.ts).
 */
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import QRCode from 'qrcode';
import { verifyUrl } from '../../service/context.ts';
import { ServiceError } from '../../service/errors.ts';
import { getRecord } from '../../service/records.ts';
import { IMMUTABLE } from '../cache-control.ts';
import { RenderBudget, RenderedCodes } from '../qr-budget.ts';
import { qrPng } from '../qr-png.ts';
import { errorResponses, IdParams } from './schemas.ts';

const QR_OPTIONS = { errorCorrectionLevel: 'M', margin: 4 } as const;
/** Pixels per module in the PNG: a typical 29-37 module code comes out at 230-300 px. */
const PNG_SCALE = 8;

const Busy = {
  $ref: 'ErrorResponse#',
  description: 'qr_busy: too many codes are being rendered at once; retry after Retry-After (1 s)',
} as const;

/** OpenAPI: a binary 200 of one media type (errors stay JSON). */
const binary = (mediaType: string, description: string) => ({
  description,
  content: { [mediaType]: { schema: { type: 'string', format: 'binary' } } },
});

export const qrRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ctx = () => app.services.ctx;

  const rendered = new RenderedCodes();
  const budget = new RenderBudget(app.services.qrRendersPerSecond);

  /**
   * Record `id`'s code in `format`: kept from an earlier render, or rendered now if the budget allows
   * (503 qr_busy with Retry-After if not); 404 record_not_found for an unknown id.
   */
  async function codeFor(
    id: string,
    format: 'png' | 'svg',
    render: (url: string) => Promise<Buffer>,
    reply: FastifyReply,
  ): Promise<Buffer> {
    const key = `${format}:${id}`;
    const kept = rendered.get(key);
    if (kept) return kept;
    const record = await getRecord(ctx(), id);
    if (!budget.take()) {
      reply.header('retry-after', '1');
      throw new ServiceError(503, 'qr_busy', 'too many QR codes are being rendered; retry in a second');
    }
    const code = await render(verifyUrl(ctx(), record.id));
    rendered.set(key, code);
    return code;
  }

  app.get(
    '/v1/records/:id/qr.png',
    {
      schema: {
        tags: ['public'],
        summary: "A PNG QR code of the item's verification page URL (PUBLIC_BASE_URL/v/:id)",
        description: 'Error correction M, 4-module quiet zone, 8 px per module. Cacheable for a year.',
        params: IdParams,
        response: { 200: binary('image/png', 'the QR code as a PNG image'), ...errorResponses, 503: Busy },
      },
    },
    async (request, reply) => {
      const png = await codeFor(
        request.params.id,
        'png',
        async (url) => qrPng(url, { ...QR_OPTIONS, scale: PNG_SCALE }),
        reply,
      );
      reply.type('image/png').header('cache-control', IMMUTABLE).header('x-content-type-options', 'nosniff');
      return png;
    },
  );

  app.get(
    '/v1/records/:id/qr.svg',
    {
      schema: {
        tags: ['public'],
        summary: "An SVG QR code of the item's verification page URL (PUBLIC_BASE_URL/v/:id)",
        description:
          'Error correction M, 4-module quiet zone; scales to any print size. Cacheable for a year.',
        params: IdParams,
        response: {
          200: binary('image/svg+xml', 'the QR code as an SVG document'),
          ...errorResponses,
          503: Busy,
        },
      },
    },
    async (request, reply) => {
      const svg = await codeFor(
        request.params.id,
        'svg',
        async (url) => Buffer.from(await QRCode.toString(url, { ...QR_OPTIONS, type: 'svg' }), 'utf8'),
        reply,
      );
      reply
        .type('image/svg+xml; charset=utf-8')
        .header('cache-control', IMMUTABLE)
        .header('x-content-type-options', 'nosniff')
        // Opened on its own, the image may not run or load anything.
        .header('content-security-policy', "default-src 'none'");
      return svg;
    },
  );
};
