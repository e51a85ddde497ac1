/**
 * The anchoring backlog's guard on merchant writes (service/backlog.ts, service/merchant-backlog.ts):
 * 503 backlog_full before anything is read or written, and the count of events each write added.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from './services.ts';

export const BacklogFull = {
  $ref: 'ErrorResponse#',
  description:
    'backlog_full: too many events wait for anchoring; nothing was written, retry after Retry-After',
} as const;

/**
 * 503 backlog_full with a Retry-After, before the body is read and before anything is written, while
 * too many events wait for anchoring, overall or of this merchant (service/backlog.ts). A replay of
 * registered records is refused too: telling it apart would take the very database work the bound is
 * there to shed, and the replay succeeds on retry.
 */
export async function refuseWhileBacklogFull(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { backlog, merchantBacklog } = request.server.services;
  const refusal = (await merchantBacklog.refusal(request.merchant!.id)) ?? (await backlog.refusal());
  if (refusal) {
    reply.header('retry-after', String(backlog.retryAfterSeconds));
    throw refusal;
  }
}

/** Counts `events` a merchant's write added to the backlog, overall and as its own share. */
export function countAccepted(services: Services, merchantId: string, events: number): void {
  services.backlog.accepted(events);
  services.merchantBacklog.accepted(merchantId, events);
}
