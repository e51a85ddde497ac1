/**
 * The JSON-RPC provider every chain client uses, with RPC failures told in words an operator can act
 * on: they reach GET /healthz and the log.
 */
import {
  FetchRequest,
  isError,
  type ErrorCode,
  JsonRpcProvider,
  type JsonRpcError,
  type JsonRpcPayload,
  type JsonRpcResult,
} from 'ethers';

/** The anchorer account cannot pay for an anchor transaction: nothing anchors until it is funded. */
export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError';
}

/**
 * What a node's refusal of a signed transaction (eth_sendRawTransaction) suggests about it. Only a
 * hint: the anchorer decides from the chain's state (the transaction by hash, the account's nonces,
 * the receipt, the contract's next id) and reads these only where the state cannot tell.
 * - already-known: the node already holds this very transaction, so the send did what it was for;
 * - nonce-used: a transaction at its nonce is mined already (ours or another holder's of the key);
 * - fee-too-low: its fees do not meet the node's minimum or the base fee, or do not outbid the
 *   transaction that holds its nonce in the pool: as signed, it does not get in;
 * - insufficient-funds: the sending account cannot pay for it.
 */
export type NodeRefusal = 'already-known' | 'nonce-used' | 'fee-too-low' | 'insufficient-funds';

/**
 * How nodes word each refusal, matched against the error's message (ethers keeps the node's own words
 * in it), case-insensitively, first match wins. A node's new wording is one more line here, and one
 * row in test/batcher/decide.test.ts. Sources: each node's own answers (anvil 1.7.1 and Hardhat 2
 * measured here), and the per-node tables of Chainlink's transaction manager
 * (core/chains/evm/client/errors.go) for the others.
 */
const REFUSAL_WORDINGS: ReadonlyArray<readonly [RegExp, NodeRefusal]> = [
  // Duplicates: the node holds the transaction already.
  [/already known/i, 'already-known'], // geth, reth, erigon
  [/transaction already imported/i, 'already-known'], // anvil (-32003)
  [/\bknown transaction\b/i, 'already-known'], // Besu, Hardhat ("Known transaction: 0x…")
  [/existing txn? with same hash/i, 'already-known'], // erigon
  [/\bAlreadyKnown\b/, 'already-known'], // Nethermind (older)
  [/same hash was already imported/i, 'already-known'], // OpenEthereum, Arbitrum Classic
  // Insufficient funds, before the nonce and fee rules: some nodes mention the fee in the same words.
  [/insufficient ?funds/i, 'insufficient-funds'], // geth, reth, anvil, Nethermind (InsufficientFunds), OpenEthereum
  [/doesn't have enough funds/i, 'insufficient-funds'], // Hardhat
  [/upfront cost exceeds account balance/i, 'insufficient-funds'], // Besu
  [/insufficient balance for transaction/i, 'insufficient-funds'], // OpenEthereum
  [/not enough funds for gas/i, 'insufficient-funds'], // Arbitrum
  // The nonce is used.
  [/nonce (is )?too low/i, 'nonce-used'], // geth, reth, erigon, anvil, Besu, Hardhat, OpenEthereum
  [/\bOldNonce\b/, 'nonce-used'], // Nethermind
  [/invalid transaction nonce/i, 'nonce-used'], // Arbitrum
  [/nonce has already been used/i, 'nonce-used'], // ethers' NONCE_EXPIRED
  // The fees are too low to get in.
  [/underpriced/i, 'fee-too-low'], // geth, anvil, Besu, Hardhat: (replacement) transaction underpriced
  [/\bFeeTooLow/, 'fee-too-low'], // Nethermind (FeeTooLow, FeeTooLowToCompete)
  [/gas price below (configured )?minimum/i, 'fee-too-low'], // erigon, Besu
  [/max fee per gas less than block base fee/i, 'fee-too-low'], // geth, anvil, Arbitrum
  [/gas price (is )?too low/i, 'fee-too-low'], // OpenEthereum, Arbitrum
  [/replacement fee too low/i, 'fee-too-low'], // ethers' REPLACEMENT_UNDERPRICED
];

/** ethers' own codes for the same refusals, for the wordings it recognises and rewrites. */
const REFUSAL_CODES: ReadonlyArray<readonly [ErrorCode, NodeRefusal]> = [
  ['INSUFFICIENT_FUNDS', 'insufficient-funds'],
  ['NONCE_EXPIRED', 'nonce-used'],
  ['REPLACEMENT_UNDERPRICED', 'fee-too-low'],
];

/**
 * What a failed eth_sendRawTransaction says about the transaction, or null when it says nothing (the
 * RPC unreachable, slow or rate limiting, or an answer in words not listed above).
 */
export function classifyRefusal(err: unknown): NodeRefusal | null {
  const message = String((err as Error)?.message ?? err);
  for (const [wording, refusal] of REFUSAL_WORDINGS) if (wording.test(message)) return refusal;
  for (const [code, refusal] of REFUSAL_CODES) if (isError(err, code)) return refusal;
  return null;
}

/** The sending account cannot pay for the transaction, in any wording or code listed above. */
export function isInsufficientFunds(err: unknown): boolean {
  return classifyRefusal(err) === 'insufficient-funds';
}

/**
 * The kinds of RPC failure an operator tells apart (the metrics count failed steps by kind): no
 * connection, no answer in time, an HTTP error status, a JSON-RPC error answer, or a refusal of a
 * transaction as classified above; 'other' for anything else.
 */
export type RpcErrorKind = 'unreachable' | 'timeout' | 'http' | 'rpc-error' | NodeRefusal | 'other';

/** A failed RPC request, told plainly (see PlainErrorProvider), with its kind. */
export class RpcRequestError extends Error {
  constructor(
    message: string,
    readonly kind: Exclude<RpcErrorKind, NodeRefusal | 'other'>,
    options: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Which kind of RPC failure `err` is, looking through its causes. */
export function rpcErrorKind(err: unknown): RpcErrorKind {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof RpcRequestError) return e.kind;
  }
  return classifyRefusal(err) ?? 'other';
}

/**
 * ethers' provider with RPC failures told plainly (they reach GET /healthz and the log): ethers takes
 * any JSON-RPC error to eth_call for a contract revert ("missing revert data"), wraps other unknown
 * ones as "could not coalesce error" around the whole payload, and puts the RPC URL, which may hold
 * an API key, into HTTP errors.
 */
class PlainErrorProvider extends JsonRpcProvider {
  override getRpcError(payload: JsonRpcPayload, response: JsonRpcError): Error {
    const error = super.getRpcError(payload, response);
    const notARevert = isError(error, 'CALL_EXCEPTION') && error.data === null && !('data' in response.error);
    if (!isError(error, 'UNKNOWN_ERROR') && !notARevert) return error;
    const { code, message } = response.error;
    return new RpcRequestError(
      `RPC error ${code} on ${payload.method}: ${message ?? 'no message'}`,
      'rpc-error',
      {
        cause: error,
      },
    );
  }

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    try {
      return await super._send(payload);
    } catch (err) {
      const info = (err as { info?: { responseStatus?: string } }).info;
      if (isError(err, 'SERVER_ERROR') && info?.responseStatus) {
        throw new RpcRequestError(`RPC answered HTTP ${info.responseStatus}`, 'http', { cause: err });
      }
      if (isError(err, 'TIMEOUT')) {
        throw new RpcRequestError(
          `RPC request timed out after ${this._getConnection().timeout} ms`,
          'timeout',
          {
            cause: err,
          },
        );
      }
      if ((err as NodeJS.ErrnoException).syscall) {
        throw new RpcRequestError(`RPC unreachable: ${(err as Error).message}`, 'unreachable', {
          cause: err,
        });
      }
      throw err;
    }
  }
}

/** What the CLI waits for one JSON-RPC answer (the service's own is RPC_TIMEOUT_MS, also 30 s by default). */
export const DEFAULT_RPC_TIMEOUT_MS = 30_000;

/**
 * No response cache (a cached nonce or block number right after a mined transaction is stale) and,
 * with `timeoutMs`, a bound on each request (ethers' own default is 5 minutes).
 */
export function openRpcProvider(url: string, opts: { pollMs?: number; timeoutMs?: number }): JsonRpcProvider {
  const connection = new FetchRequest(url);
  if (opts.timeoutMs !== undefined) connection.timeout = opts.timeoutMs;
  return new PlainErrorProvider(connection, undefined, {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: opts.pollMs ?? 1000,
  });
}
