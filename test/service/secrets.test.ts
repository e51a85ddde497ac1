/**
 * Secrets never in the clear. A whole instance (runtime, batcher, HTTP app, logging at trace level
 * with the server's redaction paths) goes through a full run: merchants admitted, verified, warned,
 * suspended, keys rotated; licences, card PINs and account passwords registered; lifecycle events;
 * key checks right and wrong through the API and the page form; a batch sealed, anchored and final;
 * refused calls with wrong, rotated-out, suspended and misplaced credentials; 4xx bodies carrying
 * secrets; and a 5xx with a secret in flight. Then it scans everything the run left behind: every log
 * line, every response body and header, and the database (the SQLite file with its -wal and -shm as
 * raw bytes before and after a checkpoint and after close; on PostgreSQL every row of every table as
 * JSON), for each secret in UTF-8 and, for keys and tokens, in hex and base64 too. The only place a
 * secret may appear is the one response that issues an API key. The server key (SECRET_KEY), its
 * salt subkey and every salt derived from it count as secrets too: none may reach the database or a
 * log, or a copy of the database could test guesses. A secret sent in a query string, where a
 * careless client may put one, must not reach the log either: the request log shows paths only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { DEV_DEPLOYER_KEY } from '../../src/chain/dev-chain.ts';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { startRuntime, type Runtime } from '../../src/runtime.ts';
import { logOptions } from '../../src/server.ts';
import { sweepAfterSale } from '../../src/service/after-sale/sweep.ts';
import { derivedSalt } from '../../src/service/secrets.ts';
import { ServerKey } from '../../src/service/server-key.ts';
import { BACKENDS, createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { recordBody } from '../helpers/records.ts';
import { findSecrets, type Secret } from '../helpers/secret-scan.ts';
import { waitFor } from '../helpers/wait.ts';

/** A distinctive random value per run, so a hit cannot be a coincidence. */
const random = (prefix: string) => `${prefix}${randomBytes(12).toString('hex').toUpperCase()}`;
const randomDigits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');

describe.each(BACKENDS)('secrets in the clear after a full run (%s)', (backend) => {
  let skip: string | null = null;
  let database: TestDatabase;
  let runtime: Runtime;
  let app: FastifyInstance;
  const logLines: string[] = [];
  /** Every response the run received, headers and body; an issued key replaced by a marker. */
  const responses: Array<{ where: string; bytes: Buffer }> = [];
  /** The database at several moments: raw files on SQLite, every row on PostgreSQL. */
  const images: Array<{ where: string; bytes: Buffer }> = [];

  const adminToken = random('adm_');
  const serverKey = randomBytes(32);
  const keys = ServerKey.fromBytes(serverKey);
  const canary = random('PUBLIC-CANARY-');
  const secrets: Secret[] = [
    { what: 'admin token', value: adminToken, kind: 'token' },
    { what: 'anchorer key', value: DEV_DEPLOYER_KEY, kind: 'key' },
    { what: 'server key', value: serverKey.toString('hex'), kind: 'key' },
    { what: 'secret-salt subkey', value: keys.subkey('secret-salt').toString('hex'), kind: 'key' },
    { what: 'stored-salt subkey', value: keys.subkey('stored-salt').toString('hex'), kind: 'key' },
    { what: 'secret in a query string', value: random('QUERY-'), kind: 'text' },
    { what: 'licence key', value: `${random('LIC-')}-VK7JG`, kind: 'text' },
    { what: 'second licence key', value: random('LIC2-'), kind: 'text' },
    { what: 'card PIN', value: randomDigits(20), kind: 'text' },
    { what: 'account password', value: `pw-${random('')}-秘密`, kind: 'text' },
    { what: 'wrong guess', value: random('GUESS-'), kind: 'text' },
    { what: 'secret of a refused registration', value: random('REFUSED-'), kind: 'text' },
    { what: 'secret in a broken body', value: random('BROKEN-'), kind: 'text' },
    { what: 'secret in flight at a 5xx', value: random('INFLIGHT-'), kind: 'text' },
    { what: 'sealed-delivery subkey', value: keys.subkey('sealed-delivery').toString('hex'), kind: 'key' },
    { what: 'sealed secret', value: random('SEALED-'), kind: 'text' },
  ];
  /** The test clock: real time plus an offset the run moves past the sealed delivery's TTL. */
  let clockOffsetMs = 0;
  /** The sealed secret as stored, encrypted: it must be gone from every image after its expiry. */
  let sealedCipher = '';
  const secret = (what: string) => secrets.find((s) => s.what === what)!.value;
  /** API keys join the list as the run issues them. */
  const issued = (what: string, value: string) => secrets.push({ what, value, kind: 'token' });

  type Options = Pick<InjectOptions, 'headers' | 'payload'> & {
    token?: string;
    json?: unknown;
    form?: string;
  };
  /** Sends, checks the status, and keeps the response's headers and body for the scan. */
  async function call(
    status: number,
    where: string,
    method: 'GET' | 'POST',
    url: string,
    opts: Options = {},
  ) {
    const { token, json, form, headers, payload } = opts;
    const res = await app.inject({
      method,
      url,
      headers: {
        ...headers,
        ...(token !== undefined && { authorization: `Bearer ${token}` }),
        ...(form !== undefined && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      payload: form ?? (json as object | undefined) ?? payload,
    });
    expect(res.statusCode, `${where}: ${res.body.slice(0, 300)}`).toBe(status);
    let body = res.rawPayload;
    // The one response that may carry a key is the one that issues it: exactly that key, once.
    if (status === 201 && /^\/v1\/merchants(\/[^/]+\/keys)?$/.test(url)) {
      const { apiKey } = res.json();
      issued(`the key issued by ${where}`, apiKey);
      body = Buffer.from(res.body.replace(apiKey, '[the issued key]'));
    }
    // The sealed sale issues the reveal link, and the reveal shows the secret: only there, each once.
    if (status === 201 && url.endsWith('/sealed-sale')) {
      const token = (res.json().revealUrl as string).split('/r/')[1]!;
      issued('the reveal token', token);
      body = Buffer.from(res.body.replace(token, '[the reveal token]'));
    }
    if (status === 200 && method === 'POST' && url.startsWith('/v1/reveal/')) {
      body = Buffer.from(res.body.replace(secret('sealed secret'), '[the revealed secret]'));
    }
    const head = Buffer.from(JSON.stringify(res.headers));
    responses.push({ where: `${where}: ${status} ${method} ${url}`, bytes: Buffer.concat([head, body]) });
    return res;
  }
  const admin = (status: number, where: string, url: string, json?: unknown) =>
    call(status, where, 'POST', url, { token: adminToken, json });

  /** The files in DATA_DIR (the SQLite file, -wal, -shm) as raw bytes, or every row on PostgreSQL. */
  async function takeImage(moment: string): Promise<void> {
    if (backend === 'sqlite') {
      for (const file of readdirSync(database.dataDir)) {
        images.push({ where: `${file} ${moment}`, bytes: readFileSync(join(database.dataDir, file)) });
      }
      return;
    }
    const client = new pg.Client({ connectionString: database.databaseUrl });
    await client.connect();
    try {
      const { rows: tables } = await client.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
      );
      expect(tables.map((t) => t.name)).toContain('records');
      for (const { name } of tables) {
        const table = client.escapeIdentifier(name);
        const { rows } = await client.query<{ row: string }>(
          `SELECT row_to_json(t)::text AS row FROM ${table} t`,
        );
        images.push({
          where: `table ${name} ${moment}`,
          bytes: Buffer.from(rows.map((r) => r.row).join('\n')),
        });
      }
    } finally {
      await client.end();
    }
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
    const log = pino(logOptions('trace'), stream);
    runtime = await startRuntime(
      loadConfig({
        DATA_DIR: database.dataDir,
        ...(database.databaseUrl && { DATABASE_URL: database.databaseUrl }),
        ADMIN_TOKEN: adminToken,
        SECRET_KEY: serverKey.toString('hex'),
        DEV_CHAIN_PORT: '0',
        PUBLIC_BASE_URL: 'http://proofmark.test',
        BATCH_MAX_AGE_MS: '3600000',
        CHAIN_POLL_MS: '50',
      }),
      log,
      () => new Date(Date.now() + clockOffsetMs),
    );
    app = await buildApp(runtime.services, { logger: log });
    await app.ready();
    runtime.services.batcher.start();

    // Merchants: one verified whose key is rotated, one warned, one suspended, one never verified.
    const merchant = async (name: string, verify = true) => {
      const { id, apiKey } = (await admin(201, name, '/v1/merchants', { name })).json();
      const evidence = [{ description: 'reseller letter', sha256: 'cd'.repeat(32) }];
      if (verify) await admin(200, `verify ${name}`, `/v1/merchants/${id}/verify`, { evidence });
      return { id: id as string, apiKey: apiKey as string };
    };
    const shop = await merchant('Shop');
    const warned = await merchant('Warned');
    const struck = await merchant('Struck');
    const pending = await merchant('Pending', false);
    await admin(200, 'warn', `/v1/merchants/${warned.id}/strikes`, { reason: 'late delivery' });
    await admin(200, 'strike', `/v1/merchants/${struck.id}/strikes`, { reason: 'copied codes' });
    await admin(200, 'suspend', `/v1/merchants/${struck.id}/strikes`, { reason: 'copied codes again' });
    const shopKey: string = (await admin(201, 'rotate', `/v1/merchants/${shop.id}/keys`)).json().apiKey;

    // Records with secrets, their lifecycles, and an idempotent replay with the secret.
    const card = (secretValue: string) =>
      recordBody('card-1', { kind: 'card', sku: 'STEAM-100', secret: secretValue });
    const records = [
      recordBody('licence-1', { secret: secret('licence key'), metadata: { note: canary } }),
      recordBody('licence-2', { secret: secret('second licence key') }),
      card(secret('card PIN')),
      recordBody('account-1', { kind: 'account', sku: 'GAME-ACC', secret: secret('account password') }),
    ];
    const registered = await call(201, 'register', 'POST', '/v1/records', {
      token: shopKey,
      json: { records },
    });
    const [licenceId, licence2Id, cardId, accountId] = registered
      .json()
      .records.map((r: { id: string }) => r.id as string);
    for (const id of [licenceId, licence2Id, cardId, accountId]) {
      secrets.push({ what: `the salt of record ${id}`, value: derivedSalt(keys, id!), kind: 'key' });
    }
    for (const [id, type] of [
      [licenceId, 'sold'],
      [licenceId, 'activated'],
      [accountId, 'transferred'],
      [cardId, 'sold'],
      [cardId, 'refunded'],
      [licence2Id, 'revoked'],
    ]) {
      await call(201, type!, 'POST', `/v1/records/${id}/events`, { token: shopKey, json: { type } });
    }
    // Sealed delivery: the secret sealed, revealed twice, a dispute opened with the reveal link.
    const sealedId: string = (
      await call(201, 'register sealed', 'POST', '/v1/records', {
        token: shopKey,
        json: { records: [recordBody('sealed-1', { secret: secret('sealed secret') })] },
      })
    ).json().records[0].id;
    secrets.push({ what: 'the salt of the sealed record', value: derivedSalt(keys, sealedId), kind: 'key' });
    const sale = await call(201, 'sealed sale', 'POST', `/v1/records/${sealedId}/sealed-sale`, {
      token: shopKey,
      json: { secret: secret('sealed secret') },
    });
    const revealToken = (sale.json().revealUrl as string).split('/r/')[1]!;
    await call(200, 'reveal state', 'GET', `/v1/reveal/${revealToken}`);
    for (const first of [true, false]) {
      const shown = await call(200, 'reveal', 'POST', `/v1/reveal/${revealToken}`);
      expect(shown.json()).toMatchObject({ secret: secret('sealed secret'), first });
    }
    await call(201, 'dispute', 'POST', `/v1/records/${sealedId}/disputes`, {
      json: { reason: 'already_used', description: 'used', revealToken },
    });
    await call(403, 'dispute with a wrong secret', 'POST', `/v1/records/${sealedId}/disputes`, {
      json: { reason: 'already_used', description: 'used', secret: secret('wrong guess') },
    });
    sealedCipher = (await runtime.storage.afterSale.sealedOf(sealedId))!.sealed_secret!;
    // Past the TTL the sweep deletes it; the link no longer opens anything.
    clockOffsetMs += 73 * 3_600_000;
    expect((await sweepAfterSale(runtime.services.ctx)).purged).toBe(1);
    expect((await runtime.storage.afterSale.sealedOf(sealedId))!.sealed_secret).toBeNull();
    await call(410, 'reveal after expiry', 'POST', `/v1/reveal/${revealToken}`);
    clockOffsetMs = 0;

    await call(200, 'replay', 'POST', '/v1/records', {
      token: shopKey,
      json: { records: [card(secret('card PIN'))] },
    });

    // Key checks, right and wrong, through the API and the page form.
    const check = async (id: string, guess: string, match: boolean) => {
      const api = await call(200, 'check', 'POST', `/v1/verify/${id}/secret`, { json: { secret: guess } });
      expect(api.json()).toEqual({ match });
      const form = new URLSearchParams({ secret: guess }).toString();
      await call(200, 'page check', 'POST', `/v/${id}/secret`, { form });
    };
    await check(licenceId!, secret('licence key'), true);
    await check(licenceId!, secret('wrong guess'), false);
    await check(cardId!, secret('card PIN'), true);
    await check(accountId!, secret('account password'), true);
    await call(400, 'empty page check', 'POST', `/v/${licenceId}/secret`, { form: '' });

    // A secret in the query string, where no route reads it: the log must show the path only.
    const query = `?secret=${encodeURIComponent(secret('secret in a query string'))}`;
    await call(200, 'query on the page', 'GET', `/v/${cardId}${query}`);
    await call(200, 'query on a verdict', 'GET', `/v1/verify/${cardId}${query}`);
    await call(200, 'query on a check', 'POST', `/v1/verify/${cardId}/secret${query}`, {
      json: { secret: secret('card PIN') },
    });

    // Refused: unknown, rotated-out, suspended, pending and misplaced credentials, each with a secret.
    const refused = {
      records: [recordBody('refused-1', { secret: secret('secret of a refused registration') })],
    };
    for (const [status, where, authorization] of [
      [401, 'no token', undefined],
      [401, 'unknown key', `Bearer pmk_${randomBytes(24).toString('base64url')}`],
      [401, 'rotated-out key', `Bearer ${shop.apiKey}`],
      [401, 'suspended key', `Bearer ${struck.apiKey}`],
      [403, 'pending key', `Bearer ${pending.apiKey}`],
      [401, 'admin token as a merchant key', `Bearer ${adminToken}`],
      [401, 'basic auth', `Basic ${Buffer.from(`shop:${shopKey}`).toString('base64')}`],
      [401, 'key and junk', `Bearer ${shopKey} ${adminToken}`],
    ] as const) {
      const headers = authorization ? { authorization } : {};
      await call(status, where, 'POST', '/v1/records', { headers, json: refused });
    }
    await call(401, 'merchant key as admin', 'POST', '/v1/admin/batches/seal', { token: shopKey });
    const sold = { type: 'sold' };
    await call(403, 'rival', 'POST', `/v1/records/${licenceId}/events`, { token: warned.apiKey, json: sold });

    // 4xx bodies carrying secrets: unknown field, conflicting replay, too long, broken JSON.
    const broken = secret('secret in a broken body');
    const asJson = { 'content-type': 'application/json' };
    const body = (...list: object[]) => JSON.stringify({ records: list });
    for (const [status, where, payload] of [
      [400, 'unknown field', body({ ...recordBody('bad-1', { secret: broken }), pin: broken })],
      [409, 'conflicting secret', body({ ...records[0], secret: broken })],
      [400, 'too long', body(recordBody('bad-2', { secret: broken.repeat(30) }))],
      [400, 'broken JSON', `{"records": [{"secret": "${broken}"}] ,, "x": "${broken}"}`],
      [400, 'truncated JSON', `{"records": [{"secret": "${broken}"`],
    ] as const) {
      await call(status, where, 'POST', '/v1/records', { token: shopKey, headers: asJson, payload });
    }
    const brokenCheck = `{"secret": "${broken}",}`;
    await call(400, 'broken check', 'POST', `/v1/verify/${licenceId}/secret`, {
      headers: asJson,
      payload: brokenCheck,
    });
    await call(413, 'page check too long', 'POST', `/v/${licenceId}/secret`, {
      form: `secret=${broken.repeat(30)}`,
    });

    // Sealed, anchored, final; then everything a consumer or an auditor reads.
    await admin(200, 'seal', '/v1/admin/batches/seal');
    await waitFor('the batch to be final', async () => {
      const res = await app.inject({ method: 'GET', url: `/v1/verify/${licenceId}` });
      return res.json().issuance?.status === 'final';
    });
    const batchId = (await app.inject({ method: 'GET', url: '/v1/batches' })).json().batches[0].id;
    for (const url of [
      `/v1/verify/${licenceId}`,
      `/v1/records/${licenceId}`,
      `/v1/records/${cardId}/proofs`,
      `/v1/records/${accountId}/qr.svg`,
      `/v/${licenceId}`,
      `/v/${cardId}`,
      `/v1/merchants/${shop.id}`,
      `/v1/merchants/${struck.id}`,
      '/v1/batches',
      `/v1/batches/${batchId}`,
      `/v1/batches/${batchId}/leaves`,
      '/v1/chain',
      '/healthz',
      '/openapi.json',
    ]) {
      await call(200, 'read', 'GET', url);
    }
    const proofs = await call(200, 'proofs', 'GET', `/v1/records/${licenceId}/proofs`);
    const bundle = proofs.json().bundles[0];
    expect((await call(200, 'bundle', 'POST', '/v1/verify', { json: bundle })).json()).toMatchObject({
      valid: true,
    });

    // Something that names these fields outright is censored wherever the paths reach.
    log.info(
      {
        req: { headers: { authorization: `Bearer ${shopKey}` } },
        headers: { authorization: `Bearer ${adminToken}` },
        apiKey: shopKey,
        secret: secret('licence key'),
        adminToken,
        merchant: { apiKey: shop.apiKey },
        record: { secret: secret('card PIN') },
        chain: { anchorerKey: DEV_DEPLOYER_KEY, privateKey: DEV_DEPLOYER_KEY },
        tx: { rawTx: `0x${DEV_DEPLOYER_KEY.slice(2)}` },
      },
      'explicit',
    );

    // The database now; on SQLite before and after a checkpoint (recent pages live in the -wal).
    await runtime.services.batcher.stop();
    await runtime.services.ctx.scans.flush();
    const wal = join(database.dataDir, 'proofmark.sqlite-wal');
    if (backend === 'sqlite') expect(readFileSync(wal).length).toBeGreaterThan(0);
    await takeImage(backend === 'sqlite' ? 'before a checkpoint' : 'after the run');
    if (backend === 'sqlite') {
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(runtime.storage.db);
      await takeImage('after a checkpoint');
    }

    // A 5xx with a secret in flight: the database closes under the running app.
    await runtime.storage.db.destroy();
    const inflight = secret('secret in flight at a 5xx');
    const late = { records: [recordBody('late', { secret: inflight })] };
    await call(500, '5xx register', 'POST', '/v1/records', { token: shopKey, json: late });
    await call(500, '5xx check', 'POST', `/v1/verify/${licenceId}/secret`, { json: { secret: inflight } });
    await call(500, '5xx page check', 'POST', `/v/${licenceId}/secret`, { form: `secret=${inflight}` });
    if (backend === 'sqlite') expect(existsSync(wal)).toBe(false);
    await takeImage('after close');
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    // The database is already closed; closing it again may complain.
    await runtime?.close().catch(() => {});
    await database?.drop();
  });

  it('the run went through the logs, the responses and the database the scans read', async (t) => {
    if (skip) return t.skip(skip);
    const log = logLines.join('');
    for (const expected of ['incoming request', 'request completed', 'batch final', 'request failed']) {
      expect(log).toContain(expected);
    }
    expect(secrets.filter((s) => s.what.startsWith('the key issued by'))).toHaveLength(5);
    expect(responses.length).toBeGreaterThan(60);
    expect(responses.filter((r) => r.where.startsWith('5xx'))).toHaveLength(3);
    // A public value registered beside the secrets is found in every image, so the scan reads them.
    const withCanary = images.filter((i) => i.bytes.includes(canary)).map((i) => i.where);
    if (backend === 'sqlite') {
      expect(withCanary).toEqual(
        expect.arrayContaining([
          'proofmark.sqlite-wal before a checkpoint',
          'proofmark.sqlite after a checkpoint',
          'proofmark.sqlite after close',
        ]),
      );
      expect(images.map((i) => i.where)).toContain('proofmark.sqlite-shm before a checkpoint');
    } else {
      expect(withCanary).toEqual(
        expect.arrayContaining(['table records after the run', 'table records after close']),
      );
    }
  });

  it('the request log shows the path of a request that had a query string, without the query', async (t) => {
    if (skip) return t.skip(skip);
    const requests = logLines
      .map((line) => JSON.parse(line) as { msg?: string; req?: { url?: string } })
      .filter((l) => l.msg === 'incoming request');
    const urls = requests.map((l) => l.req?.url ?? '');
    expect(urls.filter((u) => /^\/v\/[\w-]+$/.test(u)).length).toBeGreaterThan(0);
    expect(urls.filter((u) => /^\/v1\/verify\/[\w-]+\/secret$/.test(u)).length).toBeGreaterThan(0);
    expect(urls.filter((u) => u.includes('?'))).toEqual([]);
  });

  it('no log line carries a secret, and fields named for secrets are censored', async (t) => {
    if (skip) return t.skip(skip);
    const explicit = JSON.parse(logLines.find((l) => l.includes('"msg":"explicit"'))!);
    expect(explicit).toMatchObject({
      req: { headers: { authorization: '[redacted]' } },
      headers: { authorization: '[redacted]' },
      apiKey: '[redacted]',
      secret: '[redacted]',
      adminToken: '[redacted]',
      merchant: { apiKey: '[redacted]' },
      record: { secret: '[redacted]' },
      chain: { anchorerKey: '[redacted]', privateKey: '[redacted]' },
      tx: { rawTx: '[redacted]' },
    });
    const lines = logLines.map((line, i) => ({ where: `log line ${i + 1}`, bytes: Buffer.from(line) }));
    expect(findSecrets(secrets, lines)).toEqual([]);
  });

  it('the sealed secret, encrypted, is gone from every database image after its expiry', async (t) => {
    if (skip) return t.skip(skip);
    expect(sealedCipher).toMatch(/^v1\./);
    expect(images.filter((i) => i.bytes.includes(sealedCipher)).map((i) => i.where)).toEqual([]);
  });

  it('no response body or header carries a secret, error messages included', async (t) => {
    if (skip) return t.skip(skip);
    expect(findSecrets(secrets, responses)).toEqual([]);
  });

  it('no database byte carries a secret', async (t) => {
    if (skip) return t.skip(skip);
    expect(findSecrets(secrets, images)).toEqual([]);
  });
});
