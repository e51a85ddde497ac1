/**
 * The verification page's one script (bundled by browser-bundle.ts, served with its sha256 in the
 * CSP): checks, in the visitor's browser and without trusting the service, the record's state
 * proof against the chain through PUBLIC_RPC_URL. It reads the chain's latest batch with a state
 * root (nextBatchId at the head block, then that batch's StateRootAnchored log found by its
 * indexed id; the service's block hint only narrows the first search), asks the service for the
 * proof under exactly that batch, and lets the core judge it (browser-verdict.ts). It writes its
 * answer into #browser-check beside the server's verdict; without JavaScript the page is as served.
 */
import type { DirectoryValue } from '../../core/directory/value.ts';
import type { Hex } from '../../core/hex.ts';
import { keccak256Hex, utf8 } from '../../core/keccak.ts';
import { judgeStateProof, type BrowserOutcome, type ChainState, type PageClaim } from './browser-verdict.ts';

/** The few DOM members used (the project compiles against Node's types, not the DOM's). */
interface Element {
  hidden: boolean;
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  querySelector(selector: string): Element | null;
}
declare const document: { getElementById(id: string): Element | null };
declare const performance: { now(): number };

const NEXT_BATCH_ID = keccak256Hex(utf8('nextBatchId()')).slice(0, 10);
const STATE_ROOT_ANCHORED = keccak256Hex(utf8('StateRootAnchored(uint64,bytes32)'));

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  let body: { result?: unknown; error?: { message?: string } };
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (err) {
    throw new Error(`the chain's RPC is unreachable (${(err as Error).message})`);
  }
  if (body.error) throw new Error(`the chain's RPC refused ${method}: ${body.error.message ?? 'error'}`);
  return body.result;
}

const quantity = (n: number) => `0x${n.toString(16)}`;
const uint = (hex: unknown): number => {
  if (typeof hex !== 'string' || !/^0x[0-9a-f]+$/i.test(hex)) throw new Error('the RPC answered no number');
  return Number(BigInt(hex));
};

/** The latest batch with a state root, as of the chain's head, read only from the chain. */
async function readChain(
  url: string,
  contract: string,
  askBatch: (batchId: number) => Promise<unknown>,
): Promise<{ chain: ChainState; answer: unknown }> {
  const [chainId, head] = (
    await Promise.all([rpc(url, 'eth_chainId', []), rpc(url, 'eth_blockNumber', [])])
  ).map(uint) as [number, number];
  const next = uint(await rpc(url, 'eth_call', [{ to: contract, data: NEXT_BATCH_ID }, quantity(head)]));
  const batchId = next - 1;
  if (batchId < 1) throw new Error('no batch is anchored on the registry yet');
  // The service's answer is untrusted; its anchor block only says where to look first.
  const answer = await askBatch(batchId).catch(() => null);
  const blockHint = (answer as { anchor?: { blockNumber?: unknown } } | null)?.anchor?.blockNumber;
  const topics = [STATE_ROOT_ANCHORED, `0x${batchId.toString(16).padStart(64, '0')}`];
  const logsFrom = async (from: number) =>
    (await rpc(url, 'eth_getLogs', [
      { address: contract, topics, fromBlock: quantity(from), toBlock: quantity(head) },
    ])) as {
      data?: string;
      removed?: boolean;
    }[];
  const hinted =
    typeof blockHint === 'number' && Number.isSafeInteger(blockHint) && blockHint >= 0 && blockHint <= head;
  let logs = hinted ? await logsFrom(blockHint) : [];
  if (logs.length === 0) logs = await logsFrom(0);
  const roots = new Set(logs.filter((l) => !l.removed).map((l) => l.data?.toLowerCase()));
  if (roots.size !== 1)
    throw new Error(`batch ${batchId}, the latest anchored, has no single state root on chain`);
  const stateRoot = [...roots][0] as Hex;
  if (!/^0x[0-9a-f]{64}$/.test(stateRoot)) throw new Error('the StateRootAnchored log is malformed');
  return { chain: { chainId, block: head, batchId, stateRoot }, answer };
}

function state(value: DirectoryValue | null): { zh: string; en: string } {
  if (value === null) return { zh: '链上尚无此商品', en: 'the item is not on chain yet' };
  const word = value.ended ? { zh: '已终止', en: 'ended' } : { zh: '有效', en: 'active' };
  return { zh: `最新事件 #${value.seq}，${word.zh}`, en: `latest event #${value.seq}, ${word.en}` };
}

function words(result: BrowserOutcome, chain: ChainState | null, name: string): { zh: string; en: string } {
  const at = chain
    ? { zh: `链 ${name} 区块 ${chain.block}`, en: `chain ${name} at block ${chain.block}` }
    : null;
  switch (result.outcome) {
    case 'verified':
    case 'behind': {
      const s = state(result.value);
      const later =
        result.outcome === 'behind'
          ? { zh: '；之后的事件尚未上链', en: '; later events are not anchored yet' }
          : { zh: '', en: '' };
      return {
        zh: `本浏览器已对照${at!.zh}验证：${s.zh}${later.zh}`,
        en: `verified by this browser against ${at!.en}: ${s.en}${later.en}`,
      };
    }
    case 'disagrees':
      return {
        zh: `本浏览器对照${at!.zh}的结果与上方结论不符：${state(result.value).zh}`,
        en: `this browser's check against ${at!.en} contradicts the verdict above: ${result.reason}`,
      };
    case 'unavailable':
      return {
        zh: '本浏览器无法独立核对，上方结论仅为服务方所述',
        en: `this browser could not check: ${result.reason}`,
      };
  }
}

async function main(): Promise<void> {
  const box = document.getElementById('browser-check');
  if (!box) return;
  const started = performance.now();
  const d = box.dataset;
  const claim: PageClaim = { recordId: d.record ?? '', verdict: d.verdict ?? '', headSeq: Number(d.headSeq) };
  const name = d.chainName ?? d.chainId ?? '?';
  const out = box.querySelector('.check-result');
  box.hidden = false;
  let result: BrowserOutcome;
  let chain: ChainState | null = null;
  try {
    const read = await readChain(d.rpc ?? '', d.contract ?? '', async (batchId) => {
      const res = await fetch(
        `/v1/records/${encodeURIComponent(claim.recordId)}/state-proof?batch=${batchId}`,
      );
      return res.ok ? res.json() : null;
    });
    chain = read.chain;
    const judging = performance.now();
    result =
      String(chain.chainId) !== d.chainId
        ? { outcome: 'unavailable', reason: `the RPC serves chain ${chain.chainId}, not ${d.chainId}` }
        : read.answer === null
          ? { outcome: 'unavailable', reason: `the service gave no state proof for batch ${chain.batchId}` }
          : judgeStateProof(claim, chain, read.answer);
    box.dataset.verifyMs = (performance.now() - judging).toFixed(1);
  } catch (err) {
    result = { outcome: 'unavailable', reason: (err as Error).message };
  }
  const text = words(result, chain, name);
  box.dataset.outcome = result.outcome;
  const now = performance.now();
  box.dataset.ms = String(Math.round(now - started));
  box.dataset.sinceNavigation = String(Math.round(now)); // page, script and WebAssembly loading included
  if (out) out.textContent = `${text.zh}\n${text.en}`;
}

void main();
