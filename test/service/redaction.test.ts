/**
 * Logs never carry secrets: a whole instance (runtime, batcher, HTTP app) logs at trace level,
 * with the server's redaction paths, into a stream the test reads; requests with bearer tokens and
 * records with secrets go through it, and none of the API keys, the admin token, the secrets or the
 * anchorer's key appear in what was logged.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { REDACT_PATHS } from '../../src/server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.ts';
import { ADMIN_TOKEN } from '../helpers/harness.ts';
import { recordBody, waitFor } from './support.ts';

describe('log redaction (sqlite)', () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, stream);
  let database: TestDatabase;
  let runtime: Runtime;
  let app: FastifyInstance;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    const config = loadConfig({
      DATA_DIR: database.dataDir,
      ADMIN_TOKEN,
      DEV_CHAIN_PORT: '0',
      PUBLIC_BASE_URL: 'http://proofmark.test',
      BATCH_MAX_AGE_MS: '3600000',
      CHAIN_POLL_MS: '50',
    });
    runtime = await startRuntime(config, log);
    app = await buildApp(runtime.services, { logger: log });
    await app.ready();
    runtime.services.batcher.start();
  });
  afterAll(async () => {
    await app?.close();
    await runtime?.close();
    await database?.drop();
  });

  const send = (method: string, url: string, token?: string, payload?: unknown) =>
    app.inject({
      method: method as 'POST',
      url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });

  it('keeps API keys, the admin token, secrets and the anchorer key out of the log', async () => {
    const created = await send('POST', '/v1/merchants', ADMIN_TOKEN, { name: 'Log Shop' });
    expect(created.statusCode).toBe(201);
    const { id, apiKey } = created.json();
    await send('POST', `/v1/merchants/${id}/verify`, ADMIN_TOKEN, {
      evidence: [{ description: 'letter', sha256: 'cd'.repeat(32) }],
    });
    const secret = 'XK7Q-PLM2-SECRET-0042';
    const reg = await send('POST', '/v1/records', apiKey, {
      records: [recordBody('log-1', { secret }), recordBody('log-2', { secret: `${secret}-b` })],
    });
    expect(reg.statusCode).toBe(201);
    const recordId = reg.json().records[0].id;
    expect((await send('POST', `/v1/verify/${recordId}/secret`, undefined, { secret })).json()).toEqual({
      match: true,
    });
    // Rejected requests with the same values: a bad body, a conflict, a wrong token.
    await send('POST', '/v1/records', apiKey, {
      records: [{ ...recordBody('log-3', { secret }), extra: secret }],
    });
    await send('POST', '/v1/records', apiKey, {
      records: [recordBody('log-1', { secret: `${secret}-other` })],
    });
    await send('POST', '/v1/records', `${apiKey}x`, { records: [recordBody('log-4', { secret })] });
    await send('POST', '/v1/records', undefined, `{"records": [{"secret": "${secret}"`);
    const rotated = (await send('POST', `/v1/merchants/${id}/keys`, ADMIN_TOKEN)).json();
    await send('POST', '/v1/admin/batches/seal', ADMIN_TOKEN);
    await waitFor(
      'the batch to be final',
      async () => (await send('GET', `/v1/verify/${recordId}`)).json().verdict === 'genuine',
    );

    // Something that names these fields outright is censored wherever the paths reach.
    log.info(
      {
        req: { headers: { authorization: `Bearer ${apiKey}` } },
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        apiKey,
        secret,
        adminToken: ADMIN_TOKEN,
        merchant: { apiKey: rotated.apiKey },
        record: { secret },
        chain: { anchorerKey: DEV_DEPLOYER_KEY },
        tx: { rawTx: `0x${DEV_DEPLOYER_KEY.slice(2)}` },
      },
      'explicit',
    );

    const text = lines.join('');
    // The log really captured the traffic and the batcher.
    expect(text).toContain('incoming request');
    expect(text).toContain('request completed');
    expect(text).toContain('batch final');
    expect(text).toContain(recordId);
    const explicit = JSON.parse(lines.find((l) => l.includes('"msg":"explicit"'))!);
    expect(explicit).toMatchObject({
      req: { headers: { authorization: '[redacted]' } },
      headers: { authorization: '[redacted]' },
      apiKey: '[redacted]',
      secret: '[redacted]',
      adminToken: '[redacted]',
      merchant: { apiKey: '[redacted]' },
      record: { secret: '[redacted]' },
      chain: { anchorerKey: '[redacted]' },
      tx: { rawTx: '[redacted]' },
    });
    for (const [what, value] of Object.entries({
      apiKey,
      rotatedKey: rotated.apiKey,
      adminToken: ADMIN_TOKEN,
      secret,
      anchorerKey: DEV_DEPLOYER_KEY.slice(2),
    })) {
      expect(text.includes(value), `${what} appears in the log`).toBe(false);
    }
  });
});
