/**
 * Issue 13, the secret parts of item 10, replayed against `proofmark serve` over real sockets:
 * - a whitespace-only secret was accepted at registration and then matched " ": now 400 secret_empty
 *   at registration and at the check;
 * - query strings were logged verbatim, so `?secret=…` landed in the log: now the request log shows
 *   the path only;
 * - a registration replay answered 200 for the right secret and 409 for a wrong one, an unlimited
 *   oracle for the owning merchant: now each wrong secret spends one of the record's tries, and once
 *   they are spent a replay with a secret is 429 whether the secret is right or not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitMerchant } from '../../src/client/admit.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { apiCheck, pageCheck, send } from './secret-client.ts';

const ADMIN_TOKEN = 'abuse-admin-token-0123456789abcdef';
const LIMIT = 5;

describe('secret leaks (issue 13, item 10): blank secrets, query strings, registration replays', () => {
  let dataDir: string;
  let serve: ServeProcess;
  let apiKey: string;

  const register = (externalId: string, secret?: string) =>
    serve.http<{ records?: Array<{ id: string }>; code?: string }>('POST', '/v1/records', apiKey, {
      records: [recordBody(externalId, { kind: 'card', ...(secret !== undefined && { secret }) })],
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofmark-abuse-leaks-'));
    serve = await spawnServe(
      { DATA_DIR: dataDir, ADMIN_TOKEN, DEV_CHAIN_PORT: '0', LOG_LEVEL: 'info' },
      'leaks',
    );
    ({ apiKey } = await admitMerchant(serve.client(ADMIN_TOKEN), { name: 'Leaky Shop' }, TEST_EVIDENCE));
  }, 90_000);
  afterAll(async () => {
    await serve?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('a blank secret is refused at registration and at the check: 400 secret_empty', async () => {
    for (const blank of [' ', ' \t\n ', '\u3000\u00a0', '\u2028\u2029']) {
      const res = await register('blank-card', blank);
      expect(res.status, JSON.stringify(blank)).toBe(400);
      expect(res.body.code).toBe('secret_empty');
    }
    // Nothing was written: the same externalId registers afresh, with a real secret.
    const created = await register('blank-card', 'PIN-1234');
    expect(created.status).toBe(201);
    const id = created.body.records![0]!.id;
    const api = await apiCheck(serve.url, id, '   ');
    expect(api.status).toBe(400);
    expect(JSON.parse(api.text)).toMatchObject({ code: 'secret_empty' });
    const page = await pageCheck(serve.url, id, ' \u3000 ');
    expect(page.status).toBe(400);
    expect(page.text).toContain('<section class="result ask">');
    // A blank check spends no try.
    expect((await apiCheck(serve.url, id, 'PIN-1234')).headers['x-secret-tries-remaining']).toBe(
      String(LIMIT),
    );
    console.log(
      'secret leaks: whitespace-only secrets refused with 400 secret_empty (registration, API, page)',
    );
  });

  it('a secret in a query string never lands in a log line: the request log shows the path', async () => {
    const created = await register('query-card', 'PIN-5678');
    const id = created.body.records![0]!.id;
    const leaked = `LEAKED-${Date.now()}`;
    const query = `?secret=${leaked}&pin=${leaked}`;
    const paths = [`/v/${id}`, `/v1/verify/${id}`, `/v1/records/${id}`, '/no/such/route'];
    for (const path of paths) await send(serve.url, 'GET', path + query);
    await send(serve.url, 'POST', `/v1/verify/${id}/secret${query}`, { secret: 'PIN-5678' });
    // The child's log reaches us through a pipe, after the answers: wait for every request's line.
    const logged = [...paths, `/v1/verify/${id}/secret`].map((path) => `"url":"${path}"`);
    const log = await waitFor('a request log line for every path', () => {
      const text = serve.output.join('');
      return logged.every((line) => text.includes(line)) && text;
    });
    expect(log).not.toContain(leaked);
    console.log(`secret leaks: ${paths.length + 1} requests with ?secret= in their URL, 0 log lines with it`);
  });

  it('a registration replay is no oracle: wrong secrets spend the record tries, then right ones get 429 too', async () => {
    const created = await register('replayed-card', 'PIN-0001');
    expect(created.status).toBe(201);
    const id = created.body.records![0]!.id;
    // The right secret replays as often as the merchant likes, at no cost.
    for (let i = 0; i < 3; i++) expect((await register('replayed-card', ' PIN-0001 ')).status).toBe(200);

    const answers: number[] = [];
    for (let guess = 2; guess <= 20; guess++) {
      answers.push((await register('replayed-card', `PIN-${String(guess).padStart(4, '0')}`)).status);
    }
    expect(answers.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(409));
    expect(answers.slice(LIMIT)).toEqual(Array(answers.length - LIMIT).fill(429));
    const right = await register('replayed-card', 'PIN-0001');
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('secret_attempts_exhausted');
    // The merchant spent the same tries the public check counts.
    const check = await apiCheck(serve.url, id, 'PIN-0001');
    expect(check.status).toBe(429);
    console.log(
      `secret leaks: ${answers.length} replays with wrong secrets: ${answers.filter((s) => s === 409).length} answered 409, ` +
        `${answers.filter((s) => s === 429).length} refused 429; the right secret after them: 429`,
    );
  });
});
