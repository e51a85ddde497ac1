/**
 * Issue 13, attack 1, replayed from outside: guessing a card PIN through the secret check. Before,
 * the only limit was 10 checks a minute per address and route, so 29 loopback addresses found a
 * 3-digit PIN in 464 ms. Now a record answers at most SECRET_GUESSES_PER_WINDOW (5) wrong secrets per
 * window (an hour) from everyone together, counted in the database so every instance agrees; then
 * every check of it, the right PIN included, is 429 secret_attempts_exhausted with Retry-After.
 *
 * Over real sockets against `proofmark serve` children: 30 source addresses spray every 3-digit
 * candidate at one instance through both routes; two instances on one PostgreSQL database are
 * sprayed at once; IPv6 clients behind a proxy are limited per /64. The figures go to the output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitMerchant } from '../../src/client/admit.ts';
import { TEST_EVIDENCE } from '../helpers/client.ts';
import { createTestDatabase, postgresSkipReason, type TestDatabase } from '../helpers/databases.ts';
import { recordBody } from '../helpers/records.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { clusterEnv, startSharedChain, type SharedChain } from '../scale/cluster.ts';
import { apiCheck, outcomeOf, pageCheck, send, type Answer, type Outcome } from './secret-client.ts';

const ADMIN_TOKEN = 'abuse-admin-token-0123456789abcdef';
const LIMIT = 5; // SECRET_GUESSES_PER_WINDOW's default
const ADDRESSES = Array.from({ length: 30 }, (_, i) => `127.0.0.${i + 2}`);

/** A verified merchant's key on `serve`, and records registered with it. */
async function shopOn(serve: ServeProcess, name: string) {
  const { apiKey } = await admitMerchant(serve.client(ADMIN_TOKEN), { name }, TEST_EVIDENCE);
  return {
    async register(...records: Array<{ externalId: string; secret: string }>): Promise<string[]> {
      const res = await serve.http<{ records: Array<{ id: string }> }>('POST', '/v1/records', apiKey, {
        records: records.map((r) => recordBody(r.externalId, { kind: 'card', secret: r.secret })),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.records.map((r) => r.id);
    },
  };
}

interface Spray {
  answers: Array<{ guess: string; answer: Answer; outcome: Outcome }>;
  ms: number;
  count(outcome: Outcome): number;
}

/**
 * Every candidate once, in waves of one request per address (alternating the API and the form, and
 * the instances when there are several), as fast as the server answers.
 */
async function spray(urls: string[], recordId: string, candidates: string[]): Promise<Spray> {
  const answers: Spray['answers'] = [];
  const started = performance.now();
  for (let i = 0; i < candidates.length; i += ADDRESSES.length) {
    const wave = candidates.slice(i, i + ADDRESSES.length);
    answers.push(
      ...(await Promise.all(
        wave.map(async (guess, j) => {
          // Each address takes the two routes in turn, so it spends both per-address budgets.
          const check = (i / ADDRESSES.length + j) % 2 === 0 ? apiCheck : pageCheck;
          const answer = await check(urls[(i + j) % urls.length]!, recordId, guess, {
            localAddress: ADDRESSES[j],
          });
          return { guess, answer, outcome: outcomeOf(answer) };
        }),
      )),
    );
  }
  const ms = Math.round(performance.now() - started);
  return { answers, ms, count: (o) => answers.filter((a) => a.outcome === o).length };
}

const threeDigits = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

describe('secret guessing (issue 13, attack 1): one instance, 30 addresses, both routes', () => {
  let dataDir: string;
  let serve: ServeProcess;
  let shop: Awaited<ReturnType<typeof shopOn>>;
  const logLines = () => serve.output.join('').split('\n');

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofmark-abuse-guess-'));
    serve = await spawnServe(
      {
        DATA_DIR: dataDir,
        ADMIN_TOKEN,
        DEV_CHAIN_PORT: '0',
        // For the IPv6 case: client addresses come from X-Forwarded-For (one hop: the test is the proxy).
        TRUST_PROXY: '1',
        RATE_LIMIT_VERIFY_PER_MINUTE: '20',
      },
      'guessing',
    );
    shop = await shopOn(serve, 'Card Shop 点卡商店');
  }, 90_000);
  afterAll(async () => {
    await serve?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('every 3-digit PIN from 30 addresses: 5 wrong answers for the record, then 429 for every guess, the PIN too', async () => {
    // A PIN past the first wave, so the 5 answered guesses cannot include it by luck.
    const pin = String(100 + Math.floor(Math.random() * 900));
    const [recordId] = await shop.register({ externalId: 'card-guessed', secret: pin });
    const result = await spray([serve.url], recordId!, threeDigits);

    const answered = result.count('match') + result.count('no_match');
    console.log(
      `secret guessing: ${result.answers.length} guesses at one record from ${ADDRESSES.length} addresses ` +
        `in ${result.ms} ms: ${answered} answered (${result.count('match')} right), ` +
        `${result.count('secret_attempts_exhausted')} refused secret_attempts_exhausted, ` +
        `${result.count('rate_limited')} refused rate_limited: at most ${LIMIT} guesses answered per record per hour`,
    );
    expect(result.count('other')).toBe(0);
    expect(result.count('match')).toBe(0);
    expect(answered).toBe(LIMIT);
    expect(result.count('secret_attempts_exhausted')).toBeGreaterThan(500);
    expect(result.answers.find((a) => a.guess === pin)?.outcome).toMatch(
      /secret_attempts_exhausted|rate_limited/,
    );

    // Every answer of the API says how many wrong secrets the record still takes: 4, 3, 2, 1, 0.
    const left = result.answers
      .filter((a) => a.answer.status === 200 && a.answer.headers['x-secret-tries-remaining'] !== undefined)
      .map((a) => Number(a.answer.headers['x-secret-tries-remaining']));
    for (const n of left) expect(n).toBeLessThan(LIMIT);
    // Every refusal says when to come back: when the hour that began with the first wrong guess ends.
    for (const { answer } of result.answers.filter((a) => a.outcome === 'secret_attempts_exhausted')) {
      const wait = Number(answer.headers['retry-after']);
      expect(wait).toBeGreaterThan(3500);
      expect(wait).toBeLessThanOrEqual(3600);
    }

    // The right PIN, from an address that spent nothing, on either route: no answer (no oracle).
    const fresh = { localAddress: '127.0.1.1' };
    const api = await apiCheck(serve.url, recordId!, pin, fresh);
    expect(api.status).toBe(429);
    expect(JSON.parse(api.text)).toMatchObject({ code: 'secret_attempts_exhausted' });
    expect(api.text).not.toContain('match');
    expect(api.headers['x-secret-tries-remaining']).toBe('0');
    const page = await pageCheck(serve.url, recordId!, pin, fresh);
    expect(page.status).toBe(429);
    expect(page.text).toContain('暂停核对');
    expect(page.text).toContain('what you entered was not checked');
    expect(page.text).not.toContain('<section class="result ok">');
    expect(Number(page.headers['retry-after'])).toBeGreaterThan(3500);

    // The page tells the buyer: no tries left, for how long, and no form to type into.
    const view = await send(serve.url, 'GET', `/v/${recordId}`, undefined, fresh);
    expect(view.status).toBe(200);
    expect(view.text).toContain('还可尝试 0 次');
    expect(view.text).toContain('0 tries left');
    expect(view.text).toMatch(/Try again in (59|60) minutes/);
    expect(view.text).not.toContain('<form method="post"');

    // One warning in the log for the exhausted record.
    const warnings = logLines().filter((l) => l.includes('secret checks exhausted') && l.includes(recordId!));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, recordId, wrongSecrets: LIMIT });
  }, 120_000);

  it('the buyer with the right PIN loses nothing: a right check costs no try, and the page counts down wrong ones', async () => {
    const [recordId] = await shop.register({ externalId: 'card-bought', secret: '4711' });
    const buyer = { localAddress: '127.0.2.1' };
    const before = await send(serve.url, 'GET', `/v/${recordId}`, undefined, buyer);
    expect(before.text).toContain(`还可尝试 ${LIMIT} 次`);
    expect(before.text).toContain(`${LIMIT} tries left`);
    expect(before.text).toContain('<form method="post"');
    for (let i = 0; i < 3; i++) {
      const right = await apiCheck(serve.url, recordId!, ' 4711 ', buyer);
      expect(JSON.parse(right.text)).toEqual({ match: true });
      expect(right.headers['x-secret-tries-remaining']).toBe(String(LIMIT));
    }
    const typo = await pageCheck(serve.url, recordId!, '4712', buyer);
    expect(outcomeOf(typo)).toBe('no_match');
    expect(typo.text).toContain(`还可尝试 ${LIMIT - 1} 次`);
    expect(typo.text).toContain(`${LIMIT - 1} tries left`);
    const right = await pageCheck(serve.url, recordId!, '4711', buyer);
    expect(outcomeOf(right)).toBe('match');
    expect(right.text).toContain(`还可尝试 ${LIMIT - 1} 次`);
  });

  it('IPv6 clients count per /64: a fresh address in the same /64 buys no fresh budget', async () => {
    const unknown = 'AAAAAAAAAAAAAAAAAAAAAA';
    const via = (forwardedFor: string) => ({ forwardedFor });
    // The secret route's per-address budget (RATE_LIMIT_SECRET_PER_MINUTE, 10): ten addresses of one /64.
    for (let i = 1; i <= 10; i++) {
      const res = await apiCheck(serve.url, unknown, 'guess', via(`2001:db8:1:2::${i.toString(16)}`));
      expect(res.status, `address ${i}`).toBe(404);
    }
    const eleventh = await apiCheck(serve.url, unknown, 'guess', via('2001:db8:1:2:ffff:ffff:ffff:ffff'));
    expect(eleventh.status).toBe(429);
    expect(JSON.parse(eleventh.text)).toMatchObject({ code: 'rate_limited' });
    expect((await apiCheck(serve.url, unknown, 'guess', via('2001:db8:1:3::1'))).status).toBe(404);

    // The verdict routes' budget (20 here) too.
    for (let i = 1; i <= 20; i++) {
      const res = await send(serve.url, 'GET', `/v1/verify/${unknown}`, undefined, via(`2001:db8:9:9::${i}`));
      expect(res.status, `verdict ${i}`).toBe(404);
    }
    const limited = await send(
      serve.url,
      'GET',
      `/v1/verify/${unknown}`,
      undefined,
      via('2001:db8:9:9::abc'),
    );
    expect(limited.status).toBe(429);
    console.log(
      'secret guessing: IPv6 addresses of one /64 share one budget: the 11th secret check and the 21st verdict were 429',
    );
  });
});

describe('secret guessing (issue 13, attack 1): two instances on one PostgreSQL database', () => {
  let skip: string | null = null;
  let chain: SharedChain | undefined;
  let database: TestDatabase | undefined;
  const instances: ServeProcess[] = [];
  const dataDirs: string[] = [];

  beforeAll(async () => {
    skip = await postgresSkipReason();
    if (skip) return;
    chain = await startSharedChain();
    database = await createTestDatabase('postgres');
    const env = {
      ...clusterEnv(chain.url, await chain.deploy()),
      DATABASE_URL: database.databaseUrl!,
      ADMIN_TOKEN,
    };
    for (const name of ['one', 'two']) {
      const dataDir = mkdtempSync(join(tmpdir(), `proofmark-abuse-guess-${name}-`));
      dataDirs.push(dataDir);
      instances.push(await spawnServe({ ...env, DATA_DIR: dataDir }, name));
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    await database?.drop();
    await chain?.close();
  });

  it('racing guesses through both instances at once: 5 answered in all, for a 6-digit PIN', async (t) => {
    if (skip) return t.skip(skip);
    const shop = await shopOn(instances[0]!, 'Cluster Card Shop');
    const pin = String(100_000 + Math.floor(Math.random() * 900_000));
    const [recordId] = await shop.register({ externalId: 'cluster-card', secret: pin });
    const candidates = Array.from({ length: 300 }, (_, i) => String(i).padStart(6, '0'));
    const result = await spray(
      instances.map((i) => i.url),
      recordId!,
      candidates,
    );
    const answered = result.count('match') + result.count('no_match');
    console.log(
      `secret guessing, two instances: ${result.answers.length} guesses from ${ADDRESSES.length} addresses ` +
        `through both in ${result.ms} ms: ${answered} answered, ` +
        `${result.count('secret_attempts_exhausted')} refused secret_attempts_exhausted, ` +
        `${result.count('rate_limited')} refused rate_limited`,
    );
    expect(result.count('other')).toBe(0);
    expect(answered).toBe(LIMIT);
    // Both instances refused: the count is the database's, not either one's.
    for (const instance of instances) {
      const refused = await apiCheck(instance.url, recordId!, pin, { localAddress: '127.0.3.1' });
      expect(JSON.parse(refused.text)).toMatchObject({ code: 'secret_attempts_exhausted' });
    }
  }, 120_000);
});
