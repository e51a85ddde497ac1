/**
 * AnchorRegistry on a real Hardhat network over JSON-RPC, driven by ethers v6 as the service drives it.
 * Every test deploys its own registry, so tests share only the chain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ZeroAddress,
  ZeroHash,
  Wallet,
  getCreateAddress,
  id,
  toBeHex,
  zeroPadValue,
  type Log,
  type TransactionReceipt,
} from 'ethers';
import { startDevChain, DEV_DEPLOYER_KEY, type DevChain } from '../../src/chain/dev-chain.ts';
import {
  MerkleTree,
  ZERO32,
  bytesToHex,
  eventLeaf,
  keccak256Hex,
  processProof,
  utf8,
  type Hex,
} from '../../src/core/index.ts';
import {
  DEV_KEY_1,
  DEV_KEY_2,
  as,
  decodeError,
  deployRegistry,
  devProvider,
  expectCustomError,
  mineInOneBlock,
  mined,
  registryFactory,
  registryInterface,
  revertDataOf,
  type AnchorRegistry,
} from './registry-helpers.ts';

const GAS_LIMIT = 200_000n;
const MAX_UINT32 = 0xffff_ffff;
const MAX_UINT64 = 2n ** 64n - 1n;
const ANCHORER_ROLE = id('ANCHORER_ROLE');
const DEFAULT_ADMIN_ROLE = ZeroHash;

let chain: DevChain;
let provider: ReturnType<typeof devProvider>;
/** Account #0: deploys and administers the registries unless a test says otherwise. */
let admin: Wallet;
/** Accounts #1 and #2: anchorers, or outsiders without a role. */
let alice: Wallet;
let bob: Wallet;

beforeAll(async () => {
  chain = await startDevChain({ port: 0 });
  provider = devProvider(chain.url, chain.chainId);
  admin = new Wallet(DEV_DEPLOYER_KEY, provider);
  alice = new Wallet(DEV_KEY_1, provider);
  bob = new Wallet(DEV_KEY_2, provider);
  for (const wallet of [admin, alice, bob]) {
    if ((await provider.getBalance(wallet.address)) === 0n) {
      throw new Error(`${wallet.address} is not a funded Hardhat development account`);
    }
  }
});

afterAll(async () => {
  provider?.destroy();
  await chain?.close();
});

/** A deterministic pseudo-random 32-byte value (reproducible, unlike crypto randomness). */
function pseudoRandom32(label: string): Hex {
  return keccak256Hex(utf8(label));
}

/** Flips the lowest bit of the last byte. */
function tamper(hex: string): Hex {
  const last = parseInt(hex.slice(-2), 16) ^ 1;
  return `${hex.slice(0, -2)}${last.toString(16).padStart(2, '0')}` as Hex;
}

/** The BatchAnchored logs of a receipt, decoded. */
function batchAnchoredLogs(logs: readonly Log[]) {
  return logs
    .map((log) => ({ log, parsed: registryInterface.parseLog(log) }))
    .filter(({ parsed }) => parsed?.name === 'BatchAnchored');
}

/** A fresh registry administered by account #0 with `signer` as its anchorer, seen from `signer`'s side. */
async function registryAnchoredBy(signer: Wallet): Promise<AnchorRegistry> {
  return as(await deployRegistry(admin, { anchorers: [signer.address] }), signer);
}

async function anchorMany(registry: AnchorRegistry, count: number): Promise<void> {
  const start = Number(await registry.nextBatchId());
  for (let i = 0; i < count; i++) {
    await mined(registry.anchor(start + i, pseudoRandom32(`batch-${start + i}`), 1));
  }
}

describe('deployment', () => {
  it('starts at batch id 1 with nothing anchored', async () => {
    const registry = await deployRegistry(admin);
    expect(await registry.nextBatchId()).toBe(1n);
    expect(await registry.rootOf(1)).toBe(ZeroHash);
    expect(await registry.rootOf(0)).toBe(ZeroHash);
  });

  it('gives DEFAULT_ADMIN_ROLE to the admin passed in, not to the deployer, and ANCHORER_ROLE to no one', async () => {
    const registry = await deployRegistry(admin, { admin: alice.address });
    expect(await registry.ANCHORER_ROLE()).toBe(ANCHORER_ROLE);
    expect(await registry.DEFAULT_ADMIN_ROLE()).toBe(DEFAULT_ADMIN_ROLE);
    expect(await registry.hasRole(DEFAULT_ADMIN_ROLE, alice.address)).toBe(true);
    expect(await registry.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).toBe(false);
    expect(await registry.getRoleAdmin(ANCHORER_ROLE)).toBe(DEFAULT_ADMIN_ROLE);
    for (const account of [admin, alice, bob]) {
      expect(await registry.hasRole(ANCHORER_ROLE, account.address)).toBe(false);
    }
  });

  it('emits RoleGranted for the admin from the constructor', async () => {
    const registry = await deployRegistry(admin, { admin: alice.address });
    const receipt = await registry.deploymentTransaction()!.wait();
    const granted = receipt!.logs.map((log) => registryInterface.parseLog(log)).filter((p) => p !== null);
    expect(granted.map((p) => [p.name, ...p.args])).toEqual([
      ['RoleGranted', DEFAULT_ADMIN_ROLE, alice.address, admin.address],
    ]);
  });

  it('reverts with ZeroAdmin for the zero address, and deploys nothing', async () => {
    const nonce = await provider.getTransactionCount(admin.address);
    await expectCustomError(registryFactory(admin).deploy(ZeroAddress), 'ZeroAdmin');
    expect(await provider.getTransactionCount(admin.address)).toBe(nonce);
    expect(await provider.getCode(getCreateAddress({ from: admin.address, nonce }))).toBe('0x');
  });

  it('reverts with ZeroAdmin when the failing deployment is mined', async () => {
    const nonce = await provider.getTransactionCount(admin.address);
    const deployTx = await registryFactory(admin).getDeployTransaction(ZeroAddress);
    const [receipt] = await mineInOneBlock(provider, [
      () => admin.sendTransaction({ ...deployTx, gasLimit: 1_000_000n }),
    ]);
    expect(receipt!.status).toBe(0);
    expect(decodeError(await revertDataOf(provider, receipt!.hash)).name).toBe('ZeroAdmin');
    expect(await provider.getCode(getCreateAddress({ from: admin.address, nonce }))).toBe('0x');
  });
});

describe('batch ordering', () => {
  it('anchors ids 1 and 2 in order, advancing nextBatchId and storing each root', async () => {
    const registry = await registryAnchoredBy(alice);
    const [root1, root2] = [pseudoRandom32('order-1'), pseudoRandom32('order-2')];

    await mined(registry.anchor(1, root1, 4));
    expect(await registry.nextBatchId()).toBe(2n);
    expect(await registry.rootOf(1)).toBe(root1);
    expect(await registry.rootOf(2)).toBe(ZeroHash);

    await mined(registry.anchor(2, root2, 9));
    expect(await registry.nextBatchId()).toBe(3n);
    expect(await registry.rootOf(1)).toBe(root1);
    expect(await registry.rootOf(2)).toBe(root2);
  });

  it('rejects re-anchoring, skipping and id 0 with BatchOutOfOrder(expected, got), changing nothing', async () => {
    const registry = await registryAnchoredBy(alice);
    const [root1, root2] = [pseudoRandom32('reorder-1'), pseudoRandom32('reorder-2')];
    await mined(registry.anchor(1, root1, 1));
    await mined(registry.anchor(2, root2, 1));
    const other = pseudoRandom32('reorder-other');

    await expectCustomError(registry.anchor(1, other, 1), 'BatchOutOfOrder', [3n, 1n]);
    await expectCustomError(registry.anchor(2, other, 1), 'BatchOutOfOrder', [3n, 2n]);
    await expectCustomError(registry.anchor(4, other, 1), 'BatchOutOfOrder', [3n, 4n]);
    await expectCustomError(registry.anchor(0, other, 1), 'BatchOutOfOrder', [3n, 0n]);
    await expectCustomError(registry.anchor(MAX_UINT64, other, 1), 'BatchOutOfOrder', [3n, MAX_UINT64]);

    expect(await registry.nextBatchId()).toBe(3n);
    expect(await registry.rootOf(1)).toBe(root1);
    expect(await registry.rootOf(2)).toBe(root2);
    expect(await registry.rootOf(3)).toBe(ZeroHash);
    expect(await registry.rootOf(4)).toBe(ZeroHash);
    expect(await registry.rootOf(0)).toBe(ZeroHash);

    // The expected id still works after all those rejections.
    await mined(registry.anchor(3, other, 1));
    expect(await registry.nextBatchId()).toBe(4n);
  });

  it('rejects id 0 on a fresh registry with BatchOutOfOrder(1, 0)', async () => {
    const registry = await registryAnchoredBy(alice);
    await expectCustomError(registry.anchor(0, pseudoRandom32('zero-id'), 1), 'BatchOutOfOrder', [1n, 0n]);
    expect(await registry.nextBatchId()).toBe(1n);
  });

  it('checks the batch id before the root and the leaf count', async () => {
    const registry = await registryAnchoredBy(alice);
    await expectCustomError(registry.anchor(2, ZeroHash, 0), 'BatchOutOfOrder', [1n, 2n]);
    await expectCustomError(registry.anchor(1, ZeroHash, 0), 'ZeroRoot');
  });

  it('lets only one of two racing anchorers (same id, same block) win; the other reverts on chain', async () => {
    const deployed = await deployRegistry(admin, { anchorers: [alice.address, bob.address] });
    const asAlice = as(deployed, alice);
    const asBob = as(deployed, bob);
    await anchorMany(asAlice, 2);
    const rootA = pseudoRandom32('race-alice');
    const rootB = pseudoRandom32('race-bob');

    const receipts = await mineInOneBlock(provider, [
      () => asAlice.anchor(3, rootA, 10, { gasLimit: GAS_LIMIT }),
      () => asBob.anchor(3, rootB, 20, { gasLimit: GAS_LIMIT }),
    ]);
    const [rA, rB] = receipts as [TransactionReceipt, TransactionReceipt];
    expect(rA.blockNumber).toBe(rB.blockNumber);
    expect([rA.status, rB.status].sort()).toEqual([0, 1]);

    const winner =
      rA.status === 1
        ? { receipt: rA, root: rootA, leafCount: 10n }
        : { receipt: rB, root: rootB, leafCount: 20n };
    const loser = rA.status === 1 ? rB : rA;
    const loserError = decodeError(await revertDataOf(provider, loser.hash));
    expect(loserError.name).toBe('BatchOutOfOrder');
    expect([...loserError.args]).toEqual([4n, 3n]);
    expect(loser.logs).toHaveLength(0);

    expect(await deployed.rootOf(3)).toBe(winner.root);
    expect(await deployed.nextBatchId()).toBe(4n);
    const anchored = batchAnchoredLogs(winner.receipt.logs);
    expect(anchored.map(({ parsed }) => [...parsed!.args])).toEqual([[3n, winner.root, winner.leafCount]]);
  });

  it('rejects a racer that sends after the winner is mined, before it reaches the chain', async () => {
    const deployed = await deployRegistry(admin, { anchorers: [alice.address, bob.address] });
    const rootA = pseudoRandom32('late-alice');
    await mined(as(deployed, alice).anchor(1, rootA, 1));
    const bobNonce = await provider.getTransactionCount(bob.address);

    await expectCustomError(as(deployed, bob).anchor(1, pseudoRandom32('late-bob'), 1), 'BatchOutOfOrder', [
      2n,
      1n,
    ]);
    expect(await provider.getTransactionCount(bob.address)).toBe(bobNonce);
    expect(await deployed.rootOf(1)).toBe(rootA);
    expect(await deployed.nextBatchId()).toBe(2n);
  });
});

describe('input checks', () => {
  it('rejects a zero root with ZeroRoot and a zero leaf count with EmptyBatch', async () => {
    const registry = await registryAnchoredBy(alice);
    await expectCustomError(registry.anchor(1, ZeroHash, 5), 'ZeroRoot');
    await expectCustomError(registry.anchor(1, pseudoRandom32('empty'), 0), 'EmptyBatch');
    expect(await registry.nextBatchId()).toBe(1n);
    expect(await registry.rootOf(1)).toBe(ZeroHash);
  });

  it('leaves state unchanged when ZeroRoot and EmptyBatch reverts are mined', async () => {
    const registry = await registryAnchoredBy(alice);
    const root1 = pseudoRandom32('mined-revert-1');
    await mined(registry.anchor(1, root1, 3));

    const receipts = await mineInOneBlock(provider, [
      () => registry.anchor(2, ZeroHash, 5, { gasLimit: GAS_LIMIT }),
      () => registry.anchor(2, pseudoRandom32('mined-revert-2'), 0, { gasLimit: GAS_LIMIT }),
    ]);
    const names: string[] = [];
    for (const receipt of receipts) {
      expect(receipt.status).toBe(0);
      expect(receipt.logs).toHaveLength(0);
      const parsed = decodeError(await revertDataOf(provider, receipt.hash));
      expect([...parsed.args]).toEqual([]);
      names.push(parsed.name);
    }
    expect(names).toEqual(['ZeroRoot', 'EmptyBatch']);

    expect(await registry.nextBatchId()).toBe(2n);
    expect(await registry.rootOf(1)).toBe(root1);
    expect(await registry.rootOf(2)).toBe(ZeroHash);
  });

  it('accepts the largest uint32 leaf count and a root of all one-bits', async () => {
    const registry = await registryAnchoredBy(alice);
    const root = `0x${'ff'.repeat(32)}`;
    const receipt = await mined(registry.anchor(1, root, MAX_UINT32));
    expect(batchAnchoredLogs(receipt.logs).map(({ parsed }) => [...parsed!.args])).toEqual([
      [1n, root, BigInt(MAX_UINT32)],
    ]);
    expect(await registry.rootOf(1)).toBe(root);
  });
});

describe('access control', () => {
  it('rejects an account without ANCHORER_ROLE, including the admin itself', async () => {
    const registry = await deployRegistry(admin);
    const root = pseudoRandom32('unauthorised');
    await expectCustomError(as(registry, bob).anchor(1, root, 1), 'AccessControlUnauthorizedAccount', [
      bob.address,
      ANCHORER_ROLE,
    ]);
    await expectCustomError(registry.anchor(1, root, 1), 'AccessControlUnauthorizedAccount', [
      admin.address,
      ANCHORER_ROLE,
    ]);
    expect(await registry.nextBatchId()).toBe(1n);
  });

  it('checks the role before the batch id', async () => {
    const registry = await deployRegistry(admin);
    await expectCustomError(as(registry, bob).anchor(7, ZeroHash, 0), 'AccessControlUnauthorizedAccount', [
      bob.address,
      ANCHORER_ROLE,
    ]);
  });

  it('lets the admin grant ANCHORER_ROLE (RoleGranted) and revoke it (RoleRevoked)', async () => {
    const registry = await deployRegistry(admin);
    const asBob = as(registry, bob);

    const grant = await mined(registry.grantRole(ANCHORER_ROLE, bob.address));
    const grantEvents = grant.logs.map((log) => registryInterface.parseLog(log)).filter((p) => p !== null);
    expect(grantEvents.map((p) => [p.name, ...p.args])).toEqual([
      ['RoleGranted', ANCHORER_ROLE, bob.address, admin.address],
    ]);
    // role, account and sender are all indexed.
    expect(grant.logs[0]!.topics).toEqual([
      registryInterface.getEvent('RoleGranted')!.topicHash,
      ANCHORER_ROLE,
      zeroPadValue(bob.address.toLowerCase(), 32),
      zeroPadValue(admin.address.toLowerCase(), 32),
    ]);
    expect(await registry.hasRole(ANCHORER_ROLE, bob.address)).toBe(true);

    const root1 = pseudoRandom32('granted-1');
    await mined(asBob.anchor(1, root1, 1));
    expect(await registry.rootOf(1)).toBe(root1);

    const revoke = await mined(registry.revokeRole(ANCHORER_ROLE, bob.address));
    const revokeEvents = revoke.logs.map((log) => registryInterface.parseLog(log)).filter((p) => p !== null);
    expect(revokeEvents.map((p) => [p.name, ...p.args])).toEqual([
      ['RoleRevoked', ANCHORER_ROLE, bob.address, admin.address],
    ]);
    expect(await registry.hasRole(ANCHORER_ROLE, bob.address)).toBe(false);

    await expectCustomError(
      asBob.anchor(2, pseudoRandom32('granted-2'), 1),
      'AccessControlUnauthorizedAccount',
      [bob.address, ANCHORER_ROLE],
    );
    expect(await registry.nextBatchId()).toBe(2n);
  });

  it('does not let a non-admin grant or revoke roles, not even an anchorer', async () => {
    const registry = await deployRegistry(admin, { anchorers: [alice.address] });
    const asAlice = as(registry, alice);
    await expectCustomError(
      asAlice.grantRole(ANCHORER_ROLE, bob.address),
      'AccessControlUnauthorizedAccount',
      [alice.address, DEFAULT_ADMIN_ROLE],
    );
    await expectCustomError(
      as(registry, bob).grantRole(ANCHORER_ROLE, bob.address),
      'AccessControlUnauthorizedAccount',
      [bob.address, DEFAULT_ADMIN_ROLE],
    );
    await expectCustomError(
      asAlice.grantRole(DEFAULT_ADMIN_ROLE, alice.address),
      'AccessControlUnauthorizedAccount',
      [alice.address, DEFAULT_ADMIN_ROLE],
    );
    await expectCustomError(
      asAlice.revokeRole(ANCHORER_ROLE, alice.address),
      'AccessControlUnauthorizedAccount',
      [alice.address, DEFAULT_ADMIN_ROLE],
    );
    expect(await registry.hasRole(ANCHORER_ROLE, bob.address)).toBe(false);
    expect(await registry.hasRole(ANCHORER_ROLE, alice.address)).toBe(true);
    expect(await registry.hasRole(DEFAULT_ADMIN_ROLE, alice.address)).toBe(false);
  });
});

describe('BatchAnchored event', () => {
  it('carries batchId, root and leafCount, with batchId and root as indexed topics', async () => {
    const registry = await registryAnchoredBy(alice);
    const address = await registry.getAddress();
    const event = registryInterface.getEvent('BatchAnchored')!;

    for (const [batchId, leafCount] of [
      [1, 1],
      [2, 1000],
      [3, 123_456],
    ] as const) {
      const root = pseudoRandom32(`event-${batchId}`);
      const receipt = await mined(registry.anchor(batchId, root, leafCount));
      expect(receipt.logs).toHaveLength(1);
      const log = receipt.logs[0]!;
      expect(log.address).toBe(address);
      expect(log.topics).toEqual([event.topicHash, zeroPadValue(toBeHex(batchId), 32), root]);
      expect(log.data).toBe(zeroPadValue(toBeHex(leafCount), 32));

      const parsed = registryInterface.parseLog(log)!;
      expect(parsed.name).toBe('BatchAnchored');
      expect(parsed.args.getValue('batchId')).toBe(BigInt(batchId));
      expect(parsed.args.getValue('root')).toBe(root);
      expect(parsed.args.getValue('leafCount')).toBe(BigInt(leafCount));
    }
  });

  it('can be looked up by its indexed batch id and root', async () => {
    const registry = await registryAnchoredBy(alice);
    await anchorMany(registry, 3);
    const root2 = await registry.rootOf(2);

    const byId = await registry.queryFilter(registry.getEvent('BatchAnchored')(2));
    expect(byId.map((log) => registryInterface.parseLog(log)!.args.getValue('root'))).toEqual([root2]);
    const byRoot = await registry.queryFilter(registry.getEvent('BatchAnchored')(null, root2));
    expect(byRoot.map((log) => registryInterface.parseLog(log)!.args.getValue('batchId'))).toEqual([2n]);
    const all = await registry.queryFilter(registry.getEvent('BatchAnchored')());
    expect(all.map((log) => registryInterface.parseLog(log)!.args.getValue('batchId'))).toEqual([1n, 2n, 3n]);
  });
});

describe('verify()', () => {
  function pseudoRandomLeaves(count: number, label: string): Hex[] {
    return Array.from({ length: count }, (_, i) => pseudoRandom32(`${label}-leaf-${i}`));
  }

  /** A record's lifecycle as the service would produce it: issuance, then events chained to it. */
  function recordLeaves(recordId: string, count: number): Hex[] {
    const leaves: Hex[] = [];
    for (let seq = 0; seq < count; seq++) {
      leaves.push(
        eventLeaf({
          recordId,
          seq,
          prevLeaf: seq === 0 ? ZERO32 : leaves[seq - 1]!,
          content: {
            kind: seq === 0 ? 'issued' : 'transferred',
            salt: pseudoRandom32(`${recordId}-salt-${seq}`),
          },
        }),
      );
    }
    return leaves;
  }

  const trees: Array<{ name: string; leaves: Hex[]; sample?: number[] }> = [
    { name: '1 leaf', leaves: pseudoRandomLeaves(1, 'one') },
    { name: '2 leaves', leaves: pseudoRandomLeaves(2, 'two') },
    { name: '3 event leaves of one record', leaves: recordLeaves('record-3', 3) },
    { name: '7 leaves', leaves: pseudoRandomLeaves(7, 'seven') },
    {
      name: '100 leaves',
      leaves: pseudoRandomLeaves(100, 'hundred'),
      sample: [0, 1, 2, 3, 31, 32, 50, 63, 64, 95, 96, 97, 98, 99],
    },
  ];

  for (const { name, leaves, sample } of trees) {
    it(`accepts every proof of a ${name} tree and rejects wrong leaves and tampered proofs`, async () => {
      const registry = await registryAnchoredBy(alice);
      const tree = MerkleTree.fromLeaves(leaves);
      await mined(registry.anchor(1, tree.root, leaves.length));
      const indices = sample ?? leaves.map((_, i) => i);

      for (const i of indices) {
        const leaf = leaves[i]!;
        const proof = tree.proof(i);
        expect(processProof(leaf, proof)).toBe(tree.root); // the core agrees with itself...
        expect(await registry.verify(1, leaf, proof), `leaf ${i}`).toBe(true); // ...and with the chain

        expect(await registry.verify(1, tamper(leaf), proof), `wrong leaf ${i}`).toBe(false);
        for (let k = 0; k < proof.length; k++) {
          const tampered = proof.map((p, j) => (j === k ? tamper(p) : p));
          expect(await registry.verify(1, leaf, tampered), `leaf ${i}, proof[${k}] tampered`).toBe(false);
        }
        if (proof.length > 0) {
          expect(await registry.verify(1, leaf, proof.slice(0, -1)), `leaf ${i}, proof truncated`).toBe(
            false,
          );
        }
        expect(await registry.verify(1, leaf, [...proof, leaf]), `leaf ${i}, proof extended`).toBe(false);
        // The proof is checked against this batch's root only.
        expect(await registry.verify(2, leaf, proof), `leaf ${i}, unanchored batch`).toBe(false);
        expect(await registry.verify(0, leaf, proof), `leaf ${i}, batch 0`).toBe(false);
      }
      if (leaves.length > 1) {
        // Another leaf of the same tree cannot borrow leaf 0's proof.
        expect(await registry.verify(1, leaves[leaves.length - 1]!, tree.proof(0))).toBe(false);
      }
    });
  }

  it('rejects a valid proof checked against another anchored batch', async () => {
    const registry = await registryAnchoredBy(alice);
    const treeA = MerkleTree.fromLeaves(pseudoRandomLeaves(7, 'batch-a'));
    const treeB = MerkleTree.fromLeaves(pseudoRandomLeaves(7, 'batch-b'));
    await mined(registry.anchor(1, treeA.root, 7));
    await mined(registry.anchor(2, treeB.root, 7));

    for (let i = 0; i < 7; i++) {
      expect(await registry.verify(1, treeA.leaf(i), treeA.proof(i))).toBe(true);
      expect(await registry.verify(2, treeB.leaf(i), treeB.proof(i))).toBe(true);
      expect(await registry.verify(2, treeA.leaf(i), treeA.proof(i))).toBe(false);
      expect(await registry.verify(1, treeB.leaf(i), treeB.proof(i))).toBe(false);
    }
  });

  it('returns false for an unanchored batch even when the proof would fold to the zero root', async () => {
    const registry = await registryAnchoredBy(alice);
    // Folding an empty proof from the zero leaf gives zero, the "not anchored" root: the
    // root != 0 guard is all that stands between this and `true`.
    expect(await registry.verify(1, ZeroHash, [])).toBe(false);
    expect(await registry.verify(MAX_UINT64, ZeroHash, [])).toBe(false);

    const tree = MerkleTree.fromLeaves(pseudoRandomLeaves(3, 'unanchored'));
    expect(await registry.verify(1, tree.leaf(0), tree.proof(0))).toBe(false);
    await mined(registry.anchor(1, tree.root, 3));
    expect(await registry.verify(1, tree.leaf(0), tree.proof(0))).toBe(true);
    expect(await registry.verify(1, ZeroHash, [])).toBe(false);
    expect(await registry.verify(2, tree.leaf(0), tree.proof(0))).toBe(false);
  });

  it('accepts an inner node with the rest of its proof: telling leaves from nodes is the double-hashed leaf format’s job', async () => {
    const registry = await registryAnchoredBy(alice);
    const tree = MerkleTree.fromLeaves(pseudoRandomLeaves(4, 'inner'));
    await mined(registry.anchor(1, tree.root, 4));
    const inner = tree.node({ level: 1, index: 0 });
    const proof = tree.proof(0).slice(1);
    expect(await registry.verify(1, bytesToHex(inner), proof)).toBe(true);
    // The root itself with an empty proof, too.
    expect(await registry.verify(1, tree.root, [])).toBe(true);
  });
});

describe('gas', () => {
  const LIMIT = 55_000n;
  /** A root with no zero byte, so its calldata costs the most (16 gas a byte). */
  const denseRoot = (n: number) => `0x${'11'.repeat(31)}${(0x10 + n).toString(16)}`;

  it(`anchors for at most ${LIMIT} gas, the first and later batches alike`, async () => {
    const registry = await registryAnchoredBy(alice);
    const measured: Array<[string, bigint]> = [];

    const first = await mined(registry.anchor(1, denseRoot(1), 100));
    measured.push(['first anchor (batch 1)', first.gasUsed]);
    const second = await mined(registry.anchor(2, denseRoot(2), 100));
    measured.push(['second anchor (batch 2)', second.gasUsed]);
    await anchorMany(registry, 7);
    const tenth = await mined(registry.anchor(10, denseRoot(10), 100));
    measured.push(['tenth anchor (batch 10)', tenth.gasUsed]);
    const widest = await mined(registry.anchor(11, `0x${'ff'.repeat(32)}`, MAX_UINT32));
    measured.push(['batch 11, all-0xff root, leafCount 2^32-1', widest.gasUsed]);

    for (const [what, gas] of measured) console.log(`AnchorRegistry.anchor gasUsed, ${what}: ${gas}`);
    for (const [what, gas] of measured) expect(gas, what).toBeLessThanOrEqual(LIMIT);
    // One new slot and one counter update each time: the cost does not grow with the batch id.
    expect(second.gasUsed).toBe(first.gasUsed);
    expect(tenth.gasUsed).toBe(first.gasUsed);
  });
});
