/**
 * `proofmark verify <bundle.json|URL>`: the pure checks first (no network), then the chain named in
 * the bundle through --rpc. A bundle is not verified until its root has been found on that chain.
 * Each bundle costs at most MAX_RPC_CALLS_PER_BUNDLE calls, whatever it claims (chain/bundle-check.ts).
 */
import { readFile } from 'node:fs/promises';
import {
  asV1,
  BUNDLE_FORMAT_V2,
  verifyBundle,
  verifyBundleV2,
  type BundleFailure,
  type ProofBundleV1,
  type ProofBundleV2,
} from '../../core/index.ts';
import { verifyBundleOnChain, type ChainFailure } from '../../chain/bundle-check.ts';
import { freshnessOnChain } from '../../chain/freshness.ts';
import { connectRegistry, LOG_WINDOW_BLOCKS, type AnchorChain } from '../../chain/registry.ts';
import { DEFAULT_RPC_TIMEOUT_MS, openRpcProvider } from '../../chain/rpc-provider.ts';
import { ApiClient, fetchJson } from '../../client/client.ts';
import { CliError, errorMessage, printable, println } from '../output.ts';

export interface VerifyOptions {
  rpc?: string;
  confirmations: number;
  /** Pins the registry: without it, a bundle is checked against the contract it names. */
  contract?: string;
  /** The service to ask (untrusted) for the record's latest state proof: checks freshness. */
  api?: string;
}

/** Exit status when the bundle verifies but a later event superseded it (revoked, refunded, ...). */
export const EXIT_SUPERSEDED = 3;

const FAILURE_LABEL: Record<BundleFailure | ChainFailure | 'state_mismatch', string> = {
  malformed: 'malformed bundle',
  leaf_mismatch: 'leaf mismatch',
  proof_mismatch: 'proof does not reach root',
  not_anchored: 'pending',
  chain_id_mismatch: 'chain id mismatch',
  contract_mismatch: 'contract mismatch',
  root_not_on_chain: 'root not on chain',
  not_final: 'not final',
  state_mismatch: 'state proof does not match',
};

export async function verifyCommand(source: string, opts: VerifyOptions): Promise<void> {
  const bundles = await loadBundles(source);

  // Step 1, pure: shape, leaf, proof up to the root (and a v2 bundle's state proof up to its state
  // root). Needs nothing but the bundle.
  const checked: ProofBundleV1[] = [];
  const v2 = new Map<ProofBundleV1, ProofBundleV2>();
  for (const [i, value] of bundles.entries()) {
    if (isV2(value)) {
      const verdict = verifyBundleV2(value);
      if (!verdict.valid) throw failure(verdict.failure, verdict.reason, value, i, bundles.length);
      const v1 = asV1(verdict.bundle);
      v2.set(v1, verdict.bundle);
      checked.push(v1);
      continue;
    }
    const verdict = verifyBundle(value);
    if (!verdict.valid) throw failure(verdict.failure, verdict.reason, value, i, bundles.length);
    checked.push(verdict.bundle);
  }

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
      const withState = v2.get(bundle);
      if (withState) await checkStateOnChain(chain, withState, i, checked.length);
      // Without --api the note goes on the same line, so each bundle stays one line of output.
      const note =
        opts.api === undefined ? `; verified as of batch ${bundle.batchId}; freshness not checked` : '';
      println(
        `verified: record ${printable(bundle.recordId)} seq ${bundle.seq}: batch ${bundle.batchId}, ${depth} ` +
          `(chain ${chain.chainId}, contract ${chain.contract})${note}`,
      );
      if (opts.api !== undefined) await checkFreshness(chain, opts.rpc, bundle, opts.api, i, checked.length);
    }
  } finally {
    for (const chain of chains.values()) chain.close();
  }
}

function isV2(value: unknown): boolean {
  return (
    typeof value === 'object' && value !== null && (value as { format?: unknown }).format === BUNDLE_FORMAT_V2
  );
}

/** A v2 bundle's state root must be the one the chain logged for its batch. */
async function checkStateOnChain(
  chain: AnchorChain,
  bundle: ProofBundleV2,
  index: number,
  count: number,
): Promise<void> {
  const logged = await chain.findStateRoot(bundle.state.batchId, bundle.anchor.blockNumber ?? undefined);
  if (logged === null || logged.stateRoot !== bundle.state.stateRoot.toLowerCase()) {
    throw failure(
      'state_mismatch',
      logged === null
        ? `no state root is anchored for batch ${bundle.state.batchId}`
        : `the state root anchored for batch ${bundle.state.batchId} is ${logged.stateRoot}, not the bundle's`,
      bundle,
      index,
      count,
    );
  }
}

/**
 * Asks the chain for its latest anchored state root and the service (untrusted) for the record's
 * state proof under it. Prints `current as of batch N (block B, time)`; a later event is
 * `superseded: <type> at seq k in batch M` (exit EXIT_SUPERSEDED); anything else, including an
 * older, forged or withheld proof, is "could not confirm freshness" (exit 1), never current.
 */
async function checkFreshness(
  chain: AnchorChain,
  rpcUrl: string,
  bundle: ProofBundleV1,
  api: string,
  index: number,
  count: number,
): Promise<void> {
  const client = new ApiClient(api.replace(/\/+$/, ''));
  const report = await freshnessOnChain(chain, bundle, (batchId) =>
    client.stateProof(bundle.recordId, batchId),
  );
  const which = whichBundle(bundle, index, count);
  if (report.status === 'unconfirmed') {
    throw new CliError(`could not confirm freshness: ${which}${report.reason}`);
  }
  if (report.status === 'current') {
    const at = report.anchoredAt!;
    const time = await blockTime(rpcUrl, at.blockNumber);
    println(`current as of batch ${report.batchId} (block ${at.blockNumber}, ${time})`);
    return;
  }
  // The directory proved seq k's leaf; the service's bundle for seq k names its type and batch, and
  // counts only if its leaf is that proven leaf (the leaf commits to the content, type included).
  const { seq, leaf } = report.value;
  let later: ProofBundleV1 | undefined;
  try {
    const { bundles } = await client.proofs(bundle.recordId);
    const found = bundles.find((b) => b.seq === seq);
    const verdict = found ? verifyBundle(found) : null;
    if (verdict?.valid && verdict.bundle.leaf === leaf) later = verdict.bundle;
  } catch {
    // The supersession is proven already; only its description is missing.
  }
  const type = later ? printable(String(later.content.type)) : 'an event the service did not show';
  const where = later?.batchId ? ` in batch ${later.batchId}` : ` by batch ${report.batchId}`;
  throw new CliError(`superseded: ${type} at seq ${seq}${where}`, EXIT_SUPERSEDED);
}

async function blockTime(rpcUrl: string, blockNumber: number): Promise<string> {
  const provider = openRpcProvider(rpcUrl, { timeoutMs: DEFAULT_RPC_TIMEOUT_MS });
  try {
    const block = await provider.getBlock(blockNumber);
    return block ? new Date(block.timestamp * 1000).toISOString() : 'time unknown';
  } catch {
    return 'time unknown';
  } finally {
    provider.destroy();
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
  code: BundleFailure | ChainFailure | 'state_mismatch',
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
