/**
 * Webhook signing secrets never in the clear. A whole instance (runtime, batcher, delivery worker,
 * HTTP app, logging at trace level with the server's redaction paths) runs webhooks end to end: a
 * merchant's and the operator's endpoints registered, one rotated (so two secrets sign for a while),
 * item.final and strikes delivered to a real receiver that fails some attempts first, the delivery
 * log read, a message replayed, an endpoint deleted. Then every log line, every response, every
 * request the receiver got and the database (SQLite's files before and after a checkpoint; every
 * PostgreSQL row) are scanned for each secret, as text and as its key bytes in hex and base64. A
 * secret may appear only in the one response that issues it.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { REDACT_PATHS } from '../../src/server.ts';
import { openSecret } from '../../src/service/webhooks/signing.ts';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { recordBody } from '../helpers/records.ts';
import { databaseImage, findSecrets, type Secret } from '../helpers/secret-scan.ts';
import { waitFor } from '../helpers/wait.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';

const ADMIN_TOKEN = 'webhook-secrets-admin-token-0123456789';

describe.each(BACKENDS)('webhook secrets in the clear after a full run (%s)', (backend) => {
  let skip: string | null = null;
  let database: TestDatabase;
  let runtime: Runtime;
  let app: FastifyInstance;
  let receiver: Receiver;
  const logLines: string[] = [];
  const responses: Array<{ where: string; bytes: Buffer }> = [];
  const images: Array<{ where: string; bytes: Buffer }> = [];
  const secrets: Secret[] = [];

  /** A secret issued in a response: scanned for as text and as its key bytes. */
  function issued(what: string, secret: string): void {
    expect(secret).toMatch(/^whsec_/);
    secrets.push({ what, value: secret, kind: 'token' });
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    secrets.push({ what: `${what} (key bytes)`, value: key.toString('hex'), kind: 'key' });
  }

  /** Sends, checks the status, keeps headers and body for the scan with an issued secret blanked. */
  async function call(
    status: number,
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    token: string,
    json?: object,
  ) {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(json && { payload: json }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body.slice(0, 300)}`).toBe(status);
    let body = res.body;
    const secret = status === 201 ? (res.json() as { secret?: string }).secret : undefined;
    if (secret) {
      issued(`the secret issued by ${method} ${url}`, secret);
      body = body.replace(secret, '[the issued secret]');
    }
    const head = JSON.stringify(res.headers);
    responses.push({ where: `${status} ${method} ${url}`, bytes: Buffer.from(head + body) });
    return res.json();
  }

  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    database = await createTestDatabase(backend);
    const stream = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    const log = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
    runtime = await startRuntime(
      loadConfig({
        DATA_DIR: database.dataDir,
        ...(database.databaseUrl && { DATABASE_URL: database.databaseUrl }),
        ADMIN_TOKEN,
        DEV_CHAIN_PORT: '0',
        PUBLIC_BASE_URL: 'http://proofmark.test',
        BATCH_MAX_AGE_MS: '3600000',
        CHAIN_POLL_MS: '50',
        WEBHOOK_ALLOW_PRIVATE: 'true',
        WEBHOOK_POLL_MS: '50',
        WEBHOOK_RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms',
      }),
      log,
    );
    app = await buildApp(runtime.services, { logger: log });
    await app.ready();
    runtime.services.batcher.start();
    runtime.webhookWorker.start();
    receiver = await startReceiver(503);

    const merchant = await call(201, 'POST', '/v1/merchants', ADMIN_TOKEN, { name: 'Hooked Shop' });
    const shopKey = merchant.apiKey as string;
    await call(200, 'POST', `/v1/merchants/${merchant.id}/verify`, ADMIN_TOKEN, {
      evidence: [{ description: 'reseller letter', sha256: 'cd'.repeat(32) }],
    });
    const endpoints = '/v1/webhooks/endpoints';
    const operatorEndpoints = '/v1/admin/webhooks/endpoints';
    const shop = await call(201, 'POST', endpoints, shopKey, { url: receiver.url });
    const operator = await call(201, 'POST', operatorEndpoints, ADMIN_TOKEN, { url: receiver.url });
    const spare = await call(201, 'POST', endpoints, shopKey, {
      url: `${receiver.url}/spare`,
      eventTypes: ['dispute.opened'],
    });
    await call(201, 'POST', `${endpoints}/${shop.id}/secret`, shopKey);

    await call(201, 'POST', '/v1/records', shopKey, { records: [recordBody('hooked-1')] });
    await call(200, 'POST', '/v1/admin/batches/seal', ADMIN_TOKEN);
    await call(200, 'POST', `/v1/merchants/${merchant.id}/strikes`, ADMIN_TOKEN, { reason: 'late' });
    // Failed attempts first (logged as warnings with their errors), then deliveries.
    await receiver.until('some failed attempts', (r) => r.received.length >= 4);
    await receiver.setMode('ok');
    await waitFor('every delivery made', async () => {
      const page = await call(200, 'GET', `${endpoints}/${shop.id}/deliveries`, shopKey);
      const deliveries = page.deliveries as Array<{ status: string; messageId: string }>;
      return deliveries.length === 2 && deliveries.every((d) => d.status === 'delivered') && deliveries;
    });
    const deliveryLog = await call(200, 'GET', `${endpoints}/${shop.id}/deliveries`, shopKey);
    const final = (deliveryLog.deliveries as Array<{ eventType: string; messageId: string }>).find(
      (d) => d.eventType === 'item.final',
    )!.messageId;
    await call(202, 'POST', `${endpoints}/${shop.id}/deliveries/${final}/replay`, shopKey);
    await call(200, 'GET', `${operatorEndpoints}/${operator.id}/deliveries`, ADMIN_TOKEN);
    await call(200, 'GET', endpoints, shopKey);
    await call(200, 'GET', `${endpoints}/${shop.id}`, shopKey);
    await call(200, 'GET', operatorEndpoints, ADMIN_TOKEN);
    await call(200, 'DELETE', `${endpoints}/${spare.id}`, shopKey);
    await call(200, 'GET', '/v1/webhooks/event-types', ADMIN_TOKEN);
    await receiver.until(
      'the replay',
      (r) => r.received.filter((x) => x.answered === 200 && x.headers['webhook-id'] === final).length === 2,
    );

    await runtime.webhookWorker.stop();
    await runtime.services.batcher.stop();
    images.push(
      ...(await databaseImage(database, backend === 'sqlite' ? 'before a checkpoint' : 'after the run')),
    );
    if (backend === 'sqlite') {
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(runtime.storage.db);
      images.push(...(await databaseImage(database, 'after a checkpoint')));
    }
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    await app?.close();
    await runtime?.close();
    await database?.drop();
  });

  it('the run issued, rotated and used the secrets the scans look for', async (t) => {
    if (skip) return t.skip(skip);
    // Three endpoints and a rotation: four secrets, each as text and as key bytes.
    expect(secrets).toHaveLength(8);
    const log = logLines.join('');
    for (const expected of ['webhook attempt failed; will retry', 'webhook delivered', 'request completed']) {
      expect(log).toContain(expected);
    }
    // What the database keeps opens, with the server key, to the secret last issued for the endpoint.
    const [endpoint] = await runtime.storage.webhooks.endpoints('operator');
    const sealed = openSecret(runtime.services.ctx.keys, endpoint!.id, endpoint!.secret);
    expect(secrets.map((s) => s.value)).toContain(sealed);
    expect(images.some((i) => i.bytes.includes(endpoint!.secret))).toBe(true);
  });

  it('no log line carries a secret', async (t) => {
    if (skip) return t.skip(skip);
    const lines = logLines.map((line, i) => ({ where: `log line ${i + 1}`, bytes: Buffer.from(line) }));
    expect(findSecrets(secrets, lines)).toEqual([]);
  });

  it('no response, and no request the receiver got, carries a secret', async (t) => {
    if (skip) return t.skip(skip);
    expect(findSecrets(secrets, responses)).toEqual([]);
    const requests = receiver.received.map((r, i) => ({
      where: `webhook request ${i + 1}`,
      bytes: Buffer.from(JSON.stringify(r.headers) + r.body),
    }));
    expect(requests.length).toBeGreaterThan(6);
    expect(findSecrets(secrets, requests)).toEqual([]);
  });

  it('no database byte carries a secret', async (t) => {
    if (skip) return t.skip(skip);
    expect(images.length).toBeGreaterThan(0);
    expect(findSecrets(secrets, images)).toEqual([]);
  });
});
