/**
 * The operator's view of refused duplicates (service/uniqueness.ts): who tried to register a key or
 * serial that a live record already held, when, and which record held it. Never the secret or its
 * blind index value. Repeated duplicates from one merchant are evidence for a strike.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { badRequest } from '../../service/errors.ts';
import { duplicateRefusals } from '../../service/uniqueness.ts';
import { requireAdmin } from '../auth.ts';
import { bearerAuth, errorResponses, Id } from './schemas.ts';

export const DuplicateRefusal = Type.Object({
  at: Type.String(),
  merchantId: Type.String({ description: 'the merchant whose registration was refused' }),
  type: Type.Union([Type.Literal('secret'), Type.Literal('serial')]),
  externalId: Type.String({ description: "the refused record's externalId" }),
  existingRecordId: Type.Union([Type.String(), Type.Null()], {
    description: 'the record holding the key; null when the duplicate was within the refused request',
  }),
  existingMerchantId: Type.Union([Type.String(), Type.Null()]),
});

export const DuplicateRefusals = Type.Object({ refusals: Type.Array(DuplicateRefusal) });

export const duplicateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/admin/duplicates',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'Registrations refused as duplicates (duplicate_secret, duplicate_serial), newest first',
        description:
          'Each refused record once per refused request: when, which merchant, whether its key or its serial ' +
          'was already held, by which record and merchant. Never a secret or its blind index value.',
        security: bearerAuth,
        querystring: Type.Object(
          {
            merchant: Type.Optional(Id),
            limit: Type.Optional(
              Type.String({ pattern: '^[0-9]{1,4}$', description: '1 to 1000 (default 100)' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: DuplicateRefusals, ...errorResponses },
      },
    },
    async (request) => {
      const limit = Number(request.query.limit ?? 100);
      if (limit < 1 || limit > 1000) throw badRequest('invalid_request', 'limit must be from 1 to 1000');
      return { refusals: await duplicateRefusals(app.services.ctx, request.query.merchant ?? null, limit) };
    },
  );
};
