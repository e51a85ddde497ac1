/**
 * Hostile requests, fuzzed with fast-check, against a running instance over a real socket
 * (test/http/fuzz-target.ts): malformed ids in every path (very long, %00, ../, broken escapes, unicode),
 * hostile query strings and methods, bodies over BODY_LIMIT_BYTES with and without a content-length,
 * 10,000 levels of nesting on every POST route, lying content-lengths and protocol garbage.
 *
 * Every answer is a 2xx or a clear 4xx, never a 5xx or a hang; every refused request leaves the database
 * as it was (test/http/wire.ts); /healthz answers after each test. Hostile bodies: test/http/fuzz.test.ts.
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEEP, DEEP_FRAGMENTS, UNICODE_EDGE_CASES } from '../helpers/hostile.ts';
import { recordBody } from '../helpers/records.ts';
import {
  anyBody,
  BODY_LIMIT,
  FuzzTarget,
  fuzzRuns,
  JSON_TYPE,
  pieces,
  PUBLIC_SECRET,
  tokenChoice,
  type Auth,
} from './fuzz-target.ts';
import { databaseState, sendHostile, sendRawBytes, type RawRequest } from './wire.ts';

const t = new FuzzTarget();
const bodyRoutes = t.bodyRoutes();
const postRoutes = t.postRoutes();

beforeAll(() => t.start());
afterAll(() => t.close('fuzz-requests.test.ts'));
afterEach(() => t.expectHealthy());

interface IdRoute {
  method: 'GET' | 'POST';
  path: (id: string) => string;
  auth: Auth;
  body?: () => Record<string, unknown>;
}
const idRoutes: IdRoute[] = [
  { method: 'GET', path: (id) => `/v1/merchants/${id}`, auth: 'public' },
  {
    method: 'POST',
    path: (id) => `/v1/merchants/${id}/verify`,
    auth: 'admin',
    body: () => ({ evidence: [{ description: 'letter', sha256: 'cd'.repeat(32) }] }),
  },
  {
    method: 'POST',
    path: (id) => `/v1/merchants/${id}/strikes`,
    auth: 'admin',
    body: () => ({ reason: 'fuzz' }),
  },
  { method: 'GET', path: (id) => `/v1/merchants/${id}/strikes`, auth: 'admin' },
  { method: 'POST', path: (id) => `/v1/merchants/${id}/keys`, auth: 'admin' },
  {
    method: 'POST',
    path: (id) => `/v1/records/${id}/events`,
    auth: 'merchant',
    body: () => ({ type: 'transferred' }),
  },
  {
    method: 'POST',
    path: (id) => `/v1/records/${id}/events/1/erasure`,
    auth: 'admin',
    body: () => ({ by: 'fuzz' }),
  },
  { method: 'GET', path: (id) => `/v1/records/${id}`, auth: 'public' },
  { method: 'GET', path: (id) => `/v1/records/${id}/proofs`, auth: 'public' },
  { method: 'GET', path: (id) => `/v1/records/${id}/qr.png`, auth: 'public' },
  { method: 'GET', path: (id) => `/v1/records/${id}/qr.svg`, auth: 'public' },
  { method: 'GET', path: (id) => `/v1/verify/${id}`, auth: 'public' },
  {
    method: 'POST',
    path: (id) => `/v1/verify/${id}/secret`,
    auth: 'public',
    body: () => ({ secret: PUBLIC_SECRET }),
  },
  { method: 'GET', path: (id) => `/v/${id}`, auth: 'public' },
  {
    method: 'POST',
    path: (id) => `/v/${id}/secret`,
    auth: 'public',
    body: () => ({ secret: PUBLIC_SECRET }),
  },
  { method: 'GET', path: (id) => `/v1/batches/${id}`, auth: 'public' },
  { method: 'GET', path: (id) => `/v1/batches/${id}/leaves`, auth: 'public' },
];

/** Every byte percent-encoded: invalid UTF-8 and lone surrogates (as their replacement) included. */
const percentEncoded = (text: string) =>
  [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const BAD_IDS: readonly string[] = [
  '%00',
  'a%00b',
  '..',
  '.',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e',
  '..;',
  'x'.repeat(65),
  'x'.repeat(100),
  'x'.repeat(101),
  'x'.repeat(10_000),
  '%',
  '%%',
  '%E0%A4%A',
  '%ED%A0%80',
  '%C0%AF',
  '%FF%FE',
  '%F0%9F%8E%AE',
  '-1',
  '0',
  '1',
  '999999999999999',
  '9007199254740993',
  '1e400',
  'NaN',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  '%20',
  '+',
  '%2F',
  'a;b',
  'a,b',
  "'",
  '"',
  '%27%20OR%201%3D1',
  '*',
  '~',
  ...Object.values(UNICODE_EDGE_CASES).map(percentEncoded),
];

const badId: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...BAD_IDS) },
  // Real ids, slightly wrong.
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('record', 'merchant'),
        fc.constantFrom('.json', '%00', '/', 'A', '%20', '/..'),
        fc.boolean(),
      )
      .map(([which, suffix, upper]) => {
        const id = which === 'record' ? t.publicRecord : t.shop.id;
        return `${upper ? id.toUpperCase() : id}${suffix}`;
      }),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(percentEncoded) },
  // Printable ASCII as it is (node sends it raw; what the URL grammar forbids is the server's problem).
  {
    weight: 2,
    arbitrary: fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 30,
    }),
  },
);

describe('malformed ids in paths', () => {
  it.each(idRoutes.map((r) => [`${r.method} ${r.path(':id')}`, r] as const))('%s', async (name, route) => {
    const tally = t.tally(name);
    await fc.assert(
      fc.asyncProperty(badId, tokenChoice, async (id, token) => {
        const req: RawRequest = {
          method: route.method,
          path: route.path(id),
          headers: t.authHeaders(route.auth, token),
        };
        if (route.body) {
          req.headers!['content-type'] = 'application/json';
          req.body = Buffer.from(JSON.stringify(route.body()));
        }
        await sendHostile(t.h, t.port, req, tally);
      }),
      { numRuns: fuzzRuns },
    );
    expect(tally.refused).toBeGreaterThan(0);
  });
});

describe('hostile query strings and methods', () => {
  const queryValue = fc.oneof(
    fc.constantFrom(
      '',
      '0',
      '-1',
      '1',
      '1000',
      '1001',
      '9007199254740993',
      '1e400',
      'NaN',
      '%00',
      '%ED%A0%80',
      '%',
      'x'.repeat(5000),
    ),
    fc.string({ unit: 'binary', maxLength: 20 }).map(percentEncoded),
  );
  const queryKey = fc.constantFrom(
    'after',
    'limit',
    'after[]',
    'limit[0]',
    '__proto__',
    'constructor[prototype]',
    'x',
    '',
  );

  it('GET /v1/batches and every other GET take any query string', async () => {
    const tally = t.tally('query strings');
    const paths = [
      '/v1/batches',
      '/healthz',
      '/v1/chain',
      () => `/v1/records/${t.publicRecord}`,
      () => `/v1/records/${t.publicRecord}/proofs`,
      () => `/v1/verify/${t.publicRecord}`,
      () => `/v/${t.publicRecord}`,
      '/v1/batches/1',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.array(fc.tuple(queryKey, queryValue), { minLength: 1, maxLength: 4 }),
        async (path, params) => {
          const base = typeof path === 'function' ? path() : path;
          const query = params.map(([k, v]) => `${k}=${v}`).join('&');
          await sendHostile(t.h, t.port, { method: 'GET', path: `${base}?${query}` }, tally);
        },
      ),
      { numRuns: fuzzRuns * 2 },
    );
    expect(tally.refused).toBeGreaterThan(0);
  });

  it('methods no route has are refused', async () => {
    const tally = t.tally('methods');
    const paths = [
      '/v1/records',
      '/v1/merchants',
      '/v1/verify',
      '/v1/batches',
      `/v1/records/${t.publicRecord}`,
      '/healthz',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH'),
        fc.constantFrom(...paths),
        anyBody,
        async (method, path, body) => {
          const answer = await sendHostile(
            t.h,
            t.port,
            { method, path, headers: JSON_TYPE, body: body.bytes },
            tally,
          );
          // 404 route_not_found, unless the body was refused first (parsing comes before routing).
          expect([400, 404, 413, 415], `${method} ${path}`).toContain(answer.status);
        },
      ),
      { numRuns: fuzzRuns },
    );
  });
});

describe('fixed hostile cases', () => {
  it('a body over BODY_LIMIT_BYTES is 413 on every route, with or without a content-length', async () => {
    const tally = t.tally('oversized');
    const over = Buffer.from(JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT) }));
    const huge = Buffer.from(JSON.stringify({ padding: '\u6d4b'.repeat(1_100_000) }));
    for (const route of postRoutes) {
      for (const [what, body] of [
        ['limit + 12 bytes', over],
        ['3.3 MB', huge],
        ['3.3 MB chunked', pieces(huge, 3)],
      ] as const) {
        const answer = await sendHostile(
          t.h,
          t.port,
          {
            method: 'POST',
            path: route.path(),
            headers: { ...JSON_TYPE, ...t.authHeaders(route.auth, 'right') },
            body,
          },
          tally,
        );
        expect(answer.status, `${route.name} ${what}`).toBe(413);
        if (!route.name.startsWith('POST /v/')) expect(JSON.parse(answer.text).code).toBe('body_too_large');
      }
    }
  });

  it('a body of exactly BODY_LIMIT_BYTES is read, not refused for its size', async () => {
    const tally = t.tally('at the limit');
    const valid = { records: [recordBody(`at-limit-${t.unique()}`)] };
    const text = JSON.stringify(valid);
    const body = Buffer.from(text + ' '.repeat(BODY_LIMIT - Buffer.byteLength(text)));
    expect(body.length).toBe(BODY_LIMIT);
    const answer = await sendHostile(
      t.h,
      t.port,
      {
        method: 'POST',
        path: '/v1/records',
        headers: { ...JSON_TYPE, ...t.authHeaders('merchant', 'right') },
        body,
      },
      tally,
    );
    expect(answer.status).toBe(201);
  });

  it(`bodies nested ${DEEP} levels deep are refused, or judged by POST /v1/verify`, async () => {
    const tally = t.tally('deep nesting');
    const schemaRoutes = new Set(bodyRoutes.map((r) => r.name));
    for (const route of postRoutes) {
      for (const deep of DEEP_FRAGMENTS) {
        for (const body of [
          deep.bytes,
          Buffer.concat([Buffer.from('{"records":'), deep.bytes, Buffer.from('}')]),
        ]) {
          const answer = await sendHostile(
            t.h,
            t.port,
            {
              method: 'POST',
              path: route.path(),
              headers: { ...JSON_TYPE, ...t.authHeaders(route.auth, 'right') },
              body,
            },
            tally,
          );
          const what = `${route.name} ${deep.label}`;
          if (schemaRoutes.has(route.name)) expect(answer.status, what).toBe(400);
          if (route.name === 'POST /v1/verify') {
            expect(answer.status, what).toBe(200);
            expect(JSON.parse(answer.text), what).toMatchObject({ valid: false, failure: 'malformed' });
          }
        }
      }
    }
  });

  it('a lying content-length neither hangs nor crashes the server', async () => {
    const auth = `authorization: Bearer ${t.shop.apiKey}\r\n`;
    const before = await databaseState(t.h.runtime.storage.db);
    const body = JSON.stringify({ records: [recordBody(`lying-${t.unique()}`)] });
    // Longer than what follows, then the client stops sending: the server must give up, not wait forever.
    const short = await sendRawBytes(
      t.port,
      Buffer.from(
        `POST /v1/records HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${auth}content-length: ${body.length + 100}\r\n\r\n${body}`,
      ),
      { halfClose: true, waitMs: 5_000 },
    );
    expect(short === '' || /^HTTP\/1\.1 4\d\d /.test(short), short).toBe(true);
    // Shorter than what follows: the body is cut, so it is not JSON; the rest is not a request.
    const long = await sendRawBytes(
      t.port,
      Buffer.from(
        `POST /v1/records HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${auth}content-length: ${body.length - 10}\r\nconnection: close\r\n\r\n${body}`,
      ),
      { halfClose: true, waitMs: 5_000 },
    );
    // Either answer may come first: the cut body's invalid_json, or Node's parser refusing the rest.
    expect(long).toMatch(/^HTTP\/1\.1 400 /);
    expect(await databaseState(t.h.runtime.storage.db)).toEqual(before);
  });

  it("protocol garbage is refused by Node's HTTP parser with a JSON 4xx", async () => {
    const before = await databaseState(t.h.runtime.storage.db);
    const cases: Array<[string, string, RegExp]> = [
      ['a method that is no token', 'FOO BAR /healthz HTTP/1.1\r\nhost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
      [
        'a header line without a colon',
        'GET /healthz HTTP/1.1\r\nhost: x\r\nbroken header\r\n\r\n',
        /^HTTP\/1\.1 400 /,
      ],
      ['a NUL in a header', 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-a: b\u0000c\r\n\r\n', /^HTTP\/1\.1 400 /],
      [
        'headers over 16 KB',
        `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'x'.repeat(20_000)}\r\n\r\n`,
        /^HTTP\/1\.1 431 /,
      ],
      [
        'bytes in the path that are not UTF-8',
        'GET /v1/records/\u00ff\u00fe HTTP/1.1\r\nhost: x\r\n\r\n',
        /^HTTP\/1\.1 400 /,
      ],
      [
        'a request line over 16 KB',
        `GET /v1/records/${'x'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
        /^HTTP\/1\.1 431 /,
      ],
      [
        'both content-length and chunked',
        'POST /v1/verify HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}',
        /^HTTP\/1\.1 400 /,
      ],
      [
        'a broken chunk size',
        'POST /v1/verify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
        /^HTTP\/1\.1 400 /,
      ],
    ];
    for (const [what, raw, status] of cases) {
      const answer = await sendRawBytes(t.port, Buffer.from(raw, 'latin1'), {
        halfClose: false,
        waitMs: 10_000,
      });
      expect(answer, what).toMatch(status);
      // Answered by the app's clientErrorHandler on the raw socket, in the API's one error shape.
      const statusCode = Number(answer.slice(9, 12));
      const body: unknown = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
      expect(body, what).toEqual({
        statusCode,
        error: expect.any(String),
        message: expect.any(String),
        code: statusCode === 431 ? 'headers_too_large' : 'malformed_request',
      });
    }
    expect(await databaseState(t.h.runtime.storage.db)).toEqual(before);
  });
});
