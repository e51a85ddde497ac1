/**
 * The whole API over a real port, as a merchant, a consumer and an auditor use it: fetch against
 * a listening server, then an independent check with nothing but the published RPC endpoint and the
 * registry's own verify(). On SQLite and PostgreSQL.
 */
import { Contract, JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryAbi } from '../../src/chain/registry.ts';
import { MerkleTree, verifyBundle, type ProofBundleV1 } from '../../src/core/index.ts';
import { BACKENDS, postgresSkipReason } from '../helpers/databases.ts';
import { ADMIN_TOKEN, startHarness, type Harness } from '../helpers/harness.ts';
import { recordBody } from '../helpers/records.ts';
import { waitFor } from '../helpers/wait.ts';

describe.each(BACKENDS)('the API over a real port (%s)', (backend) => {
  let h: Harness;
  let base: string;
  let skip: string | null = null;
  beforeAll(async () => {
    if (backend === 'postgres') skip = await postgresSkipReason();
    if (skip) return;
    h = await startHarness({ backend });
    base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => h?.close());

  async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: () => JSON.parse(text), text };
  }

  it('health and chain', async (t) => {
    if (skip) return t.skip(skip);
    await waitFor('leadership', async () => (await api('GET', '/healthz')).json().leader);
    expect((await api('GET', '/healthz')).json()).toEqual({
      status: 'ok',
      leader: true,
      anchoringHalted: null,
      lastBatcherError: null,
    });
    const chain = (await api('GET', '/v1/chain')).json();
    expect(chain).toEqual({
      chainId: 31337,
      contract: h.runtime.services.chain.contract,
      rpcUrl: h.runtime.devChain!.url,
      confirmations: 1,
      nextBatchId: 1,
    });
  });

  it('merchant registers, consumer verifies, auditor checks the chain alone', async (t) => {
    if (skip) return t.skip(skip);
    // Operator admits and verifies a merchant.
    const created = await api('POST', '/v1/merchants', { token: ADMIN_TOKEN, body: { name: '卡盟 Shop' } });
    expect(created.status).toBe(201);
    const { id: merchantId, apiKey } = created.json();
    const verified = await api('POST', `/v1/merchants/${merchantId}/verify`, {
      token: ADMIN_TOKEN,
      body: { evidence: [{ description: 'authorisation letter', sha256: 'fe'.repeat(32) }] },
    });
    expect(verified.json().status).toBe('verified');

    // Merchant registers, concurrently, and records a sale.
    const batches = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api('POST', '/v1/records', {
          token: apiKey,
          body: {
            records: Array.from({ length: 5 }, (_, j) =>
              recordBody(`port-${i}-${j}`, { secret: `pin-${i}-${j}` }),
            ),
          },
        }),
      ),
    );
    expect(batches.map((r) => r.status)).toEqual(Array(8).fill(201));
    const ids = batches.flatMap((r) => r.json().records.map((x: { id: string }) => x.id));
    expect(new Set(ids).size).toBe(40);
    const id = ids[17]!;
    expect(
      (await api('POST', `/v1/records/${id}/events`, { token: apiKey, body: { type: 'sold' } })).status,
    ).toBe(201);

    // Consumer: pending, then genuine once sealed and final.
    expect((await api('GET', `/v1/verify/${id}`)).json().verdict).toBe('pending');
    const sealed = await api('POST', '/v1/admin/batches/seal', { token: ADMIN_TOKEN });
    expect(sealed.status).toBe(200);
    expect(sealed.json().batches).toMatchObject([{ id: 1, leafCount: 41, status: 'sealed', txHash: null }]);
    await waitFor('genuine', async () => (await api('GET', `/v1/verify/${id}`)).json().verdict === 'genuine');
    expect((await api('POST', `/v1/verify/${id}/secret`, { body: { secret: 'pin-3-2' } })).json()).toEqual({
      match: true,
    });
    const record = (await api('GET', `/v1/records/${id}`)).json();
    expect(record.events.map((e: { anchor: { status: string } }) => e.anchor.status)).toEqual([
      'final',
      'final',
    ]);

    // Bundles verify offline and through the service.
    const { bundles } = (await api('GET', `/v1/records/${id}/proofs`)).json() as { bundles: ProofBundleV1[] };
    expect(bundles).toHaveLength(2);
    for (const bundle of bundles) {
      expect(verifyBundle(bundle).valid).toBe(true);
      expect((await api('POST', '/v1/verify', { body: bundle })).json()).toMatchObject({ valid: true });
    }

    // Auditor: the published RPC endpoint and contract are all it needs.
    const { rpcUrl, contract, chainId } = (await api('GET', '/v1/chain')).json();
    const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true });
    try {
      const registry = new Contract(contract, registryAbi, provider);
      const leavesRes = await fetch(`${base}/v1/batches/1/leaves`);
      expect(leavesRes.headers.get('content-type')).toBe('application/octet-stream');
      const leaves = new Uint8Array(await leavesRes.arrayBuffer());
      expect(leaves.length).toBe(41 * 32);
      const root = ((await registry.getFunction('rootOf')(1)) as string).toLowerCase();
      expect(MerkleTree.fromPacked(leaves).root).toBe(root);
      for (const bundle of bundles) {
        expect(await registry.getFunction('verify')(bundle.batchId, bundle.leaf, bundle.proof)).toBe(true);
        expect(await registry.getFunction('verify')(bundle.batchId, bundle.leaf, [])).toBe(false);
      }
      const listed = (await api('GET', '/v1/batches')).json();
      expect(listed).toMatchObject({ batches: [{ id: 1, root, status: 'final' }], next: null });
    } finally {
      provider.destroy();
    }
    expect((await api('GET', '/v1/chain')).json().nextBatchId).toBe(2);
  });

  it('errors over the wire are JSON with the right status', async (t) => {
    if (skip) return t.skip(skip);
    const broken = await fetch(`${base}/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"format": ',
    });
    expect(broken.status).toBe(400);
    expect(broken.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await broken.json()).toMatchObject({ statusCode: 400, code: 'invalid_json' });
    expect((await api('GET', '/v1/unknown')).json()).toMatchObject({
      statusCode: 404,
      code: 'route_not_found',
    });
    expect((await api('POST', '/v1/records', { body: { records: [recordBody('anon')] } })).status).toBe(401);
  });
});
