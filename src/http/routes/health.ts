import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

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
      const { chain, confirmations, publicRpcUrl } = app.services;
      return {
        chainId: chain.chainId,
        contract: chain.contract,
        rpcUrl: publicRpcUrl,
        confirmations,
        nextBatchId: await chain.nextBatchId(),
      };
    },
  );
};
