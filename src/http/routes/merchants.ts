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
import { CREDIT_SOURCES, type CreditFigureName } from '../../service/merchant-credit.ts';
import { BRIEFLY } from '../cache-control.ts';
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
/** A figure's description: what it is, then where it comes from (CREDIT_SOURCES). */
const from = (figure: CreditFigureName, what: string) => ({
  description: `${what}. Source: ${CREDIT_SOURCES[figure].en}.`,
});
const Share = (figure: CreditFigureName, what: string) =>
  Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], from(figure, what));
const Credit = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: MerchantStatus,
  suspended: Type.Boolean(from('suspended', 'whether the merchant is suspended')),
  verifiedSince: Type.Union([Type.String(), Type.Null()], from('verifiedSince', 'when it was verified')),
  suspendedSince: Type.Union([Type.String(), Type.Null()], from('suspended', 'when it was suspended')),
  evidence: Type.Array(
    Type.Object({ description: Type.String(), sha256: Type.String(), addedAt: Type.String() }),
    from('evidence', 'the admission evidence: descriptions and hashes only'),
  ),
  itemsIssued: Type.Integer(from('itemsIssued', 'items the merchant registered')),
  revoked: Type.Integer(from('revoked', 'items revoked')),
  revokedShare: Share('revoked', 'revoked / itemsIssued to 4 places (null when none was issued)'),
  refunded: Type.Integer(from('refunded', 'items refunded')),
  refundedShare: Share('refunded', 'refunded / itemsIssued to 4 places (null when none was issued)'),
  disputesOpened: Type.Integer(from('disputesOpened', 'disputes buyers opened on its items')),
  disputesLost: Type.Integer(from('disputesLost', 'disputes decided for the buyer')),
  disputesAnswered: Type.Integer(from('medianResponseSeconds', 'disputes the merchant answered')),
  medianResponseSeconds: Type.Union(
    [Type.Integer(), Type.Null()],
    from('medianResponseSeconds', 'median seconds to answer a dispute (null when none was answered)'),
  ),
  strikes: Type.Object(
    { count: Type.Integer(), dates: Type.Array(Type.String()) },
    from('strikes', 'how many strikes and when; never why'),
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
      onRequest: app.limits.verdict,
      schema: {
        tags: ['public'],
        summary: "A merchant's public profile: status, verification, strikes",
        description: 'Rate-limited with the verdict routes.',
        params: IdParams,
        response: { 200: Profile, ...errorResponses },
      },
    },
    async (request) => merchantProfile(ctx(), request.params.id),
  );

  app.get(
    '/v1/merchants/:id/profile',
    {
      onRequest: app.limits.verdict,
      schema: {
        tags: ['public'],
        summary:
          "A merchant's credit record: evidence, items, revoked and refunded shares, disputes, strikes",
        description:
          "Each figure's description says which data it derives from. Cached for a minute (Cache-Control), " +
          'rate-limited with the verdict routes. The page /m/:id shows the same.',
        params: IdParams,
        response: { 200: Credit, ...errorResponses },
      },
    },
    async (request, reply) => {
      const credit = await app.services.credit.get(ctx(), request.params.id);
      reply.header('cache-control', BRIEFLY);
      return credit;
    },
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
