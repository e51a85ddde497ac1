/**
 * QR codes for an item's verification page, to print on a card or show next to a licence key.
 * The code holds exactly verifyUrl(ctx, id) (PUBLIC_BASE_URL + "/v/" + id): byte mode, error
 * correction M, a 4-module quiet zone. The URL never changes, so the images cache for a long time.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import QRCode from 'qrcode';
import { verifyUrl } from '../../service/context.ts';
import { getRecord } from '../../service/records.ts';
import { errorResponses, IdParams } from './schemas.ts';

const QR_OPTIONS = { errorCorrectionLevel: 'M', margin: 4 } as const;
/** Pixels per module in the PNG: a typical 29-37 module code comes out at 230-300 px. */
const PNG_SCALE = 8;
const CACHE = 'public, max-age=31536000, immutable';

/** OpenAPI: a binary 200 of one media type (errors stay JSON). */
const binary = (mediaType: string, description: string) => ({
  description,
  content: { [mediaType]: { schema: { type: 'string', format: 'binary' } } },
});

export const qrRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ctx = () => app.services.ctx;

  /** The URL a record's code holds; 404 record_not_found for an unknown id. */
  async function urlFor(id: string): Promise<string> {
    const record = await getRecord(ctx(), id);
    return verifyUrl(ctx(), record.id);
  }

  app.get(
    '/v1/records/:id/qr.png',
    {
      schema: {
        tags: ['public'],
        summary: "A PNG QR code of the item's verification page URL (PUBLIC_BASE_URL/v/:id)",
        description: 'Error correction M, 4-module quiet zone, 8 px per module. Cacheable for a year.',
        params: IdParams,
        response: { 200: binary('image/png', 'the QR code as a PNG image'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const png = await QRCode.toBuffer(await urlFor(request.params.id), {
        ...QR_OPTIONS,
        type: 'png',
        scale: PNG_SCALE,
      });
      reply.type('image/png').header('cache-control', CACHE).header('x-content-type-options', 'nosniff');
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
        response: { 200: binary('image/svg+xml', 'the QR code as an SVG document'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const svg = await QRCode.toString(await urlFor(request.params.id), { ...QR_OPTIONS, type: 'svg' });
      reply
        .type('image/svg+xml; charset=utf-8')
        .header('cache-control', CACHE)
        .header('x-content-type-options', 'nosniff')
        // Opened on its own, the image may not run or load anything.
        .header('content-security-policy', "default-src 'none'");
      return Buffer.from(svg, 'utf8');
    },
  );
};
