/**
 * Case 6, chain cost: gas of `anchor` on the development chain, read from receipts, through the
 * service's own chain client (connectRegistry: signAnchor + broadcast, as the batcher sends them).
 * Batches of 1,000, 100,000 and 1,000,000 leaves, twice over; the first anchor of a fresh registry is
 * reported apart. Gas per record = anchor gas / records in the batch.
 *
 * Alone: `npx tsx bench/cases/chain-cost.ts [--json-out file]`.
 */
import { JsonRpcProvider } from 'ethers';
import { bytesToHex, type Hex } from '../../src/core/index.ts';
import { deployRegistry } from '../../src/chain/deploy.ts';
import { DEV_DEPLOYER_KEY, startDevChain } from '../../src/chain/dev-chain.ts';
import { connectRegistry } from '../../src/chain/registry.ts';
import { caseMain, type CaseOptions, type CaseReport, type Target } from '../lib/case.ts';
import { isMain } from '../lib/child.ts';
import { progress } from '../lib/log.ts';
import { packageVersion } from '../lib/machine.ts';
import { Prng } from '../lib/prng.ts';
import { median, round } from '../lib/stats.ts';
import { num, table } from '../lib/markdown.ts';

const SIZES = [1_000, 100_000, 1_000_000];

export interface AnchorGas {
  batchId: number;
  leafCount: number;
  gasUsed: number;
  gasPerRecord: number;
  first: boolean;
}

export interface ChainCostResult {
  hardfork: string;
  deployGas: number;
  grantRoleGas: number;
  anchors: AnchorGas[];
  firstAnchorGas: number;
  subsequentAnchorGas: { median: number; min: number; max: number };
  perSize: Array<{ records: number; anchorGas: number; anchorGasValues: number[]; gasPerRecord: number }>;
  notes: string[];
  targets: Target[];
  versions: Record<string, string | null>;
}

export async function runChainCost(_opts: CaseOptions): Promise<ChainCostResult> {
  const devChain = await startDevChain({ port: 0 });
  const provider = new JsonRpcProvider(devChain.url, undefined, { staticNetwork: true, pollingInterval: 50 });
  try {
    progress('chain-cost: deploying AnchorRegistry on a fresh development chain');
    const deployment = await deployRegistry(provider, DEV_DEPLOYER_KEY);
    const deployReceipt = await provider.getTransactionReceipt(deployment.txHash);
    const grantBlock = await provider.getBlock(deployment.blockNumber + 1, true);
    const grantReceipt = grantBlock?.transactions[0]
      ? await provider.getTransactionReceipt(grantBlock.transactions[0])
      : null;
    const chain = await connectRegistry({
      rpcUrl: devChain.url,
      contract: deployment.address,
      anchorerKey: DEV_DEPLOYER_KEY,
      pollMs: 50,
    });
    const prng = new Prng(0xc0a5);
    const anchors: AnchorGas[] = [];
    const plan = [...SIZES, ...SIZES];
    for (let i = 0; i < plan.length; i++) {
      const batchId = i + 1;
      const leafCount = plan[i]!;
      const root = bytesToHex(prng.bytes(32)) as Hex;
      const { rawTx, txHash } = await chain.signAnchor(batchId, root, leafCount);
      await chain.broadcast(rawTx);
      // Automine: the receipt is there as soon as the broadcast returns; poll briefly in case it is not.
      let receipt = await provider.getTransactionReceipt(txHash);
      for (let tries = 0; !receipt && tries < 200; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        receipt = await provider.getTransactionReceipt(txHash);
      }
      if (!receipt || receipt.status !== 1) throw new Error(`anchor of batch ${batchId} failed`);
      const gasUsed = Number(receipt.gasUsed);
      anchors.push({
        batchId,
        leafCount,
        gasUsed,
        gasPerRecord: round(gasUsed / leafCount, 4),
        first: batchId === 1,
      });
      progress(`chain-cost: batch ${batchId} (${leafCount} leaves) anchored for ${gasUsed} gas`);
    }
    chain.close();
    const subsequent = anchors.filter((a) => !a.first).map((a) => a.gasUsed);
    const perSize = SIZES.map((records) => {
      const values = anchors.filter((a) => a.leafCount === records).map((a) => a.gasUsed);
      const gas = median(values);
      return { records, anchorGas: gas, anchorGasValues: values, gasPerRecord: round(gas / records, 4) };
    });
    const worst = Math.max(...anchors.map((a) => a.gasUsed));
    const first = anchors[0]!.gasUsed;
    const sub = { median: median(subsequent), min: Math.min(...subsequent), max: Math.max(...subsequent) };
    return {
      hardfork: 'cancun',
      deployGas: Number(deployReceipt?.gasUsed ?? 0),
      grantRoleGas: Number(grantReceipt?.gasUsed ?? 0),
      anchors,
      firstAnchorGas: first,
      subsequentAnchorGas: sub,
      perSize,
      notes: [
        'Gas from the receipts of real anchor transactions on the embedded Hardhat network (cancun), signed and sent by ' +
          "the service's chain client. Each anchor writes one new root slot and updates the batch counter.",
        'The anchor does not depend on the batch size, except for calldata: leafCount is a uint32 argument, and a ' +
          'non-zero calldata byte costs 16 gas against 4 for a zero byte, so larger counts and roots with fewer zero ' +
          'bytes cost a few dozen gas more.',
        'The first anchor costs what later ones do: the constructor already set the batch counter to 1, so every anchor ' +
          'updates a non-zero slot and creates one new root slot.',
      ],
      targets: [
        {
          id: 'anchor-gas',
          case: 'chain-cost',
          target: 'at most 55,000 gas per anchor',
          figure: `${worst.toLocaleString('en')} gas at most (first anchor ${first.toLocaleString('en')}, later ones ${sub.min.toLocaleString('en')}-${sub.max.toLocaleString('en')}); per record ${perSize.map((p) => `${p.gasPerRecord} at ${p.records.toLocaleString('en')}`).join(', ')}`,
          pass: worst <= 55_000,
        },
      ],
      versions: { hardhat: packageVersion('hardhat'), ethers: packageVersion('ethers') },
    };
  } finally {
    provider.destroy();
    await devChain.close();
  }
}

/** The report's section: gas of every anchor, per record by batch size, and deployment for reference. */
export const chainCostReport: CaseReport<ChainCostResult> = {
  title: 'Chain cost',
  section: (r) =>
    [
      table(
        ['batch', 'records', 'anchor gas', 'gas per record'],
        r.anchors.map((a) => [
          `${a.batchId}${a.first ? ' (first)' : ''}`,
          num(a.leafCount),
          num(a.gasUsed),
          num(a.gasPerRecord, 4),
        ]),
      ),
      '',
      `First anchor ${num(r.firstAnchorGas)} gas; later anchors ${num(r.subsequentAnchorGas.min)}-${num(r.subsequentAnchorGas.max)} gas. ` +
        `Gas per record: ${r.perSize.map((p) => `${num(p.gasPerRecord, 4)} at ${num(p.records)} records`).join(', ')}. ` +
        `For reference: deployment ${num(r.deployGas)} gas, granting ANCHORER_ROLE ${num(r.grantRoleGas)} gas (${r.hardfork}).`,
      '',
      ...r.notes.map((x) => `- ${x}`),
    ].join('\n'),
};

if (isMain(import.meta.url)) await caseMain(runChainCost);
