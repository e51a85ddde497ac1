/**
 * anchorWithState: the same checks and BatchAnchored event as anchor, plus StateRootAnchored; the
 * ERC-165 answer that tells it from a registry deployed before it; and its gas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractFactory, Wallet, ZeroHash, id, type TransactionReceipt } from 'ethers';
import { startDevChain, DEV_DEPLOYER_KEY, type DevChain } from '../../src/chain/dev-chain.ts';
import { STATE_ANCHORING_INTERFACE_ID } from '../../src/chain/registry.ts';
import { keccak256Hex, utf8, type Hex } from '../../src/core/index.ts';
import v1Artifact from '../fixtures/AnchorRegistry-v1.json' with { type: 'json' };
import {
  DEV_KEY_1,
  as,
  deployRegistry,
  devProvider,
  expectCustomError,
  mined,
  registryInterface,
  type AnchorRegistry,
} from './registry-helpers.ts';

let chain: DevChain;
let provider: ReturnType<typeof devProvider>;
let admin: Wallet;
let alice: Wallet;

beforeAll(async () => {
  chain = await startDevChain({ port: 0 });
  provider = devProvider(chain.url, chain.chainId);
  admin = new Wallet(DEV_DEPLOYER_KEY, provider);
  alice = new Wallet(DEV_KEY_1, provider);
});

afterAll(async () => {
  provider?.destroy();
  await chain?.close();
});

const pseudoRandom32 = (label: string): Hex => keccak256Hex(utf8(label));
/** A root with no zero byte, so its calldata costs the most (16 gas a byte). */
const dense = (n: number) => `0x${'11'.repeat(31)}${(0x10 + n).toString(16)}`;

async function registryAnchoredBy(signer: Wallet): Promise<AnchorRegistry> {
  return as(await deployRegistry(admin, { anchorers: [signer.address] }), signer);
}

function logsOf(receipt: TransactionReceipt) {
  return receipt.logs.map((log) => registryInterface.parseLog(log)!).map((l) => [l.name, ...l.args]);
}

describe('anchorWithState', () => {
  it('anchors the batch root as anchor does and logs the state root beside it', async () => {
    const registry = await registryAnchoredBy(alice);
    const [root, state] = [pseudoRandom32('root-1'), pseudoRandom32('state-1')];
    const receipt = await mined(registry.anchorWithState(1, root, 7, state));
    expect(logsOf(receipt)).toEqual([
      ['BatchAnchored', 1n, root, 7n],
      ['StateRootAnchored', 1n, state],
    ]);
    expect(await registry.rootOf(1)).toBe(root);
    expect(await registry.nextBatchId()).toBe(2n);
    // Both entry points share one sequence of ids.
    await mined(registry.anchor(2, pseudoRandom32('root-2'), 1));
    await mined(registry.anchorWithState(3, pseudoRandom32('root-3'), 1, pseudoRandom32('state-3')));
    expect(await registry.nextBatchId()).toBe(4n);
  });

  it('refuses what anchor refuses, a zero state root, and callers without the role', async () => {
    const registry = await registryAnchoredBy(alice);
    const [root, state] = [pseudoRandom32('r'), pseudoRandom32('s')];
    await expectCustomError(registry.anchorWithState(2, root, 1, state), 'BatchOutOfOrder', [1n, 2n]);
    await expectCustomError(registry.anchorWithState(1, ZeroHash, 1, state), 'ZeroRoot');
    await expectCustomError(registry.anchorWithState(1, root, 0, state), 'EmptyBatch');
    await expectCustomError(registry.anchorWithState(1, root, 1, ZeroHash), 'ZeroStateRoot');
    await expectCustomError(
      as(registry, admin).anchorWithState(1, root, 1, state),
      'AccessControlUnauthorizedAccount',
      [admin.address, id('ANCHORER_ROLE')],
    );
    expect(await registry.nextBatchId()).toBe(1n);
  });

  it('answers ERC-165 for the new interface; a registry deployed before it does not', async () => {
    const registry = await deployRegistry(admin);
    expect(STATE_ANCHORING_INTERFACE_ID).toBe(registryInterface.getFunction('anchorWithState')!.selector);
    expect(await registry.supportsInterface(STATE_ANCHORING_INTERFACE_ID)).toBe(true);
    expect(await registry.supportsInterface('0x01ffc9a7')).toBe(true); // ERC-165 itself
    expect(await registry.supportsInterface('0xffffffff')).toBe(false);

    const old = await new ContractFactory(v1Artifact.abi, v1Artifact.bytecode, admin).deploy(admin.address);
    await old.waitForDeployment();
    const oldRegistry = old as unknown as AnchorRegistry;
    expect(await oldRegistry.supportsInterface(STATE_ANCHORING_INTERFACE_ID)).toBe(false);
    expect(await oldRegistry.supportsInterface('0x01ffc9a7')).toBe(true);
  });

  it('costs at most 60,000 gas, against anchor on the same registry', async () => {
    const LIMIT = 60_000n;
    const registry = await registryAnchoredBy(alice);
    const plain = await mined(registry.anchor(1, dense(1), 100));
    const first = await mined(registry.anchorWithState(2, dense(2), 100, dense(3)));
    const later = await mined(registry.anchorWithState(3, dense(4), 100, dense(5)));
    const widest = await mined(
      registry.anchorWithState(4, `0x${'ff'.repeat(32)}`, 0xffff_ffff, `0x${'ff'.repeat(32)}`),
    );
    console.log(
      `gasUsed: anchor ${plain.gasUsed}, anchorWithState ${first.gasUsed} (later ${later.gasUsed}, widest ${widest.gasUsed})`,
    );
    for (const r of [first, later, widest]) expect(r.gasUsed).toBeLessThanOrEqual(LIMIT);
    expect(later.gasUsed).toBe(first.gasUsed);
  });
});
