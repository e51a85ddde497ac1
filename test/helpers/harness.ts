/**
 * A whole proofmark instance for tests, on real parts: a database of the chosen backend, a Hardhat
 * network over JSON-RPC (its own embedded dev chain unless `rpc` names a shared one), the batcher and
 * the HTTP app, driven through Fastify's inject or a real port.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { admitMerchant } from '../../src/client/admit.ts';
import { ApiClient } from '../../src/client/client.ts';
import { buildApp } from '../../src/http/app.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { injectTransport, TEST_EVIDENCE } from './client.ts';
import { createTestDatabase, type Backend, type TestDatabase } from './databases.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface Harness {
  app: FastifyInstance;
  runtime: Runtime;
  database: TestDatabase;
  /** JSON request through inject; `token` becomes a bearer header. */
  call(
    method: string,
    url: string,
    opts?: { token?: string; body?: unknown },
  ): Promise<LightMyRequestResponse>;
  admin(method: string, url: string, body?: unknown): Promise<LightMyRequestResponse>;
  /** The typed API client through inject, holding `token` when given. */
  client(token?: string): ApiClient;
  /** A merchant admitted and verified through the API. */
  verifiedMerchant(name?: string): Promise<{ id: string; apiKey: string }>;
  /** Seals what is pending and waits until every batch is final. */
  sealAndWaitFinal(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  backend?: Backend;
  /** Reuse a database (several instances on one PostgreSQL database). */
  database?: TestDatabase;
  env?: Record<string, string>;
  /** Start the batcher loop (default true). */
  startBatcher?: boolean;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const database = opts.database ?? (await createTestDatabase(opts.backend ?? 'sqlite'));
  const env: Record<string, string> = {
    DATA_DIR: database.dataDir,
    ADMIN_TOKEN,
    DEV_CHAIN_PORT: '0',
    PORT: '0',
    PUBLIC_BASE_URL: 'http://proofmark.test',
    BATCH_MAX_AGE_MS: '3600000',
    CHAIN_POLL_MS: '50',
    LOG_LEVEL: 'silent',
    ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
    ...opts.env,
  };
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const runtime = await startRuntime(loadConfig(env), log);
  const app = await buildApp(runtime.services, { logger: log });
  await app.ready();
  if (opts.startBatcher !== false) runtime.services.batcher.start();

  const call: Harness['call'] = (method, url, o = {}) =>
    app.inject({
      method: method as 'GET',
      url,
      headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
      ...(o.body !== undefined ? { payload: o.body as object } : {}),
    });
  const admin: Harness['admin'] = (method, url, body) => call(method, url, { token: ADMIN_TOKEN, body });
  const client: Harness['client'] = (token) =>
    new ApiClient('app.inject', { transport: injectTransport(app), ...(token !== undefined && { token }) });

  return {
    app,
    runtime,
    database,
    call,
    admin,
    client,
    async verifiedMerchant(name = 'Test Merchant 测试商家') {
      const { id, apiKey } = await admitMerchant(client(ADMIN_TOKEN), { name }, TEST_EVIDENCE);
      return { id, apiKey };
    },
    async sealAndWaitFinal(timeoutMs = 30_000) {
      const sealed = await admin('POST', '/v1/admin/batches/seal');
      if (sealed.statusCode !== 200) throw new Error(`seal: ${sealed.body}`);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const open = await runtime.storage.db
          .selectFrom('batches')
          .select('id')
          .where('status', '!=', 'final')
          .execute();
        if (open.length === 0) return;
        if (Date.now() > deadline)
          throw new Error(`batches ${open.map((b) => b.id)} not final after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await app.close();
      await runtime.close();
      if (!opts.database) await database.drop();
    },
  };
}
