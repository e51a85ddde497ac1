import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { confirmationsNeeded } from '../../chain/bundle-check.ts';

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['meta'],
        summary: 'Liveness, and whether this instance leads the batcher',
        response: {
          200: Type.Object({
            status: Type.Literal('ok'),
            leader: Type.Boolean(),
            anchoringHalted: Type.Union([Type.String(), Type.Null()]),
            lastBatcherError: Type.Union([Type.String(), Type.Null()]),
            /** Present only while the node's safe/finalized block stands still past FINALITY_STALL_MS. */
            finalityStalled: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async () => {
      const status = app.services.batcher.status;
      return {
        status: 'ok' as const,
        leader: status.leader,
        anchoringHalted: status.halted,
        lastBatcherError: status.lastError,
        ...(status.finalityStalled !== null && { finalityStalled: status.finalityStalled }),
      };
    },
  );

  app.get(
    '/v1/chain',
    {
      schema: {
        tags: ['auditor'],
        summary: 'The chain and contract this service anchors to',
        response: {
          200: Type.Object({
            chainId: Type.Integer(),
            contract: Type.String(),
            rpcUrl: Type.Union([Type.String(), Type.Null()]),
            confirmations: Type.Integer(),
            nextBatchId: Type.Integer(),
          }),
        },
      },
    },
    async () => {
      const { chain, finality, publicRpcUrl } = app.services;
      return {
        chainId: chain.chainId,
        contract: chain.contract,
        rpcUrl: publicRpcUrl,
        confirmations: await confirmationsNeeded(chain, finality),
        nextBatchId: await chain.nextBatchId(),
      };
    },
  );
};
