import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Hex } from '../../core/index.ts';
import { verifyBundleOnChain } from '../../chain/bundle-check.ts';
import { eventAnchor } from '../../service/anchor-view.ts';
import { freshnessOf, type FreshnessField } from '../../service/freshness.ts';
import { SecretAttemptsExhausted } from '../../service/secret-attempts.ts';
import { checkSecret } from '../../service/secrets.ts';
import { UNIQUENESS } from '../../service/uniqueness.ts';
import { verdictFor, VERDICTS, type Verdict } from '../../service/verdicts.ts';
import { clientGroup } from '../client-address.ts';
import { errorResponses, IdParams, TextField } from './schemas.ts';

/** On every answer of a secret check of a record with a secret: wrong secrets it still takes this window. */
const TRIES_HEADER = 'x-secret-tries-remaining';

const FreshnessSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('current'), Type.Literal('superseded'), Type.Literal('unconfirmed')]),
    asOfBatch: Type.Union([Type.Integer(), Type.Null()]),
    latestSeq: Type.Optional(Type.Integer()),
    ended: Type.Optional(Type.Boolean()),
    reason: Type.Optional(Type.String()),
  },
  {
    description:
      "Whether the event (the issuance, for GET /v1/verify/:id) is still the record's latest state as of the latest batch whose state root is anchored; check it yourself with `proofmark verify --api`",
  },
);

const VerdictSchema = Type.Object({
  verdict: Type.Union(VERDICTS.map((v) => Type.Literal(v))),
  recordId: Type.String(),
  reason: Type.String(),
  record: Type.Optional(
    Type.Object({
      kind: Type.String(),
      sku: Type.String(),
      productName: Type.String(),
      serial: Type.String(),
      state: Type.String(),
      hasSecret: Type.Boolean(),
    }),
  ),
  merchant: Type.Optional(Type.Object({ id: Type.String(), name: Type.String(), status: Type.String() })),
  issuance: Type.Optional(
    Type.Object({
      status: Type.String(),
      batchId: Type.Union([Type.Integer(), Type.Null()]),
      txHash: Type.Union([Type.String(), Type.Null()]),
      blockNumber: Type.Union([Type.Integer(), Type.Null()]),
    }),
  ),
  scans: Type.Optional(
    Type.Object({
      count: Type.Integer(),
      firstAt: Type.Union([Type.String(), Type.Null()]),
      suspicious: Type.Boolean(),
    }),
  ),
  freshness: Type.Optional(FreshnessSchema),
  uniqueness: Type.Optional(
    Type.Union(
      UNIQUENESS.map((u) => Type.Literal(u)),
      {
        description:
          "the service's statement about the item's key: registered-once (no other live record on this " +
          'platform holds this key or PIN, from any merchant); no-secret (the record has none); not-covered ' +
          '(registered before the platform-wide index existed, so nothing is said)',
      },
    ),
  ),
  reissueOf: Type.Optional(
    Type.Union([Type.String(), Type.Null()], {
      description:
        'the id of the ended (refunded or revoked) record of the same merchant that this one re-issues',
    }),
  ),
});

/** The verdict as the API returns it (the page renders the richer Verdict itself). */
export function verdictBody(v: Verdict, freshness?: FreshnessField) {
  const { issuance } = v;
  return {
    verdict: v.verdict,
    recordId: v.recordId,
    reason: v.reason,
    ...(v.record && {
      record: {
        kind: v.record.kind,
        sku: v.record.sku,
        productName: v.record.product_name,
        serial: v.record.serial,
        state: v.record.state,
        hasSecret: v.record.secret_commitment !== null,
      },
    }),
    ...(v.merchant && { merchant: { id: v.merchant.id, name: v.merchant.name, status: v.merchant.status } }),
    ...(issuance && { issuance: eventAnchor(issuance) }),
    ...(v.scans && { scans: v.scans }),
    ...(freshness && { freshness }),
    ...(v.uniqueness && { uniqueness: v.uniqueness, reissueOf: v.reissueOf ?? null }),
  };
}

export const verifyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/v1/verify/:id',
    {
      onRequest: app.limits.verdict,
      schema: {
        tags: ['public'],
        summary:
          'The verdict for an item: genuine, pending, revoked, merchant_suspended, not_found (404) or invalid',
        description:
          'Counts a scan: `scans.count` is how many distinct networks (IPv4 /24, IPv6 /64) opened the code, ' +
          'each once per SCAN_WINDOW_DAYS, so repeats from one network add nothing; HEAD, prefetches and link ' +
          'previews never count. Many networks mean the code may have been copied (`suspicious`).',
        params: IdParams,
        response: {
          200: VerdictSchema,
          404: VerdictSchema,
          400: { $ref: 'ErrorResponse#' },
          429: { $ref: 'ErrorResponse#' },
        },
      },
    },
    async (request, reply) => {
      const { ctx, chain, log } = app.services;
      const verdict = await verdictFor(ctx, chain, log, request.params.id, { scan: request });
      if (verdict.verdict === 'not_found') reply.status(404);
      const { issuance } = verdict;
      if (!issuance || issuance.batch_id === null) return verdictBody(verdict);
      const freshness = await freshnessOf(ctx, {
        recordId: issuance.record_id,
        seq: issuance.seq,
        leaf: issuance.leaf as Hex,
      });
      return verdictBody(verdict, freshness);
    },
  );

  app.post(
    '/v1/verify/:id/secret',
    {
      config: {
        rateLimit: {
          max: app.services.rateLimits.secretPerMinute,
          timeWindow: '1 minute',
          keyGenerator: clientGroup,
        },
      },
      schema: {
        tags: ['public'],
        summary: "Check a licence key or card PIN against the record's commitment (rate-limited)",
        description:
          `Limited per client address (an IPv6 client's /64) and per record: a record takes a few wrong secrets ` +
          `per window from everyone together, then answers 429 secret_attempts_exhausted with Retry-After, ` +
          `whatever the secret. A right secret costs no try. The ${TRIES_HEADER} header says how many wrong ` +
          `secrets the record still takes. A blank secret is 400 secret_empty.`,
        params: IdParams,
        body: Type.Object(
          { secret: TextField({ minLength: 1, maxLength: 500 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ match: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      try {
        const { match, tries } = await checkSecret(app.services.ctx, request.params.id, request.body.secret);
        if (tries) reply.header(TRIES_HEADER, String(tries.left));
        return { match };
      } catch (err) {
        if (err instanceof SecretAttemptsExhausted) reply.header(TRIES_HEADER, '0');
        throw err;
      }
    },
  );

  app.post(
    '/v1/verify',
    {
      onRequest: app.limits.verdict,
      schema: {
        tags: ['public', 'auditor'],
        summary: 'Verify any proofmark.bundle.v1 against the chain',
        description:
          'At most five RPC calls whatever the bundle claims: its anchor.blockNumber is a hint that is checked, never a range to scan.',
        body: Type.Unknown({ description: 'a proofmark.bundle.v1 object' }),
        response: {
          200: Type.Object({
            valid: Type.Boolean(),
            failure: Type.Optional(Type.String()),
            reason: Type.Optional(Type.String()),
            freshness: Type.Optional(FreshnessSchema),
            confirmations: Type.Optional(
              Type.Integer({
                description:
                  "blocks deep the anchor is: exact when it is in the bundle's block or the latest 5,000, else the confirmations required (a lower bound)",
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { chain, finality, ctx } = app.services;
      const result = await verifyBundleOnChain(chain, request.body, finality);
      if (!result.valid) return { valid: false, failure: result.failure, reason: result.reason };
      const { recordId, seq, leaf } = result.bundle;
      const freshness = await freshnessOf(ctx, { recordId, seq, leaf });
      return { valid: true, confirmations: result.confirmations, freshness };
    },
  );
};
