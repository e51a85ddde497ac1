import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requireAdmin } from '../auth.ts';
import {
  createMerchant,
  merchantProfile,
  merchantStrikes,
  rotateKey,
  strikeMerchant,
  verifyMerchant,
} from '../../service/merchants.ts';
import { bearerAuth, errorResponses, IdParams, TextField } from './schemas.ts';

const MerchantStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('verified'),
  Type.Literal('suspended'),
]);
const Profile = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: MerchantStatus,
  createdAt: Type.String(),
  verifiedSince: Type.Union([Type.String(), Type.Null()]),
  suspendedSince: Type.Union([Type.String(), Type.Null()]),
  strikes: Type.Array(Type.Object({ number: Type.Integer(), at: Type.String() }), {
    description: 'how many strikes and when; the reasons are for the operator only',
  }),
  evidence: Type.Array(
    Type.Object({ description: Type.String(), sha256: Type.String(), addedAt: Type.String() }),
  ),
});
const Strikes = Type.Object({
  merchantId: Type.String(),
  strikes: Type.Array(Type.Object({ number: Type.Integer(), reason: Type.String(), at: Type.String() })),
});
const NewKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: MerchantStatus,
  apiKey: Type.String(),
});

export const merchantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ctx = () => app.services.ctx;

  app.post(
    '/v1/merchants',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'Admit a merchant (pending until verified); its API key is shown once',
        description:
          'The name must be one the verification page can show as it is (400 unsafe_text or blank_text for control, ' +
          "bidi or invisible characters, or no visible one) and must not read the same as another merchant's " +
          '(409 merchant_name_taken: compared after NFKC, case folding and Unicode confusable skeletons).',
        security: bearerAuth,
        body: Type.Object(
          {
            name: TextField({ minLength: 1, maxLength: 200 }),
            contactEmail: Type.Optional(
              Type.String({
                maxLength: 254,
                pattern: '^[^@\\s\\u0000\\ud800-\\udfff]+@[^@\\s\\u0000\\ud800-\\udfff]+$',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: NewKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { merchant, apiKey } = await createMerchant(ctx(), request.body);
      reply.status(201);
      return { id: merchant.id, name: merchant.name, status: merchant.status, apiKey };
    },
  );

  app.get(
    '/v1/merchants/:id',
    {
      schema: {
        tags: ['public'],
        summary: "A merchant's public profile: status, verification, strikes",
        params: IdParams,
        response: { 200: Profile, ...errorResponses },
      },
    },
    async (request) => merchantProfile(ctx(), request.params.id),
  );

  app.post(
    '/v1/merchants/:id/verify',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: "Record evidence of the merchant's authorisation and mark it verified",
        security: bearerAuth,
        params: IdParams,
        body: Type.Object(
          {
            evidence: Type.Array(
              Type.Object(
                {
                  description: TextField({ minLength: 1, maxLength: 500 }),
                  sha256: Type.String({ pattern: '^[0-9a-fA-F]{64}$' }),
                },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 20 },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Profile, ...errorResponses },
      },
    },
    async (request) => verifyMerchant(ctx(), request.params.id, request.body.evidence),
  );

  app.post(
    '/v1/merchants/:id/strikes',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'Strike a merchant: the first is a warning, the second suspends it',
        security: bearerAuth,
        params: IdParams,
        body: Type.Object(
          { reason: TextField({ minLength: 1, maxLength: 1000 }) },
          { additionalProperties: false },
        ),
        response: { 200: Profile, ...errorResponses },
      },
    },
    async (request) => strikeMerchant(ctx(), request.params.id, request.body.reason),
  );

  app.get(
    '/v1/merchants/:id/strikes',
    {
      preHandler: requireAdmin,
      schema: {
        tags: ['operator'],
        summary:
          "A merchant's strikes with their reasons (the public profile shows only their number and date)",
        security: bearerAuth,
        params: IdParams,
        response: { 200: Strikes, ...errorResponses },
      },
    },
    async (request) => merchantStrikes(ctx(), request.params.id),
  );

  app.post(
    '/v1/merchants/:id/keys',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: "Rotate a merchant's API key: a new key (shown once); the old ones stop working",
        security: bearerAuth,
        params: IdParams,
        response: { 201: NewKey, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { merchant, apiKey } = await rotateKey(ctx(), request.params.id);
      reply.status(201);
      return { id: merchant.id, name: merchant.name, status: merchant.status, apiKey };
    },
  );
};
