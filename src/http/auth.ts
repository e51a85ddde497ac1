/** Bearer-token checks: the operator's ADMIN_TOKEN and merchants' API keys. */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { unauthorized } from '../service/errors.ts';
import { authenticateMerchant } from '../service/merchants.ts';
import { sha256Hex } from '../service/random.ts';

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw unauthorized();
  return match[1]!;
}

export async function requireAdmin(request: FastifyRequest): Promise<void> {
  const given = Buffer.from(sha256Hex(bearer(request)), 'hex');
  const expected = Buffer.from(request.server.services.adminTokenHash, 'hex');
  if (!timingSafeEqual(given, expected)) throw unauthorized('invalid admin token');
}

/**
 * The admin token, or METRICS_TOKEN when one is set: a scraper's credential that opens /metrics and
 * nothing else.
 */
export async function requireMetricsReader(request: FastifyRequest): Promise<void> {
  const given = Buffer.from(sha256Hex(bearer(request)), 'hex');
  const { adminTokenHash, metricsTokenHash } = request.server.services;
  const matches = (hash: string) => timingSafeEqual(given, Buffer.from(hash, 'hex'));
  if (!matches(adminTokenHash) && !(metricsTokenHash !== null && matches(metricsTokenHash))) {
    throw unauthorized('invalid admin or metrics token');
  }
}

export async function requireMerchant(request: FastifyRequest): Promise<void> {
  request.merchant = await authenticateMerchant(request.server.services.ctx, bearer(request));
}
