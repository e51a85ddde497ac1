/**
 * The instance the HTTP fuzzers attack (test/http/fuzz.test.ts, test/http/fuzz-requests.test.ts): SQLite,
 * the batcher running, listening on a real port, BODY_LIMIT_BYTES=65536 (so huge bodies stay cheap) and
 * TRUST_PROXY on (each request comes from its own address: the per-client rate limits never stop the
 * fuzzer from reaching a handler). It holds a verified merchant, one merchant for each operator route to
 * act on, a record open to events and an anchored record with a secret; it knows a valid body for every
 * route that takes one, and which tokens to send.
 */
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { expect } from 'vitest';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { anythingAsJson, fragment, hostileValue, type Fragment, type Path } from '../helpers/hostile.ts';
import { recordBody } from '../helpers/records.ts';
import { send, type Tally } from './wire.ts';

export const fuzzRuns = Number(process.env.FC_NUM_RUNS ?? (process.env.CI ? 160 : 40));
export const BODY_LIMIT = 65_536;
/** Huge strings: over every field's maxLength, then near and far over the body limit (in characters). */
export const SIZES = [501, 21_000, 1_100_000];
export const PUBLIC_SECRET = 'VK7JG-NPHTM-C97JM-9MPGT-3V66T';
export const JSON_TYPE = { 'content-type': 'application/json' };

export type Auth = 'admin' | 'merchant' | 'public';
export type TokenChoice = 'right' | 'none' | 'wrong' | 'garbage';
/** Mostly the right token, so the handlers behind the auth check are reached. */
export const tokenChoice: fc.Arbitrary<TokenChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('right' as const) },
  { weight: 1, arbitrary: fc.constantFrom('none' as const, 'wrong' as const, 'garbage' as const) },
);

export interface BodyRoute {
  name: string;
  path: () => string;
  auth: Auth;
  /** A body the route accepts with the right token (a fresh one each call: externalIds differ). */
  valid: () => Record<string, unknown>;
  /** Where a hostile value goes. */
  values: Path[];
  /** Objects in the body that get a hostile extra key. */
  keys: Path[];
  /** Free-text fields: any text that is not too long is accepted, but for NUL and lone surrogates. */
  texts: Path[];
  /** Objects whose keys are free text (metadata, data): the same rule for their keys. */
  textKeys: Path[];
  /**
   * Of `texts` and `textKeys`, those the verification page shows: they are also refused (400
   * unsafe_text or blank_text) when they hold control, bidi or invisible characters or nothing visible.
   */
  shown?: Path[];
  /** After an accepted request: keep the route's target usable. */
  accepted?: () => Promise<void>;
}

export interface PostRoute {
  name: string;
  path: () => string;
  auth: Auth;
}

/** Arbitrary bodies: anything made JSON, hostile values, random bytes, nothing. */
export const anyBody: fc.Arbitrary<Fragment> = fc.oneof(
  anythingAsJson,
  hostileValue(SIZES),
  fc
    .uint8Array({ maxLength: 2048 })
    .map((bytes) => fragment(`${bytes.length} random bytes`, Buffer.from(bytes))),
  fc.constant(fragment('empty', '')),
);

/** The body in one piece with a content-length, or in `chunked` chunks (transfer-encoding: chunked). */
export function pieces(bytes: Buffer, chunked: number): Buffer | Buffer[] {
  if (chunked === 0) return bytes;
  const size = Math.ceil(bytes.length / chunked) || 1;
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

/** Fields are set by start(); the route lists can be built before, as vitest collects the tests. */
export class FuzzTarget {
  h!: Harness;
  port!: number;
  shop!: { id: string; apiKey: string };
  /** Merchants the operator routes act on, one per route, so one route's fuzzing cannot block another's. */
  verifyTarget!: string;
  keysTarget!: string;
  strikeTarget!: string;
  /** A record that is only sent `transferred` events, so it stays open to events. */
  eventRecord!: string;
  /** A record with a secret, anchored in batch 1. */
  publicRecord!: string;
  private counter = 0;
  private readonly tallies = new Map<string, Tally>();

  async start(): Promise<void> {
    this.h = await startHarness({
      env: {
        BODY_LIMIT_BYTES: String(BODY_LIMIT),
        TRUST_PROXY: 'true',
        // The fuzzer sends thousands of wrong secrets to one record: past its per-record budget
        // (test/abuse/secret-guessing.test.ts), every check would be a 429 and fuzz nothing.
        SECRET_GUESSES_PER_WINDOW: '1000',
      },
    });
    await this.h.app.listen({ port: 0, host: '127.0.0.1' });
    this.port = (this.h.app.server.address() as AddressInfo).port;
    this.shop = await this.h.verifiedMerchant('Fuzz Shop 模糊测试');
    this.verifyTarget = await this.admitMerchant('Fuzz Verify Target');
    this.keysTarget = await this.admitMerchant('Fuzz Keys Target');
    this.strikeTarget = await this.admitMerchant('Fuzz Strike Target');
    const res = await this.h.call('POST', '/v1/records', {
      token: this.shop.apiKey,
      body: { records: [recordBody('fuzz-events'), recordBody('fuzz-public', { secret: PUBLIC_SECRET })] },
    });
    [this.eventRecord, this.publicRecord] = res.json().records.map((r: { id: string }) => r.id);
    await this.h.sealAndWaitFinal();
  }

  async close(file: string): Promise<void> {
    const total = { refused: 0, accepted: 0 };
    for (const t of this.tallies.values()) {
      total.refused += t.refused;
      total.accepted += t.accepted;
    }
    console.info(`${file}: ${total.refused} refused and ${total.accepted} accepted requests`);
    await this.h?.close();
  }

  /** A fresh tally of refused and accepted requests, counted into the total printed at close. */
  tally(name: string): Tally {
    const tally = { refused: 0, accepted: 0 };
    this.tallies.set(name, tally);
    return tally;
  }

  unique(): string {
    return `${Date.now().toString(36)}-${this.counter++}`;
  }

  async admitMerchant(name: string): Promise<string> {
    const res = await this.h.admin('POST', '/v1/merchants', { name });
    if (res.statusCode !== 201) throw new Error(`create merchant: ${res.body}`);
    return res.json().id;
  }

  /** The process still answers, whatever it was sent. */
  async expectHealthy(): Promise<void> {
    const health = await send(this.port, { method: 'GET', path: '/healthz' });
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({ status: 'ok', anchoringHalted: null });
  }

  authHeaders(auth: Auth, choice: TokenChoice): Record<string, string> {
    if (choice === 'none') return {};
    if (choice === 'garbage') return { authorization: `Bearer ${'\u00ff'.repeat(64)}${'x'.repeat(4000)}` };
    const right = auth === 'admin' ? ADMIN_TOKEN : this.shop.apiKey;
    const wrong = auth === 'admin' ? this.shop.apiKey : ADMIN_TOKEN;
    if (auth === 'public') return choice === 'right' ? {} : { authorization: `Bearer ${wrong}` };
    return { authorization: `Bearer ${choice === 'right' ? right : wrong}` };
  }

  /** Every route that takes a JSON body with a schema, with a valid body and its fields. */
  bodyRoutes(): BodyRoute[] {
    return [
      {
        name: 'POST /v1/merchants',
        path: () => '/v1/merchants',
        auth: 'admin',
        valid: () => ({ name: `Fuzz Merchant ${this.unique()}`, contactEmail: 'ops@example.com' }),
        values: [['name'], ['contactEmail']],
        keys: [[]],
        texts: [['name']],
        textKeys: [],
        shown: [['name']],
      },
      {
        name: 'POST /v1/merchants/:id/verify',
        path: () => `/v1/merchants/${this.verifyTarget}/verify`,
        auth: 'admin',
        valid: () => ({ evidence: [{ description: 'publisher reseller letter', sha256: 'ab'.repeat(32) }] }),
        values: [['evidence'], ['evidence', 0], ['evidence', 0, 'description'], ['evidence', 0, 'sha256']],
        keys: [[], ['evidence', 0]],
        texts: [['evidence', 0, 'description']],
        textKeys: [],
      },
      {
        name: 'POST /v1/merchants/:id/strikes',
        path: () => `/v1/merchants/${this.strikeTarget}/strikes`,
        auth: 'admin',
        valid: () => ({ reason: 'sold keys that were already activated' }),
        values: [['reason']],
        keys: [[]],
        texts: [['reason']],
        textKeys: [],
        // The second strike suspends, and a suspended merchant takes no more: strike a new one.
        accepted: async () => {
          const profile = await this.h.call('GET', `/v1/merchants/${this.strikeTarget}`);
          if (profile.json().status === 'suspended') {
            this.strikeTarget = await this.admitMerchant(`Strike ${this.unique()}`);
          }
        },
      },
      {
        name: 'POST /v1/records',
        path: () => '/v1/records',
        auth: 'merchant',
        valid: () => ({
          records: [
            recordBody(`fuzz-${this.unique()}`, {
              // One key, one sale: each registration its own key.
              secret: `PIN 8831 2210 ${this.unique()}`,
              metadata: { region: 'cn', seats: 1, boxed: false },
            }),
          ],
        }),
        values: [
          ['records'],
          ['records', 0],
          ...['externalId', 'kind', 'sku', 'productName', 'serial', 'secret', 'metadata'].map((f) => [
            'records',
            0,
            f,
          ]),
          ['records', 0, 'metadata', 'region'],
          ['records', 0, 'metadata', 'seats'],
        ],
        keys: [[], ['records', 0], ['records', 0, 'metadata']],
        texts: ['externalId', 'sku', 'productName', 'serial', 'secret'].map((f) => ['records', 0, f]),
        textKeys: [['records', 0, 'metadata']],
        shown: [
          ...['sku', 'productName', 'serial'].map((f) => ['records', 0, f]),
          ['records', 0, 'metadata'],
        ],
      },
      {
        name: 'POST /v1/records/:id/events',
        path: () => `/v1/records/${this.eventRecord}/events`,
        auth: 'merchant',
        valid: () => ({ type: 'transferred', data: { to: 'buyer-2', price: 12.5 } }),
        values: [['type'], ['data'], ['data', 'to'], ['data', 'price']],
        keys: [[], ['data']],
        texts: [['data', 'to']],
        textKeys: [['data']],
        shown: [['data', 'to'], ['data']],
      },
      {
        name: 'POST /v1/verify/:id/secret',
        path: () => `/v1/verify/${this.publicRecord}/secret`,
        auth: 'public',
        valid: () => ({ secret: PUBLIC_SECRET }),
        values: [['secret']],
        keys: [[]],
        texts: [['secret']],
        textKeys: [],
      },
    ];
  }

  /** Every POST route: those with a body schema, and those that take any body or none. */
  postRoutes(): PostRoute[] {
    return [
      ...this.bodyRoutes(),
      {
        name: 'POST /v1/merchants/:id/keys',
        path: () => `/v1/merchants/${this.keysTarget}/keys`,
        auth: 'admin',
      },
      { name: 'POST /v1/admin/batches/seal', path: () => '/v1/admin/batches/seal', auth: 'admin' },
      { name: 'POST /v1/verify', path: () => '/v1/verify', auth: 'public' },
      { name: 'POST /v/:id/secret', path: () => `/v/${this.publicRecord}/secret`, auth: 'public' },
    ];
  }
}
