/**
 * The embedded development chain itself: chain 31337 from a fixed genesis, its own network per start
 * (several in one process do not share state), and a port in use reported as the setting to change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CHAIN_ID, startDevChain, type DevChain } from '../../src/chain/dev-chain.ts';

async function rpc(chain: DevChain, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(chain.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: unknown; error?: unknown };
  if (body.error) throw new Error(JSON.stringify(body.error));
  return body.result;
}

describe('startDevChain', () => {
  let a: DevChain;
  let b: DevChain;
  beforeAll(async () => {
    a = await startDevChain({ port: 0 });
    b = await startDevChain({ port: 0 });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('serves chain 31337 from the fixed genesis of 2026-01-01T00:00:00Z', async () => {
    expect(a.chainId).toBe(DEV_CHAIN_ID);
    expect(a.url).toBe(`http://127.0.0.1:${a.port}`);
    expect(await rpc(a, 'eth_chainId')).toBe('0x7a69');
    const genesis = (await rpc(a, 'eth_getBlockByNumber', ['0x0', false])) as { timestamp: string };
    expect(Number(genesis.timestamp)).toBe(Date.parse('2026-01-01T00:00:00Z') / 1000);
  });

  it('gives each start its own network', async () => {
    await rpc(a, 'evm_mine');
    expect(await rpc(a, 'eth_blockNumber')).toBe('0x1');
    expect(await rpc(b, 'eth_blockNumber')).toBe('0x0');
  });

  it('names DEV_CHAIN_PORT when the port is taken', async () => {
    await expect(startDevChain({ port: a.port })).rejects.toThrow(
      `DEV_CHAIN_PORT ${a.port} is already in use; set DEV_CHAIN_PORT to a free port`,
    );
  });
});
