/**
 * `proofmark verify <bundle.json|URL>`: the pure checks first (no network), then the chain named in
 * the bundle through --rpc. A bundle is not verified until its root has been found on that chain.
 * Each bundle costs at most MAX_RPC_CALLS_PER_BUNDLE calls, whatever it claims (chain/bundle-check.ts).
 */
import { readFile } from 'node:fs/promises';
import { verifyBundle, type BundleFailure, type ProofBundleV1 } from '../../core/index.ts';
import { verifyBundleOnChain, type ChainFailure } from '../../chain/bundle-check.ts';
import { connectRegistry, LOG_WINDOW_BLOCKS, type AnchorChain } from '../../chain/registry.ts';
import { DEFAULT_RPC_TIMEOUT_MS, openRpcProvider } from '../../chain/rpc-provider.ts';
import { fetchJson } from '../../client/client.ts';
import { CliError, errorMessage, printable, println } from '../output.ts';

export interface VerifyOptions {
  rpc?: string;
  confirmations: number;
  /** Pins the registry: without it, a bundle is checked against the contract it names. */
  contract?: string;
}

const FAILURE_LABEL: Record<BundleFailure | ChainFailure, string> = {
  malformed: 'malformed bundle',
  leaf_mismatch: 'leaf mismatch',
  proof_mismatch: 'proof does not reach root',
  not_anchored: 'pending',
  chain_id_mismatch: 'chain id mismatch',
  contract_mismatch: 'contract mismatch',
  root_not_on_chain: 'root not on chain',
  not_final: 'not final',
};

export async function verifyCommand(source: string, opts: VerifyOptions): Promise<void> {
  const bundles = await loadBundles(source);

  // Step 1, pure: shape, leaf, proof up to the root. Needs nothing but the bundle.
  for (const [i, value] of bundles.entries()) {
    const verdict = verifyBundle(value);
    if (!verdict.valid) throw failure(verdict.failure, verdict.reason, value, i, bundles.length);
  }
  const checked = bundles as ProofBundleV1[];

  if (opts.rpc === undefined) {
    const { chainId, contract } = checked[0]!.anchor;
    throw new CliError(
      `chain step not done: pure checks passed for ${describeCount(checked.length)}, but a bundle is not verified ` +
        `until its root is found on chain; pass --rpc URL for chain ${chainId} (contract ${contract})`,
    );
  }

  // Step 2, the chain: same chain id, the root under its batch id, and deep enough.
  const rpcChainId = await chainIdOf(opts.rpc);
  const chains = new Map<string, AnchorChain>();
  try {
    for (const [i, bundle] of checked.entries()) {
      if (bundle.anchor.chainId !== rpcChainId) {
        throw failure(
          'chain_id_mismatch',
          `bundle names chain ${bundle.anchor.chainId}, the RPC serves chain ${rpcChainId}`,
          bundle,
          i,
          checked.length,
        );
      }
      const key = bundle.anchor.contract.toLowerCase();
      if (opts.contract !== undefined && key !== opts.contract.toLowerCase()) {
        throw failure(
          'contract_mismatch',
          `bundle names contract ${bundle.anchor.contract}, not the trusted ${opts.contract}`,
          bundle,
          i,
          checked.length,
        );
      }
      let chain = chains.get(key);
      if (!chain) {
        chain = await connect(opts.rpc, bundle.anchor.contract, rpcChainId);
        chains.set(key, chain);
      }
      const verdict = await verifyBundleOnChain(chain, bundle, opts.confirmations);
      if (!verdict.valid) throw failure(verdict.failure, verdict.reason, bundle, i, checked.length);
      const depth =
        verdict.blockNumber === null
          ? `at least ${verdict.confirmations} confirmation${verdict.confirmations === 1 ? '' : 's'} (the anchoring block is neither the bundle's nor among the latest ${LOG_WINDOW_BLOCKS})`
          : `block ${verdict.blockNumber}, ${verdict.confirmations} confirmation${verdict.confirmations === 1 ? '' : 's'}`;
      println(
        `verified: record ${printable(bundle.recordId)} seq ${bundle.seq}: batch ${bundle.batchId}, ${depth} ` +
          `(chain ${chain.chainId}, contract ${chain.contract})`,
      );
    }
  } finally {
    for (const chain of chains.values()) chain.close();
  }
}

/** A bundle file or URL: one bundle, or `{recordId, bundles:[...]}` as GET /v1/records/:id/proofs returns. */
async function loadBundles(source: string): Promise<unknown[]> {
  let doc: unknown;
  if (/^https?:\/\//i.test(source)) {
    doc = await fetchJson(source);
  } else {
    let bytes: Buffer;
    try {
      bytes = await readFile(source);
    } catch (err) {
      throw new CliError(`cannot read ${source}: ${errorMessage(err)}`, 1, { cause: err });
    }
    let text: string;
    try {
      // Strictly: stray bytes decoded to U+FFFD would verify something other than what the file says.
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (err) {
      throw new CliError(`${printable(source)} is not valid UTF-8`, 1, { cause: err });
    }
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new CliError(`${source} is not valid JSON: ${errorMessage(err)}`, 1, { cause: err });
    }
  }
  if (Array.isArray(doc)) return nonEmpty(doc, source);
  if (typeof doc === 'object' && doc !== null && Array.isArray((doc as { bundles?: unknown }).bundles)) {
    return nonEmpty((doc as { bundles: unknown[] }).bundles, source);
  }
  return [doc];
}

function nonEmpty(bundles: unknown[], source: string): unknown[] {
  if (bundles.length === 0) throw new CliError(`${source} holds no bundles`);
  return bundles;
}

async function chainIdOf(rpcUrl: string): Promise<number> {
  const provider = openRpcProvider(rpcUrl, { timeoutMs: DEFAULT_RPC_TIMEOUT_MS });
  try {
    return Number((await provider.getNetwork()).chainId);
  } catch (err) {
    throw new CliError(`cannot reach RPC ${rpcUrl}: ${errorMessage(err)}`, 1, { cause: err });
  } finally {
    provider.destroy();
  }
}

async function connect(rpcUrl: string, contract: string, chainId: number): Promise<AnchorChain> {
  try {
    return await connectRegistry({ rpcUrl, contract, rpcTimeoutMs: DEFAULT_RPC_TIMEOUT_MS });
  } catch (err) {
    const message = errorMessage(err);
    if (message.startsWith('no contract at')) {
      throw new CliError(`root not on chain: ${message} (the contract named in the bundle)`, 1, {
        cause: err,
      });
    }
    throw new CliError(`cannot read contract ${contract} on chain ${chainId}: ${message}`, 1, { cause: err });
  }
}

function failure(
  code: BundleFailure | ChainFailure,
  reason: string,
  bundle: unknown,
  index: number,
  count: number,
): CliError {
  return new CliError(`${FAILURE_LABEL[code]}: ${whichBundle(bundle, index, count)}${reason}`);
}

function whichBundle(bundle: unknown, index: number, count: number): string {
  const b = bundle as Partial<ProofBundleV1> | null;
  if (b && typeof b.recordId === 'string' && typeof b.seq === 'number')
    return `record ${printable(b.recordId)} seq ${b.seq}: `;
  return count > 1 ? `bundle ${index + 1} of ${count}: ` : '';
}

function describeCount(n: number): string {
  return n === 1 ? 'the bundle' : `all ${n} bundles`;
}
