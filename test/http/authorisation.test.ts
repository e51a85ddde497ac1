/**
 * The authorisation matrix: every route the app registers, called with each credential a caller can
 * hold (none, a well-formed but unknown key, another merchant's key, a suspended merchant's key, the
 * owner's key from before a rotation, the admin token, and the owner's current key as the control),
 * answers the status written in the table, and a refused call changes no row in any table. The route
 * list comes from the app itself, so a route added without a row here fails the coverage test.
 *
 * What the table encodes, from src/http/auth.ts and src/service/merchants.ts: public routes read no
 * Authorization header at all, so every credential gets the same answer there; operator routes take
 * only the admin token (401 for anything else, merchant keys included); merchant routes take only a
 * key of a verified merchant (401 for no, unknown or revoked keys and for the admin token), and only
 * the record's issuer may add events to it (403); another owner's webhook endpoint is not found (404),
 * as if it did not exist. Suspending a merchant revokes its keys, so its key is 401 like any revoked
 * key, not 403 merchant_suspended.
 */
import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { rowCounts } from '../helpers/db-inspect.ts';
import { recordBody } from '../helpers/records.ts';
import { announceFinalBatches } from '../../src/service/webhooks/announcer.ts';

const CREDENTIALS = ['none', 'wrong', 'rival', 'suspended', 'rotatedOut', 'admin', 'owner'] as const;
type Credential = (typeof CREDENTIALS)[number];
type Statuses = readonly [number, number, number, number, number, number, number];

/** What a cell sends: nothing, a JSON body, or the verification page's urlencoded form. */
type Payload = { json: unknown } | { form: string } | undefined;

interface Row {
  route: string;
  statuses: Statuses;
  body?: (cell: string) => Payload;
  /** The code of a refusal other than 401, when not the default (see the cells' test). */
  code?: string;
}

/** The ids and keys the cells use, made in beforeAll. */
const world = {
  keys: {} as Record<Exclude<Credential, 'none'>, string>,
  /** The owner's webhook endpoint and the operator's, each with a message queued for it. */
  endpoints: { merchant: '', operator: '' },
  messages: { merchant: '', operator: '' },
  ownerId: '',
  recordId: '',
  batchId: 0,
  bundle: null as unknown,
  /** A sold record with a sealed delivery (revealToken) and an open dispute (disputeId, one file). */
  revealToken: '',
  disputeId: '',
  /** An unsold record registered with the secret K3Y-UNSOLD, for the sealed sale. */
  unsoldId: '',
};

const evidence = { evidence: [{ description: 'reseller letter', sha256: 'ab'.repeat(32) }] };

/**
 * One row per route. `rival` on POST /v1/records is a verified merchant registering its own record,
 * so it is allowed; everywhere a record is someone else's, it is not.
 */
// prettier-ignore
const TABLE: Row[] = [
  //                                                 none wrong rival susp  rotat admin owner
  { route: 'GET /healthz',                statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /openapi.json',           statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /docs',                   statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /docs/static/index.html', statuses: [302, 302,  302,  302,  302,  302,  302] },
  { route: 'GET /docs/static/swagger-initializer.js',
                                          statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /docs/static/*',          statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /docs/json',              statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /docs/yaml',              statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/chain',               statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/merchants/:id',       statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/merchants/:id/profile',
                                          statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /m/:id',                  statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/records/:id',         statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/records/:id/proofs',  statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/records/:id/state-proof',
                                          statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/records/:id/qr.png',  statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/records/:id/qr.svg',  statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/verify/:id',          statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'POST /v1/verify/:id/secret',  statuses: [200, 200,  200,  200,  200,  200,  200],
    body: () => ({ json: { secret: 'not-the-licence-key' } }) },
  { route: 'POST /v1/verify',             statuses: [200, 200,  200,  200,  200,  200,  200],
    body: () => ({ json: world.bundle }) },
  { route: 'GET /v1/batches',             statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/batches/:id',         statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v1/batches/:id/leaves',  statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /v/:id',                  statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'POST /v/:id/secret',          statuses: [200, 200,  200,  200,  200,  200,  200],
    body: () => ({ form: 'secret=not-the-licence-key' }) },
  { route: 'GET /v1/webhooks/event-types', statuses: [200, 200, 200,  200,  200,  200,  200] },
  { route: 'GET /v1/reveal/:token',       statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'POST /v1/reveal/:token',      statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'GET /r/:token',               statuses: [200, 200,  200,  200,  200,  200,  200] },
  { route: 'POST /r/:token',              statuses: [200, 200,  200,  200,  200,  200,  200] },
  // Opening a dispute needs possession, not a credential: without it every caller is refused alike.
  { route: 'POST /v1/records/:id/disputes', statuses: [403, 403, 403, 403, 403,  403,  403],
    body: () => ({ json: { reason: 'other', description: 'no proof' } }), code: 'possession_required' },
  { route: 'POST /v/:id/dispute',         statuses: [403, 403,  403,  403,  403,  403,  403],
    body: () => ({ json: { reason: 'other', description: 'no proof' } }) },

  // Operator routes: the admin token and nothing else. :id is the owner's merchant id.
  { route: 'POST /v1/merchants',          statuses: [401, 401,  401,  401,  401,  201,  401],
    body: (cell) => ({ json: { name: `Admitted in ${cell}` } }) },
  { route: 'POST /v1/merchants/:id/verify',
                                          statuses: [401, 401,  401,  401,  401,  200,  401],
    body: () => ({ json: evidence }) },
  { route: 'POST /v1/merchants/:id/strikes',
                                          statuses: [401, 401,  401,  401,  401,  200,  401],
    body: (cell) => ({ json: { reason: `a warning from ${cell}` } }) },
  { route: 'GET /v1/merchants/:id/strikes',
                                          statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'POST /v1/merchants/:id/keys', statuses: [401, 401,  401,  401,  401,  201,  401] },
  { route: 'POST /v1/records/:id/events/:seq/erasure',
                                          statuses: [401, 401,  401,  401,  401,  200,  401],
    body: (cell) => ({ json: { by: `erased in ${cell}` } }) },
  { route: 'POST /v1/admin/batches/seal', statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'POST /v1/admin/webhooks/endpoints',
                                          statuses: [401, 401,  401,  401,  401,  201,  401],
    body: () => ({ json: { url: 'http://127.0.0.1:9/operator' } }) },
  { route: 'GET /v1/admin/webhooks/endpoints',
                                          statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'GET /v1/admin/webhooks/endpoints/:id',
                                          statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'POST /v1/admin/webhooks/endpoints/:id/secret',
                                          statuses: [401, 401,  401,  401,  401,  201,  401] },
  { route: 'GET /v1/admin/webhooks/endpoints/:id/deliveries',
                                          statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'POST /v1/admin/webhooks/endpoints/:id/deliveries/:messageId/replay',
                                          statuses: [401, 401,  401,  401,  401,  202,  401] },
  { route: 'GET /metrics',                statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'GET /v1/admin/duplicates',    statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'GET /v1/admin/disputes',      statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'GET /v1/admin/disputes/:id',  statuses: [401, 401,  401,  401,  401,  200,  401] },
  { route: 'GET /v1/admin/disputes/:id/files/:position',
                                          statuses: [401, 401,  401,  401,  401,  200,  401] },

  // Merchant routes: a verified merchant's current key; events only by the record's issuer.
  { route: 'POST /v1/records',            statuses: [401, 401,  201,  401,  401,  401,  201],
    body: (cell) => ({ json: { records: [recordBody(`matrix ${cell}`, { secret: `K3Y-MATRIX ${cell}` })] } }) },
  { route: 'POST /v1/records/:id/events', statuses: [401, 401,  403,  401,  401,  401,  201],
    body: () => ({ json: { type: 'transferred' } }) },
  { route: 'POST /v1/records/:id/sealed-sale', statuses: [401, 401, 403, 401, 401,  401,  201],
    body: () => ({ json: { secret: 'K3Y-UNSOLD' } }) },
  // A merchant's disputes: its own only (another's is not found, and cannot be answered).
  { route: 'GET /v1/disputes/:id',        statuses: [401, 401,  404,  401,  401,  401,  200],
    code: 'dispute_not_found' },
  { route: 'GET /v1/disputes/:id/files/:position',
                                          statuses: [401, 401,  404,  401,  401,  401,  200],
    code: 'dispute_not_found' },
  { route: 'POST /v1/disputes/:id/answer', statuses: [401, 401, 403,  401,  401,  401,  200],
    body: () => ({ json: { response: 'contest', answer: 'it worked' } }) },
  // After the answer: the operator decides the contested dispute.
  { route: 'POST /v1/admin/disputes/:id/decision',
                                          statuses: [401, 401,  401,  401,  401,  200,  401],
    body: () => ({ json: { decision: 'merchant' } }) },
  // A merchant's webhook endpoints: its own only (another's is not found). :id is the owner's endpoint.
  { route: 'POST /v1/webhooks/endpoints', statuses: [401, 401,  201,  401,  401,  401,  201],
    body: () => ({ json: { url: 'http://127.0.0.1:9/merchant' } }) },
  { route: 'GET /v1/webhooks/endpoints',  statuses: [401, 401,  200,  401,  401,  401,  200] },
  { route: 'GET /v1/webhooks/endpoints/:id',
                                          statuses: [401, 401,  404,  401,  401,  401,  200] },
  { route: 'POST /v1/webhooks/endpoints/:id/secret',
                                          statuses: [401, 401,  404,  401,  401,  401,  201] },
  { route: 'GET /v1/webhooks/endpoints/:id/deliveries',
                                          statuses: [401, 401,  404,  401,  401,  401,  200] },
  { route: 'POST /v1/webhooks/endpoints/:id/deliveries/:messageId/replay',
                                          statuses: [401, 401,  404,  401,  401,  401,  202] },

  // Deletions last: the routes above act on the endpoints these delete.
  { route: 'DELETE /v1/webhooks/endpoints/:id',
                                          statuses: [401, 401,  404,  401,  401,  401,  200] },
  { route: 'DELETE /v1/admin/webhooks/endpoints/:id',
                                          statuses: [401, 401,  401,  401,  401,  200,  401] },
];

/**
 * "METHOD /path" for every route each Fastify instance registers, HEAD only beside a GET. Fastify
 * publishes every new instance on this diagnostics channel (for tracers); an onRoute hook added
 * there sees each route as it is declared, plugins' included. (printRoutes drops the prefix of
 * wildcard routes, so /docs/static/* would read as /docs/*.)
 */
const routesOf = new WeakMap<object, string[]>();
function recordRoutes(message: unknown): void {
  const { fastify } = message as { fastify: FastifyInstance };
  const routes: string[] = [];
  routesOf.set(fastify, routes);
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
}
function registeredRoutes(app: FastifyInstance): string[] {
  const all = routesOf.get(app);
  if (!all) throw new Error('the app was built before the route listener subscribed');
  const gets = new Set(all.filter((r) => r.startsWith('GET ')));
  for (const head of all.filter((r) => r.startsWith('HEAD '))) {
    // A plugin's root route ('/' under the /docs prefix) is announced once as GET /docs, serving
    // /docs/ too; its HEAD routes are announced for both.
    const get = head.replace(/^HEAD/, 'GET');
    expect(gets.has(get) || gets.has(get.replace(/\/$/, '')), `${head} without a GET`).toBe(true);
  }
  return all.filter((r) => !r.startsWith('HEAD ')).sort();
}

/** The concrete URL a cell calls for a route pattern. */
function urlOf(route: string): string {
  const path = route.split(' ')[1]!;
  const hooks = /^\/v1\/(admin\/)?webhooks\/endpoints\//.exec(path);
  if (hooks) {
    const owner = hooks[1] ? 'operator' : 'merchant';
    return path.replace(':id', world.endpoints[owner]).replace(':messageId', world.messages[owner]);
  }
  if (/^\/v1\/(admin\/)?disputes\/|\/(r|v1\/reveal)\/:token/.test(path)) {
    return path
      .replace(':id', world.disputeId)
      .replace(':position', '0')
      .replace(':token', world.revealToken);
  }
  if (path.endsWith('/sealed-sale')) return path.replace(':id', world.unsoldId);
  const id =
    path.startsWith('/v1/merchants/') || path.startsWith('/m/')
      ? world.ownerId
      : path.startsWith('/v1/batches/')
        ? String(world.batchId)
        : world.recordId;
  return path.replace(':id', id).replace(':seq', '1').replace('*', 'swagger-ui.css');
}

describe.each(BACKENDS)('authorisation matrix (%s)', (backend) => {
  let h: Harness;
  let skip: string | null = null;
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    subscribe('fastify.initialization', recordRoutes);
    try {
      // Each route's cells send 7 wrong secrets to one record: more than its per-record budget, which
      // has a test of its own (test/abuse/secret-guessing.test.ts).
      h = await startHarness({ backend, env: { SECRET_GUESSES_PER_WINDOW: '1000' } });
    } finally {
      unsubscribe('fastify.initialization', recordRoutes);
    }
    // Webhook endpoints on loopback: nothing is delivered (the harness does not start the worker).
    h.runtime.services.webhooks.allowPrivate = true;
    const operatorHooks = h.client(ADMIN_TOKEN).webhooks('operator');
    world.endpoints.operator = (await operatorHooks.create({ url: 'http://127.0.0.1:9/matrix' })).id;
    const owner = await h.verifiedMerchant('Owner Shop');
    const rival = await h.verifiedMerchant('Rival Shop');
    const struck = await h.verifiedMerchant('Struck Shop');
    for (const reason of ['first strike', 'second strike']) {
      expect((await h.admin('POST', `/v1/merchants/${struck.id}/strikes`, { reason })).statusCode).toBe(200);
    }
    expect((await h.call('GET', `/v1/merchants/${struck.id}`)).json().status).toBe('suspended');
    const rotated = await h.admin('POST', `/v1/merchants/${owner.id}/keys`);
    expect(rotated.statusCode).toBe(201);
    world.keys = {
      wrong: `pmk_${randomBytes(24).toString('base64url')}`,
      rival: rival.apiKey,
      suspended: struck.apiKey,
      rotatedOut: owner.apiKey,
      admin: ADMIN_TOKEN,
      owner: rotated.json().apiKey,
    };
    world.ownerId = owner.id;
    const ownerHooks = h.client(world.keys.owner).webhooks();
    world.endpoints.merchant = (await ownerHooks.create({ url: 'http://127.0.0.1:9/matrix' })).id;
    const registered = await h.call('POST', '/v1/records', {
      token: world.keys.owner,
      body: { records: [recordBody('matrix-record', { secret: 'K3Y-MATRIX' })] },
    });
    expect(registered.statusCode).toBe(201);
    world.recordId = registered.json().records[0].id;
    const sold = await h.call('POST', `/v1/records/${world.recordId}/events`, {
      token: world.keys.owner,
      body: { type: 'sold' },
    });
    expect(sold.statusCode).toBe(201);
    await h.sealAndWaitFinal();
    world.batchId = (await h.call('GET', '/v1/batches')).json().batches[0].id;
    world.bundle = (await h.call('GET', `/v1/records/${world.recordId}/proofs`)).json().bundles[0];
    // The batch's item.final for the owner (no worker runs here), and the strikes' for the operator.
    await announceFinalBatches(h.runtime.services.ctx, 10);
    for (const owner of ['merchant', 'operator'] as const) {
      const [delivery] = await h.runtime.storage.webhooks.deliveries(world.endpoints[owner], null, 1);
      world.messages[owner] = delivery!.message_id;
    }
    // After the sale: a sealed delivery, an open dispute with one file, an unsold record to sell.
    const more = await h.call('POST', '/v1/records', {
      token: world.keys.owner,
      body: {
        records: [
          recordBody('matrix-sealed', { secret: 'K3Y-SEALED' }),
          recordBody('matrix-unsold', { secret: 'K3Y-UNSOLD' }),
        ],
      },
    });
    const [sealedId, unsoldId] = more.json().records.map((r: { id: string }) => r.id);
    world.unsoldId = unsoldId;
    const sale = await h.call('POST', `/v1/records/${sealedId}/sealed-sale`, {
      token: world.keys.owner,
      body: { secret: 'K3Y-SEALED' },
    });
    expect(sale.statusCode).toBe(201);
    world.revealToken = sale.json().revealUrl.split('/r/')[1];
    const opened = await h.call('POST', `/v1/records/${sealedId}/disputes`, {
      body: { reason: 'other', description: 'matrix', revealToken: world.revealToken },
    });
    expect(opened.statusCode).toBe(201);
    world.disputeId = opened.json().id;
    await h.runtime.storage.afterSale.insertFiles([
      {
        dispute_id: world.disputeId,
        position: 0,
        side: 'buyer',
        content_type: 'application/pdf',
        size: 5,
        sha256: `0x${'00'.repeat(32)}`,
        bytes: new TextEncoder().encode('%PDF-'),
      },
    ]);
    // No background writes from here on: a refused cell must leave the row counts as they were.
    await h.runtime.services.batcher.stop();
  }, 60_000);
  afterAll(async () => h?.close());

  /** Row counts with the scan counts written out first (they are written behind, once a second). */
  async function settledRowCounts() {
    await h.runtime.services.ctx.scans.flush();
    return rowCounts(h.runtime.storage.db);
  }

  function send(route: string, credential: Credential, payload: Payload): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = {};
    if (credential !== 'none') headers.authorization = `Bearer ${world.keys[credential]}`;
    if (payload && 'form' in payload) headers['content-type'] = 'application/x-www-form-urlencoded';
    return h.app.inject({
      method: route.split(' ')[0] as 'GET',
      url: urlOf(route),
      headers,
      ...(payload && 'json' in payload && { payload: payload.json as object }),
      ...(payload && 'form' in payload && { payload: payload.form }),
    });
  }

  it('the table has one row for every route the app registers, and no other', async (t) => {
    if (skip) return t.skip(skip);
    const tableRoutes = TABLE.map((r) => r.route).sort();
    expect(new Set(tableRoutes).size, 'a route listed twice').toBe(tableRoutes.length);
    expect(tableRoutes).toEqual(registeredRoutes(h.app));
  });

  const cells = TABLE.flatMap((row) =>
    CREDENTIALS.map((credential, column) => ({ ...row, credential, status: row.statuses[column]! })),
  );
  it.for(cells)('$route with $credential → $status', async ({ route, credential, status, body, code }, t) => {
    if (skip) return t.skip(skip);
    const refused = status >= 400;
    const before = refused ? await settledRowCounts() : null;
    const res = await send(route, credential, body?.(`${route} as ${credential}`));
    expect(res.statusCode, res.body.slice(0, 300)).toBe(status);
    if (!refused) {
      // The operator's rotation hands the owner its new key, as the operator would.
      if (route === 'POST /v1/merchants/:id/keys') world.keys.owner = res.json().apiKey;
      return;
    }
    // The page's form answers a refusal with a page, not JSON.
    if (res.headers['content-type']?.toString().startsWith('text/html')) {
      expect(res.body).toContain('<!doctype html>');
    } else {
      expect(res.json()).toMatchObject({
        statusCode: status,
        code:
          status === 401
            ? 'unauthorized'
            : (code ?? (status === 404 ? 'webhook_endpoint_not_found' : 'not_record_owner')),
      });
    }
    expect(await settledRowCounts(), 'a refused call changed the database').toEqual(before);
  });
});
