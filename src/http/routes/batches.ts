import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { requireAdmin } from '../auth.ts';
import { IMMUTABLE } from '../cache-control.ts';
import { anchorFields } from '../../service/anchor-view.ts';
import { badRequest } from '../../service/errors.ts';
import { batchLeaves, getBatch, listBatches } from '../../service/batches.ts';
import type { BatchRow } from '../../storage/rows.ts';
import { Batch, bearerAuth, errorResponses } from './schemas.ts';

const BatchParams = Type.Object({ id: Type.String({ pattern: '^[1-9][0-9]{0,14}$' }) });

function batchBody(b: BatchRow) {
  const anchor = anchorFields(b.status, { batchId: b.id, txHash: b.tx_hash, blockNumber: b.block_number });
  return {
    id: b.id,
    root: b.root,
    leafCount: b.leaf_count,
    status: b.status,
    sealedAt: b.sealed_at,
    txHash: anchor.txHash,
    blockNumber: anchor.blockNumber,
  };
}

export const batchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ctx = () => app.services.ctx;

  app.get(
    '/v1/batches',
    {
      schema: {
        tags: ['auditor'],
        summary: 'Batches in id order, paged by `after`',
        querystring: Type.Object(
          {
            after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
            limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ batches: Type.Array(Batch), next: Type.Union([Type.Integer(), Type.Null()]) }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const after = Number(request.query.after ?? 0);
      const limit = Number(request.query.limit ?? 100);
      if (limit < 1 || limit > 1000) throw badRequest('invalid_request', 'limit must be from 1 to 1000');
      const batches = await listBatches(ctx(), after, limit);
      return { batches: batches.map(batchBody), next: batches.length === limit ? batches.at(-1)!.id : null };
    },
  );

  app.get(
    '/v1/batches/:id',
    {
      schema: {
        tags: ['auditor'],
        summary: 'One batch',
        params: BatchParams,
        response: { 200: Batch, ...errorResponses },
      },
    },
    async (request) => batchBody(await getBatch(ctx(), Number(request.params.id))),
  );

  app.get(
    '/v1/batches/:id/leaves',
    {
      schema: {
        tags: ['auditor'],
        summary: "The batch's leaves, 32 bytes each, in tree order (application/octet-stream)",
        description:
          'Rebuild the root from these (docs/proof-format.md) and compare it with rootOf(id) on chain. ' +
          'Fixed once the batch is sealed: cacheable for a year.',
        params: BatchParams,
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const leaves = await batchLeaves(ctx(), Number(request.params.id));
      // Fixed at sealing: a batch's tree never changes, and a re-anchor sends the same root.
      reply.type('application/octet-stream').header('cache-control', IMMUTABLE);
      return leaves;
    },
  );

  app.post(
    '/v1/admin/batches/seal',
    {
      onRequest: requireAdmin,
      schema: {
        tags: ['operator'],
        summary: 'Seal everything pending now (anchoring follows in the background)',
        security: bearerAuth,
        response: { 200: Type.Object({ batches: Type.Array(Batch) }), ...errorResponses },
      },
    },
    async () => ({ batches: (await app.services.batcher.sealNow()).map(batchBody) }),
  );
};
