/**
 * `proofmark audit`: every BatchAnchored event on chain against what the service publishes. Each
 * batch's root is rebuilt from the service's leaves with the core and compared with the event.
 */
import { MerkleTree, NODE_SIZE, ZERO32, type Hex } from '../../core/index.ts';
import {
  connectRegistry,
  LOG_WINDOW_BLOCKS,
  type AnchorChain,
  type AnchorEvent,
} from '../../chain/registry.ts';
import { DEFAULT_RPC_TIMEOUT_MS } from '../../chain/rpc-provider.ts';
import { ApiClient } from '../../client/client.ts';
import { ApiError } from '../../client/errors.ts';
import type { Batch } from '../../client/types.ts';
import { apiBase } from '../api-options.ts';
import { CliError, errorMessage, printJson, println, progress } from '../output.ts';

export interface AuditOptions {
  api: string;
  rpc: string;
  contract: string;
  json?: boolean;
  fromBlock: number;
}

const PAGE_SIZE = 1000;
const DOWNLOADS_IN_PARALLEL = 4;
/** A contract that is not an AnchorRegistry could claim any nextBatchId: list this many gaps at most. */
const MAX_GAPS_LISTED = 10_000;

export interface Mismatch {
  batchId: number;
  /** root: rebuilt from the leaves; leafCount: leaves served; listedRoot: the root in GET /v1/batches. */
  field: 'root' | 'leafCount' | 'listedRoot' | 'leaves';
  chain: string | number;
  service: string | number;
}

export interface AuditReport {
  ok: boolean;
  chain: { chainId: number; contract: Hex; fromBlock: number; toBlock: number; nextBatchId: number };
  api: string;
  batchesOnChain: number;
  batchesAtService: number;
  rootsMatched: number;
  /** Anchored on chain; the service has no leaves for them. */
  missingAtService: number[];
  /** Anchored or final at the service; no root on chain. */
  missingOnChain: Array<{ batchId: number; status: string }>;
  mismatches: Mismatch[];
  /** Batch ids below nextBatchId with no BatchAnchored event in the scanned range. */
  gaps: number[];
}

export async function auditCommand(opts: AuditOptions): Promise<void> {
  const api = new ApiClient(apiBase({ api: opts.api }));
  let chain: AnchorChain;
  try {
    chain = await connectRegistry({
      rpcUrl: opts.rpc,
      contract: opts.contract,
      rpcTimeoutMs: DEFAULT_RPC_TIMEOUT_MS,
    });
  } catch (err) {
    throw new CliError(`cannot read contract ${opts.contract} through ${opts.rpc}: ${errorMessage(err)}`, 1, {
      cause: err,
    });
  }
  let report: AuditReport;
  try {
    report = await audit(chain, api, opts.fromBlock);
  } finally {
    chain.close();
  }
  if (opts.json) printJson(report);
  else printSummary(report);
  const problems = countProblems(report);
  if (problems > 0) throw new CliError(`audit found ${problems} problem${problems === 1 ? '' : 's'}`);
}

async function audit(chain: AnchorChain, api: ApiClient, fromBlock: number): Promise<AuditReport> {
  // nextBatchId before the head: every id below it was anchored at or before the head read next.
  const nextBatchId = await chain.nextBatchId();
  const toBlock = await chain.headNumber();
  const events = await scanEvents(chain, fromBlock, toBlock);
  const serviceBatches = await listServiceBatches(api);

  const onChain = new Map<number, AnchorEvent>();
  for (const e of events) onChain.set(e.batchId, e);
  const atService = new Map(serviceBatches.map((b) => [b.id, b]));

  const missingAtService: number[] = [];
  const mismatches: Mismatch[] = [];
  let rootsMatched = 0;
  const ids = [...onChain.keys()].sort((a, b) => a - b);
  const bar = progress('checking batches', ids.length);
  let done = 0;
  await forEachLimited(ids, DOWNLOADS_IN_PARALLEL, async (batchId) => {
    const event = onChain.get(batchId)!;
    const leaves = await leavesOf(api, batchId);
    bar.update(++done);
    if (leaves === null) {
      missingAtService.push(batchId);
      return;
    }
    const found = compareBatch(event, leaves, atService.get(batchId));
    if (found.length === 0) rootsMatched++;
    mismatches.push(...found);
  });
  bar.finish();

  const missingOnChain: AuditReport['missingOnChain'] = [];
  for (const batch of serviceBatches) {
    if ((batch.status !== 'anchored' && batch.status !== 'final') || onChain.has(batch.id)) continue;
    // Outside the scanned blocks (--from-block, or anchored after the head was read) is not missing.
    if ((await chain.rootOf(batch.id)) === ZERO32)
      missingOnChain.push({ batchId: batch.id, status: batch.status });
  }

  // The contract hands out ids 1, 2, 3...: every id below nextBatchId has an event. With --from-block
  // the ids anchored before it are out of range, so gaps are counted from the first id seen.
  const gaps: number[] = [];
  const firstId = fromBlock === 0 ? 1 : (ids[0] ?? nextBatchId);
  for (let id = firstId; id < nextBatchId && gaps.length < MAX_GAPS_LISTED; id++) {
    if (!onChain.has(id)) gaps.push(id);
  }

  missingAtService.sort((a, b) => a - b);
  mismatches.sort((a, b) => a.batchId - b.batchId);
  const report: AuditReport = {
    ok: false,
    chain: { chainId: chain.chainId, contract: chain.contract, fromBlock, toBlock, nextBatchId },
    api: api.base,
    batchesOnChain: onChain.size,
    batchesAtService: serviceBatches.length,
    rootsMatched,
    missingAtService,
    missingOnChain,
    mismatches,
    gaps,
  };
  report.ok = countProblems(report) === 0;
  return report;
}

/** The batch's leaves as the service serves them; null when it has no such batch. */
async function leavesOf(api: ApiClient, batchId: number): Promise<Uint8Array | null> {
  try {
    return await api.batchLeaves(batchId);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

function compareBatch(event: AnchorEvent, leaves: Uint8Array, listed: Batch | undefined): Mismatch[] {
  const batchId = event.batchId;
  const out: Mismatch[] = [];
  if (listed && listed.root.toLowerCase() !== event.root) {
    out.push({ batchId, field: 'listedRoot', chain: event.root, service: listed.root });
  }
  if (leaves.length % NODE_SIZE !== 0 || leaves.length === 0) {
    out.push({ batchId, field: 'leaves', chain: event.leafCount, service: `${leaves.length} bytes` });
    return out;
  }
  const leafCount = leaves.length / NODE_SIZE;
  if (leafCount !== event.leafCount)
    out.push({ batchId, field: 'leafCount', chain: event.leafCount, service: leafCount });
  const rebuilt = MerkleTree.fromPacked(leaves).root;
  if (rebuilt !== event.root) out.push({ batchId, field: 'root', chain: event.root, service: rebuilt });
  return out;
}

async function scanEvents(chain: AnchorChain, fromBlock: number, toBlock: number): Promise<AnchorEvent[]> {
  const events: AnchorEvent[] = [];
  const total = Math.max(0, toBlock - fromBlock + 1);
  const bar = progress('reading chain', total);
  for (let start = fromBlock; start <= toBlock; start += LOG_WINDOW_BLOCKS) {
    const end = Math.min(toBlock, start + LOG_WINDOW_BLOCKS - 1);
    try {
      events.push(...(await chain.anchorEvents(start, end)));
    } catch (err) {
      throw new CliError(
        `cannot read BatchAnchored events in blocks ${start}..${end}: ${errorMessage(err)}`,
        1,
        {
          cause: err,
        },
      );
    }
    bar.update(end - fromBlock + 1, `block ${end}/${toBlock}`);
  }
  bar.finish();
  return events;
}

async function listServiceBatches(api: ApiClient): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let after: number | null = 0; after !== null;) {
    const page = await api.batches({ after, limit: PAGE_SIZE });
    if (!Array.isArray(page.batches)) throw new CliError('GET /v1/batches returned no batches array');
    out.push(...page.batches);
    if (page.next !== null && page.next <= after)
      throw new CliError('GET /v1/batches paging does not advance');
    after = page.next;
  }
  return out;
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function countProblems(r: AuditReport): number {
  return r.missingAtService.length + r.missingOnChain.length + r.mismatches.length + r.gaps.length;
}

const FIELD_TEXT: Record<Mismatch['field'], string> = {
  root: 'root mismatch: on chain %c, rebuilt from the service leaves %s',
  leafCount: 'leaf count mismatch: on chain %c, the service serves %s leaves',
  listedRoot: 'root mismatch: on chain %c, the service lists %s',
  leaves: 'bad leaves: on chain %c leaves, the service serves %s',
};

function printSummary(r: AuditReport): void {
  println(
    `audit of ${r.chain.contract} on chain ${r.chain.chainId}, blocks ${r.chain.fromBlock}..${r.chain.toBlock}, ` +
      `against ${r.api}`,
  );
  println(`  batches on chain:    ${r.batchesOnChain} (next batch id ${r.chain.nextBatchId})`);
  println(`  batches at service:  ${r.batchesAtService}`);
  println(`  roots rebuilt:       ${r.rootsMatched} match`);
  if (r.ok) {
    println('ok: every anchored batch matches the service');
    return;
  }
  println('problems:');
  for (const id of r.missingAtService)
    println(`  batch ${id}: missing at the service (anchored on chain, no leaves served)`);
  for (const m of r.missingOnChain)
    println(`  batch ${m.batchId}: missing on chain (${m.status} at the service)`);
  for (const m of r.mismatches) {
    println(
      `  batch ${m.batchId}: ${FIELD_TEXT[m.field].replace('%c', String(m.chain)).replace('%s', String(m.service))}`,
    );
  }
  if (r.gaps.length > 0) println(`  gaps in the chain's batch ids: ${r.gaps.join(', ')}`);
}
