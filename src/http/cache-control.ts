/**
 * How long an answer may be reused, said on every response. Most answers change: a verdict turns
 * from pending to genuine, or to revoked when a merchant is suspended; a record gains events; a batch
 * moves towards final and, after a reorg deeper than CONFIRMATIONS, back again (so even a final
 * bundle's anchor may change); scan counts grow. All of them are `no-store`, errors included (a 404
 * now may be a 200 in a minute, a 429 is for this moment). Only what can never change is cached:
 * the QR code of a record id (it holds PUBLIC_BASE_URL/v/<id>) and the leaves of a sealed batch (the
 * tree is fixed at sealing; a re-anchor sends the same root). docs/operations.md has the table.
 */
import type { FastifyInstance } from 'fastify';

/** Never store: the next request may get another answer. */
export const NO_STORE = 'no-store';
/**
 * A merchant's public credit record (GET /v1/merchants/:id/profile, /m/:id): figures over a whole
 * merchant that move slowly, so a minute's staleness is harmless and a cache in front absorbs the
 * aggregate queries behind them.
 */
export const BRIEFLY = 'public, max-age=60';
/** Fixed for good: any cache may keep it for a year and need not ask again. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Every answer without a Cache-Control of its own gets `no-store`. */
export function noStoreByDefault(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', NO_STORE);
  });
}
